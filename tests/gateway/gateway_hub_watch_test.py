#!/usr/bin/env python3
"""berth-gateway fed by the hub's API (list, then watch): a stand-in hub serving
GET /apis/berth.dev/v1alpha1/workspaces and its ?watch=true stream on loopback (plain
HTTP, the same RestClient and kubeconfig path as against berth-hub), a real HAProxy and
two upstreams. Checks that the list routes, that watch events (MODIFIED → Draining,
ADDED, DELETED) reach HAProxy, and that an ERROR 410 makes berth-gateway re-list."""
import http.server
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gateway_e2e_test as e2e  # noqa: E402  (helpers: ports, runtime API, requests)

PATH = "/apis/berth.dev/v1alpha1/workspaces"


class FakeHub:
    """Serves a list (self.items at self.rv) and one watch stream at a time from a queue."""

    def __init__(self):
        self.items = []
        self.rv = 5
        self.events = queue.Queue()
        self.lists = 0
        self.watch_queries = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.headers.get("Authorization") != "Bearer gateway-token":
                    self.send_error(401)
                    return
                path, _, query = self.path.partition("?")
                if path != PATH:
                    self.send_error(404)
                    return
                if "watch=true" in query:
                    hub.watch_queries.append(query)
                    self.stream()
                    return
                hub.lists += 1
                body = json.dumps({"apiVersion": "berth.dev/v1alpha1", "kind": "WorkspaceList",
                                   "metadata": {"resourceVersion": str(hub.rv)},
                                   "items": hub.items}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def chunk(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def stream(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    while True:
                        try:
                            event = hub.events.get(timeout=0.5)
                        except queue.Empty:
                            continue
                        if event is None:  # end this stream
                            self.chunk(b"")
                            return
                        self.chunk(json.dumps(event).encode() + b"\n")
                        if event["type"] == "ERROR":
                            self.wfile.write(b"0\r\n\r\n")
                            return
                except OSError:
                    return

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def send(self, event_type, obj):
        self.rv += 1
        obj = json.loads(json.dumps(obj))
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.events.put({"type": event_type, "object": obj})


def main():
    tmp = tempfile.mkdtemp(prefix="berth-gateway-hub-")
    state_dir = os.path.join(tmp, "state")
    sock = os.path.join(state_dir, "haproxy.sock")
    listen, catalog = e2e.free_port(), e2e.free_port()
    u = {name: e2e.free_port() for name in ("u1", "u2")}
    for name, port in u.items():
        e2e.start_upstream(port, name)
    hub = FakeHub()
    alpha = e2e.workspace("ml", "alpha", ["model-a"],
                          [e2e.endpoint("c1", u["u1"]), e2e.endpoint("c2", u["u2"])])
    hub.items = [alpha]
    kubeconfig = os.path.join(tmp, "hub.kubeconfig")
    with open(kubeconfig, "w") as f:
        f.write("apiVersion: v1\nkind: Config\n"
                "clusters:\n- name: hub\n  cluster: {server: 'http://127.0.0.1:%d'}\n"
                "users:\n- name: gateway\n  user: {token: gateway-token}\n"
                "contexts:\n- name: hub\n  context: {cluster: hub, user: gateway}\n"
                "current-context: hub\n" % hub.port)
    gateway = subprocess.Popen(
        [os.path.join(e2e.BIN, "berth-gateway"), "--kubeconfig", kubeconfig,
         "--state-dir", state_dir, "--haproxy", e2e.HAPROXY,
         "--listen", "127.0.0.1:%d" % listen, "--catalog-listen", "127.0.0.1:%d" % catalog,
         "--check-interval-ms", "300", "--check-fall", "2", "--check-rise", "1", "--resync", "1"],
        stdout=open(os.path.join(tmp, "gateway.log"), "w"), stderr=subprocess.STDOUT)
    e2e.procs.append(gateway)
    try:
        e2e.wait_for("model-a from the list", lambda: e2e.chat(listen, "model-a")[0] == 200)
        e2e.wait_for("a watch from the list's resourceVersion",
                     lambda: any("resourceVersion=5" in q for q in hub.watch_queries))
        print("ok: listed, routed, watching from resourceVersion 5")

        drained = e2e.workspace("ml", "alpha", ["model-a"],
                                [e2e.endpoint("c1", u["u1"]), e2e.endpoint("c2", u["u2"], "Draining", 0)])
        hub.send("MODIFIED", drained)
        e2e.wait_for("c2 draining", lambda: any(k[1] == "c2_ml_alpha" and v[3] & 8
                                                for k, v in e2e.servers_state(sock).items()))
        counts = Counter(e2e.chat(listen, "model-a")[1]["server"] for _ in range(20))
        assert counts == Counter({"u1": 20}), counts
        print("ok: a MODIFIED event drains an endpoint")

        beta = e2e.workspace("ml", "beta", ["model-b"], [e2e.endpoint("c1", u["u2"])])
        hub.send("ADDED", beta)
        e2e.wait_for("model-b added", lambda: e2e.served_by(e2e.chat(listen, "model-b")) == "u2")
        hub.send("DELETED", beta)
        e2e.wait_for("model-b deleted", lambda: e2e.chat(listen, "model-b")[0] == 404)
        print("ok: ADDED and DELETED events add and remove a model")

        # The watch expires: berth-gateway re-lists and takes the list as the truth.
        lists_before = hub.lists
        hub.items = [e2e.workspace("ml", "gamma", ["model-g"], [e2e.endpoint("c1", u["u1"])])]
        hub.rv += 10
        hub.events.put({"type": "ERROR", "object": {"kind": "Status", "code": 410,
                                                    "reason": "Expired", "message": "too old"}})
        e2e.wait_for("re-list", lambda: hub.lists > lists_before)
        e2e.wait_for("model-g routed", lambda: e2e.chat(listen, "model-g")[0] == 200)
        e2e.wait_for("model-a gone", lambda: e2e.chat(listen, "model-a")[0] == 404)
        print("ok: a 410 re-lists and converges on the list")

        gateway.send_signal(signal.SIGTERM)
        hub.events.put(None)
        assert gateway.wait(timeout=15) == 0, "berth-gateway exit code %d" % gateway.returncode
        print("PASS")
    except BaseException:
        with open(os.path.join(tmp, "gateway.log")) as f:
            sys.stderr.write("---- gateway.log (tail) ----\n" + f.read()[-6000:])
        raise
    finally:
        for p in e2e.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        hub.server.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
