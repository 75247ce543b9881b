#!/usr/bin/env python3
"""berth-gateway end to end, on loopback: berth-gateway starts a real HAProxy, four small
upstream servers stand in for cluster endpoints, and the routes come from an endpoints
file this test rewrites. Checks routing (body model, path prefix, Host), weights,
draining, retry on a dead upstream, address change, removal, an unknown and a missing
model, /v1/models, metrics, and that HAProxy is never reloaded or restarted (same pid,
from `show info` and from the process table). Every process is killed at the end."""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from haproxy_runtime import runtime  # noqa: E402
BIN = os.environ.get("BERTH_BIN_DIR", "build/bin")
HAPROXY = os.environ.get("HAPROXY", "/usr/sbin/haproxy")

procs = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def servers_state(sock_path):
    """{(backend, server): (addr, port, op_state, admin_state, weight)}"""
    state = {}
    for line in runtime(sock_path, "show servers state").splitlines():
        w = line.split()
        if len(w) < 19 or line.startswith("#") or not w[1].startswith("berth_slot_"):
            continue
        state[(w[1], w[3])] = (w[4], int(w[18]), int(w[5]), int(w[6]), int(w[7]))
    return state


def wait_for(what, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (OSError, ValueError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def request(port, path, body=None, headers=None, method=None, tls=False):
    data = None if body is None else json.dumps(body).encode()
    scheme = "https" if tls else "http"
    req = urllib.request.Request("%s://127.0.0.1:%d%s" % (scheme, port, path), data=data,
                                 headers=dict(headers or {}), method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    context = ssl._create_unverified_context() if tls else None  # a throwaway self-signed cert
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def chat(port, model, path="/v1/chat/completions", headers=None, tls=False):
    body = {"messages": [{"role": "user", "content": "hi"}]}
    if model is not None:
        body["model"] = model
    return request(port, path, body, headers, tls=tls)


def served_by(result):
    """The upstream that answered (code, body), or None for an error answer."""
    code, body = result
    return body.get("server") if code == 200 and isinstance(body, dict) else None


def start_upstream(port, name):
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "upstream.py"), str(port), name])
    procs.append(p)
    return p


def workspace(ns, name, models, endpoints):
    return {"apiVersion": "berth.dev/v1alpha1", "kind": "Workspace",
            "metadata": {"namespace": ns, "name": name},
            "status": {"servedModels": models, "endpoints": endpoints}}


def endpoint(cluster, port, state="Serving", weight=10):
    return {"cluster": cluster, "url": "http://127.0.0.1:%d" % port, "state": state,
            "weight": weight, "readyReplicas": 1, "revision": 1}


def write_endpoints(path, workspaces):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(workspaces, f)
    os.replace(tmp, path)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def attached_to_a_user_run_haproxy(tmp, upstream_port):
    """`berth-gateway config` → the user runs HAProxy (here with TLS) → berth-gateway
    --haproxy-socket programs it without starting one of its own."""
    state_dir = os.path.join(tmp, "attach")
    os.makedirs(state_dir)
    pem = os.path.join(state_dir, "gateway.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", pem + ".key", "-out", pem + ".crt"],
                   check=True, capture_output=True)
    with open(pem, "w") as out:
        for part in (pem + ".crt", pem + ".key"):
            with open(part) as f:
                out.write(f.read())
    sock = os.path.join(state_dir, "user-haproxy.sock")
    listen, catalog = free_port(), free_port()
    flags = ["--state-dir", state_dir, "--haproxy-socket", sock, "--tls-cert", pem,
             "--listen", "127.0.0.1:%d" % listen, "--catalog-listen", "127.0.0.1:%d" % catalog,
             "--backend-slots", "4", "--check-interval-ms", "300", "--check-rise", "1"]
    config = subprocess.run([os.path.join(BIN, "berth-gateway"), "config"] + flags,
                            check=True, capture_output=True, text=True).stdout
    cfg = os.path.join(state_dir, "user-haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(config)
    open(os.path.join(state_dir, "models.map"), "w").close()
    haproxy = subprocess.Popen([HAPROXY, "-db", "-f", cfg], stdout=subprocess.DEVNULL,
                               stderr=open(os.path.join(state_dir, "haproxy.log"), "w"))
    procs.append(haproxy)
    wait_for("user haproxy", lambda: "Pid:" in runtime(sock, "show info"))
    endpoints_file = os.path.join(state_dir, "endpoints.yaml")
    with open(endpoints_file, "w") as f:
        f.write("apiVersion: v1\nkind: List\nitems:\n"
                "- metadata: {namespace: ml, name: gamma}\n"
                "  status:\n"
                "    servedModels: [model-g]\n"
                "    endpoints:\n"
                "    - {cluster: c9, url: 'http://127.0.0.1:%d', state: Serving, weight: 5}\n" % upstream_port)
    gateway = subprocess.Popen([os.path.join(BIN, "berth-gateway"), "--endpoints-file", endpoints_file] + flags,
                               stdout=open(os.path.join(state_dir, "gateway.log"), "w"), stderr=subprocess.STDOUT)
    procs.append(gateway)
    wait_for("model-g over TLS", lambda: chat(listen, "model-g", tls=True)[0] == 200)
    code, body = chat(listen, "model-g", tls=True)
    assert body["model"] == "model-g", body
    code, body = request(listen, "/v1/models", tls=True)
    assert code == 200 and [m["id"] for m in body["data"]] == ["model-g"], body

    # Five model names, four slots: the last one is answered 503 no_backend_slot, and said so.
    with open(endpoints_file + ".new", "w") as f:
        f.write("- metadata: {namespace: ml, name: gamma}\n"
                "  status:\n"
                "    servedModels: [model-g, s1, s2, s3, s4]\n"
                "    endpoints:\n"
                "    - {cluster: c9, url: 'http://127.0.0.1:%d', state: Serving, weight: 5}\n" % upstream_port)
    os.replace(endpoints_file + ".new", endpoints_file)
    wait_for("s3 routed", lambda: chat(listen, "s3", tls=True)[0] == 200)
    code, body = chat(listen, "s4", tls=True)
    assert code == 503 and body["error"]["code"] == "no_backend_slot", (code, body)
    assert chat(listen, "model-g", tls=True)[0] == 200
    with open(os.path.join(state_dir, "gateway.log")) as f:
        assert "no free backend slot for model s4" in f.read()
    gateway.send_signal(signal.SIGTERM)
    if gateway.wait(timeout=15) != 0:
        with open(os.path.join(state_dir, "gateway.log")) as f:
            sys.stderr.write("---- attached gateway.log (tail) ----\n" + f.read()[-6000:])
        raise AssertionError("berth-gateway exit code %d" % gateway.returncode)
    assert haproxy.poll() is None, "berth-gateway must leave a user-run HAProxy running"
    haproxy.kill()
    haproxy.wait()
    print("ok: attached to a user-run HAProxy (config from `berth-gateway config`, TLS); "
          "slot exhaustion answers 503 no_backend_slot")


HF_MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def alpha(endpoints):
    # A Hugging Face style name too: '/' in the map key, %2F in a path prefix.
    return workspace("ml", "alpha", ["model-a", HF_MODEL], endpoints)


def beta(endpoints):
    return workspace("ml", "beta", ["model-b", "model-b-adapter"], endpoints)


class Scenario:
    """berth-gateway with its own HAProxy, four upstreams, routes from an endpoints file."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.state_dir = os.path.join(tmp, "state")
        self.sock = os.path.join(self.state_dir, "haproxy.sock")
        self.endpoints_file = os.path.join(tmp, "endpoints.json")
        self.listen, self.catalog, self.metrics = free_port(), free_port(), free_port()
        self.u = {name: free_port() for name in ("u1", "u2", "u3", "u4")}
        self.upstreams = {name: start_upstream(port, name) for name, port in self.u.items()}

    def start(self):
        for name, port in self.u.items():
            wait_for("upstream " + name,
                     lambda port=port: socket.create_connection(("127.0.0.1", port), 1).close() is None)
        u = self.u
        write_endpoints(self.endpoints_file, [
            alpha([endpoint("c1", u["u1"], weight=10), endpoint("c2", u["u2"], weight=30)]),
            beta([endpoint("c1", u["u3"], weight=10)])])
        self.gateway = subprocess.Popen(
            [os.path.join(BIN, "berth-gateway"), "--endpoints-file", self.endpoints_file,
             "--state-dir", self.state_dir, "--haproxy", HAPROXY,
             "--listen", "127.0.0.1:%d" % self.listen, "--catalog-listen", "127.0.0.1:%d" % self.catalog,
             "--metrics-listen", "127.0.0.1:%d" % self.metrics, "--model-domain", "models.test",
             "--check-interval-ms", "300", "--check-fall", "2", "--check-rise", "1",
             "--resync", "1", "--log-level", "debug"],
            stdout=open(os.path.join(self.tmp, "gateway.log"), "w"), stderr=subprocess.STDOUT)
        procs.append(self.gateway)
        wait_for("haproxy runtime socket", lambda: "Pid:" in runtime(self.sock, "show info"))
        self.haproxy_pid = int(self.show_info_pid().split()[1])
        stat = self.proc_stat(self.haproxy_pid)
        assert int(stat[1]) == self.gateway.pid, "haproxy is not berth-gateway's child"
        self.haproxy_start = stat[19]

        def all_up(n):
            st = servers_state(self.sock)
            return len(st) == n and all(v[2] == 2 for v in st.values())
        # model-a and HF_MODEL: 2 servers each; model-b and model-b-adapter: 1 each.
        wait_for("6 servers up", lambda: all_up(6))
        print("ok: servers added and healthy:", sorted(servers_state(self.sock)))

    def show_info_pid(self):
        return [l for l in runtime(self.sock, "show info").splitlines() if l.startswith("Pid:")][0]

    @staticmethod
    def proc_stat(pid):
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()

    def assert_haproxy_unchanged(self):
        now = self.show_info_pid()
        assert now == "Pid: %d" % self.haproxy_pid, "HAProxy pid changed: " + now
        assert self.proc_stat(self.haproxy_pid)[19] == self.haproxy_start, "HAProxy restarted"

    def routes(self, alpha_endpoints, beta_endpoints=None):
        docs = [alpha(alpha_endpoints)]
        if beta_endpoints is not None:
            docs.append(beta(beta_endpoints))
        write_endpoints(self.endpoints_file, docs)

    def check_routing(self):
        listen = self.listen
        code, body = chat(listen, "model-b")
        assert code == 200 and body["server"] == "u3" and body["model"] == "model-b", body
        code, body = chat(listen, "model-b-adapter")
        assert code == 200 and body["server"] == "u3", body
        code, body = chat(listen, None, path="/models/model-b/v1/chat/completions")
        assert code == 200 and body["server"] == "u3" and body["path"] == "/v1/chat/completions", body
        code, body = chat(listen, "model-a", path="/models/model-b/v1/chat/completions")
        assert code == 200 and body["server"] == "u3", ("path prefix wins over the body", body)
        code, body = chat(listen, None, headers={"Host": "model-b.models.test"})
        assert code == 200 and body["server"] == "u3", body
        code, body = chat(listen, "model-a")
        assert code == 200 and body["server"] in ("u1", "u2"), body
        code, body = chat(listen, HF_MODEL)
        assert code == 200 and body["server"] in ("u1", "u2") and body["model"] == HF_MODEL, body
        code, body = chat(listen, None, path="/models/meta-llama%2FLlama-3.1-8B-Instruct/v1/chat/completions")
        assert code == 200 and body["server"] in ("u1", "u2") and body["path"] == "/v1/chat/completions", body
        print("ok: routing by body model, path prefix and Host")

        code, body = chat(listen, "no-such-model")
        assert code == 404 and body["error"]["code"] == "model_not_found", (code, body)
        assert "no-such-model" in body["error"]["message"], body
        code, body = chat(listen, None)
        assert code == 400 and body["error"]["type"] == "invalid_request_error", (code, body)
        code, body = request(listen, "/v1/models")
        assert code == 200 and [m["id"] for m in body["data"]] == [HF_MODEL, "model-a", "model-b", "model-b-adapter"], body
        print("ok: 404 unknown model, 400 missing model, GET /v1/models")

    def check_weights_and_metrics(self):
        counts = Counter(served_by(chat(self.listen, "model-a")) for _ in range(80))  # weights 10:30
        assert counts["u1"] > 0 and counts["u2"] > 2 * counts["u1"], counts
        print("ok: weights respected:", dict(counts))
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics, timeout=10) as r:
            prom = r.read().decode()
        assert 'haproxy_backend_http_requests_total{proxy="berth_slot_000"}' in prom, prom[:500]
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics/berth" % self.metrics, timeout=10) as r:
            berth = r.read().decode()
        assert 'berth_gateway_model_backend{model="model-a",proxy="berth_slot_' in berth, berth
        print("ok: metrics")

    def check_drain_and_retry(self):
        u, sock = self.u, self.sock

        def c2_admin():
            return [v[3] for k, v in servers_state(sock).items() if k[1] == "c2_ml_alpha"]
        self.routes([endpoint("c1", u["u1"], weight=10), endpoint("c2", u["u2"], "Draining", 0)],
                    [endpoint("c1", u["u3"], weight=10)])
        wait_for("c2 draining", lambda: c2_admin() == [8, 8])
        counts = Counter(served_by(chat(self.listen, "model-a")) for _ in range(30))
        assert counts == Counter({"u1": 30}), counts
        self.assert_haproxy_unchanged()
        print("ok: a Draining endpoint gets no new request")

        # Back to Serving, then kill u2: requests still succeed (retry + redispatch to u1).
        self.routes([endpoint("c1", u["u1"], weight=10), endpoint("c2", u["u2"], weight=30)],
                    [endpoint("c1", u["u3"], weight=10)])
        wait_for("c2 ready", lambda: c2_admin() == [0, 0])
        self.upstreams["u2"].kill()
        self.upstreams["u2"].wait()
        results = [chat(self.listen, "model-a") for _ in range(20)]
        assert all(served_by(r) == "u1" for r in results), results
        print("ok: a killed upstream costs no failed request")

    def check_removal_address_and_down(self):
        u, sock, listen = self.u, self.sock, self.listen
        self.routes([endpoint("c1", u["u1"], weight=10)], [endpoint("c1", u["u3"], weight=10)])
        wait_for("c2 deleted", lambda: not any(k[1] == "c2_ml_alpha" for k in servers_state(sock)))
        print("ok: a removed endpoint is deleted from HAProxy")

        # Address change of the same cluster endpoint: c1 of beta moves from u3 to u4.
        self.routes([endpoint("c1", u["u1"], weight=10)], [endpoint("c1", u["u4"], weight=10)])
        wait_for("beta on u4", lambda: served_by(chat(listen, "model-b")) == "u4")
        assert all(v[1] != u["u3"] for v in servers_state(sock).values())
        print("ok: an address change is applied in place")

        # A removed endpoint with a request in flight: maint at once (no new request), the
        # request finishes, and only then is the server deleted.
        slow = {}
        thread = threading.Thread(target=lambda: slow.update(result=request(
            listen, "/v1/chat/completions", {"model": "model-b", "sleep": 5})))
        thread.start()
        wait_for("the slow request in flight", lambda: any(
            line.split()[0].endswith("/c1_ml_beta") and int(line.split()[6]) > 0
            for line in runtime(sock, "show servers conn").splitlines()[1:] if line.strip()))
        self.routes([endpoint("c1", u["u1"], weight=10)], [endpoint("c2", u["u3"], weight=10)])
        wait_for("c1 of beta in maint", lambda: all(
            v[3] & 1 for k, v in servers_state(sock).items() if k[1] == "c1_ml_beta"))
        assert served_by(chat(listen, "model-b")) == "u3"
        assert thread.is_alive() and any(k[1] == "c1_ml_beta" for k in servers_state(sock))
        thread.join(timeout=15)
        assert served_by(slow["result"]) == "u4", slow
        wait_for("c1 of beta deleted", lambda: not any(k[1] == "c1_ml_beta" for k in servers_state(sock)))
        print("ok: a removed endpoint finishes its running request before it is deleted")

        # Every endpoint of a model Down: 503 in OpenAI's shape, with Retry-After.
        self.routes([endpoint("c1", u["u1"], weight=10)], [endpoint("c2", u["u3"], "Down", 0)])
        wait_for("model-b unavailable", lambda: chat(listen, "model-b")[0] == 503)
        code, body = chat(listen, "model-b")
        assert body["error"]["code"] == "model_unavailable", body
        print("ok: a model with every endpoint Down answers 503 model_unavailable")

        # A model no longer served: 404, its servers gone.
        self.routes([endpoint("c1", u["u1"], weight=10)])
        wait_for("model-b unmapped", lambda: chat(listen, "model-b")[0] == 404)
        wait_for("model-b servers gone", lambda: not any(k[1].endswith("_ml_beta") for k in servers_state(sock)))
        assert "model-b" not in runtime(sock, "show map " + os.path.join(self.state_dir, "models.map"))
        assert served_by(chat(listen, "model-a")) == "u1"
        print("ok: a model no longer served is unmapped and its servers deleted")

    def stop(self):
        self.assert_haproxy_unchanged()
        print("ok: HAProxy pid %d unchanged across every change (no reload, no restart)" % self.haproxy_pid)
        self.gateway.send_signal(signal.SIGTERM)
        assert self.gateway.wait(timeout=15) == 0, "berth-gateway exit code %d" % self.gateway.returncode
        wait_for("haproxy stopped with berth-gateway",
                 lambda: not pid_alive(self.haproxy_pid) or self.proc_stat(self.haproxy_pid)[0] == "Z",
                 timeout=10)
        print("ok: berth-gateway stops its HAProxy")

    def dump_logs(self):
        for name, path, size in (("gateway.log", os.path.join(self.tmp, "gateway.log"), 6000),
                                 ("haproxy.log", os.path.join(self.state_dir, "haproxy.log"), 3000)):
            if os.path.exists(path):
                with open(path) as f:
                    sys.stderr.write("---- %s (tail) ----\n%s" % (name, f.read()[-size:]))


def main():
    tmp = tempfile.mkdtemp(prefix="berth-gateway-e2e-")
    scenario = Scenario(tmp)
    try:
        scenario.start()
        scenario.check_routing()
        scenario.check_weights_and_metrics()
        scenario.check_drain_and_retry()
        scenario.check_removal_address_and_down()
        scenario.stop()
        attached_to_a_user_run_haproxy(tmp, scenario.u["u1"])
        print("PASS")
    except BaseException:
        scenario.dump_logs()
        raise
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
