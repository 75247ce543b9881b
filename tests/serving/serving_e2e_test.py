#!/usr/bin/env python3
"""Serving end to end on loopback: `berthctl fleet up` starts a real hub, three SIMULATED
member clusters (berth-agent --backend sim, whose Ready replicas serve an OpenAI-compatible
API) and berth-gateway with a real HAProxy. kubectl applies two models; requests go through
the gateway as a client would send them. Checks, asserting on replies and on HAProxy's own
runtime API:
  1. routing: each model's requests reach the clusters that run it (by body `model`, by path);
  2. a cluster's agent SIGKILLed under load: requests keep succeeding (retried on the
     surviving cluster), the replica fails over;
  3. failback under load: the returning cluster takes traffic, the leaving one is drained
     (weight 0 in HAProxy) before its server is removed, and no request fails;
  4. a canary stage with trafficPercent 20: while it soaks, about a fifth of the requests are
     answered by the new revision;
  5. a rollout whose new revision never becomes Ready (image pull failure): every request is
     still served, none by the new revision.
Bounded loops only; the fleet is stopped at the end."""
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from sim_fleet import Checks, Fleet, run_scenario, wait_for  # noqa: E402
CHAT, CODE = "phi-4-mini-instruct", "llama-3.1-8b-instruct"
checks = Checks()
ok = checks.ok


def ask(port, model, path="/v1/chat/completions", conn=None):
    """(status, cluster, revision, seconds) of one chat completion through the gateway."""
    body = json.dumps({"model": model, "max_tokens": 4,
                       "messages": [{"role": "user", "content": "hello"}]})
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start = time.monotonic()
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        return (r.status, r.getheader("X-Berth-Cluster", ""), r.getheader("X-Berth-Revision", ""),
                time.monotonic() - start)
    finally:
        if own:
            conn.close()


class Load:
    """Steady requests for one model from a few client threads until stopped."""

    def __init__(self, port, model, threads=4, pause=0.02):
        self.port, self.model, self.pause = port, model, pause
        self.results = []  # (time, status, cluster, revision, seconds)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                r = ask(self.port, self.model, conn=conn)
            except (OSError, http.client.HTTPException) as e:
                r = (0, "", "", time.monotonic() - t)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            with self.lock:
                self.results.append((t, *r))
            time.sleep(self.pause)
        conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def summary(self, what):
        lat = sorted(r[4] for r in self.results if r[1] == 200)
        bad = [r for r in self.results if r[1] != 200]
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")
        print("     %s: %d requests, %d failed, p50 %.1f ms, p99 %.1f ms" %
              (what, len(self.results), len(bad), p(0.5), p(0.99)))
        return bad


def check_routing(fleet):
    got = [ask(fleet.gw_port, CHAT) for _ in range(30)]
    clusters = {g[1] for g in got}
    ok(all(g[0] == 200 for g in got), "chat requests answered through the gateway", got[:3])
    ok(clusters == {"srv-a", "srv-b"}, "chat is served by both of its clusters, srv-a and srv-b", clusters)
    got = [ask(fleet.gw_port, CODE) for _ in range(10)]
    ok({(g[0], g[1]) for g in got} == {(200, "srv-c")}, "code requests go to srv-c only", got[:3])
    got = ask(fleet.gw_port, CODE, path="/models/%s/v1/chat/completions" % CODE)
    ok(got[:2] == (200, "srv-c"), "path prefix /models/<model>/ routes (prefix stripped)", got)
    got = ask(fleet.gw_port, "gpt-4o", path="/models/%s/v1/chat/completions" % CODE)
    ok(got[0] == 404, "the path routes, but the model server still checks the body's model (as vLLM)", got)
    status, _, _, _ = ask(fleet.gw_port, "no-such-model")
    ok(status == 404, "an unknown model is a 404", status)


def check_failover(fleet):
    with Load(fleet.gw_port, CHAT) as load:
        time.sleep(2)
        killed = time.monotonic()
        os.kill(fleet.pid("srv-a"), 9)
        wait_for("chat's replica to fail over to srv-c",
                 lambda: fleet.endpoints("chat").get("srv-c", ("", 0))[0] == "Serving", 90)
        time.sleep(2)
    bad = load.summary("failover (srv-a SIGKILLed)")
    total = len(load.results)
    ok(total > 100 and len(bad) <= total * 0.001,
       "agent SIGKILL under load: failed requests <= 0.1%% (%d of %d)" % (len(bad), total), bad[:5])
    late = [r for r in load.results if r[0] > killed + 3 and r[2] == "srv-a"]
    ok(not late, "nothing is answered by the dead cluster 3 s after the kill", late[:3])
    ok(any(r[2] == "srv-c" for r in load.results), "the failed-over replica on srv-c takes traffic")


def check_failback(fleet):
    samples = []  # (time, servers)
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            try:
                samples.append((time.monotonic(), fleet.servers()))
            except OSError:
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with Load(fleet.gw_port, CHAT) as load:
            fleet.berthctl("fleet", "restart", "--data-dir", fleet.dir, "srv-a")
            wait_for("chat back on srv-a and srv-b, srv-c gone",
                     lambda: set(fleet.endpoints("chat")) == {"srv-a", "srv-b"}, 120)
            wait_for("srv-c's server removed from HAProxy",
                     lambda: "srv-c_serving_chat" not in fleet.servers(), 30)
            time.sleep(1)
    finally:
        stop.set()
        watcher.join(10)
    bad = load.summary("failback (srv-a back, srv-c drained)")
    ok(not bad, "no request fails during failback", bad[:5])
    srv_c = [(t, s) for t, srv in samples for n, s in srv.items() if n == "srv-c_serving_chat"]
    # Drained: weight 0, or HAProxy's admin state DRAIN (srv_admin_state bit 0x08).
    drained = [t for t, s in srv_c if s[0] == 0 or s[2] & 0x08]
    serving = [t for t, s in srv_c if s[0] > 0 and not s[2] & 0x08 and s[2] & 0x01 == 0]
    ok(drained and serving and min(drained) > min(serving),
       "srv-c's server was drained (HAProxy state drain) before it was removed",
       "%d samples, %d drained" % (len(srv_c), len(drained)))
    after_drain = [r for r in load.results if drained and r[0] > min(drained) + 0.5 and r[2] == "srv-c"]
    ok(not after_drain, "a draining cluster gets no new requests", after_drain[:3])
    ok(any(r[2] == "srv-a" for r in load.results), "the returning cluster takes traffic once Ready")


def check_traffic_canary(fleet):
    """A canary stage with trafficPercent 20: while it soaks, about a fifth of the requests
    through the gateway are answered by the new revision (its cluster's weight is scaled down
    against the other's)."""
    before = fleet.workspace("chat")["status"].get("revision")
    fleet.kubectl("patch", "workspace", "chat", "-n", "serving", "--type", "merge", "-p", json.dumps({
        "inference": {"image": "ghcr.io/berth/vllm:0.6.4"},
        "rollout": {"strategy": {"stages": [
            {"name": "canary", "maxClusters": 1, "soakSeconds": 25, "trafficPercent": 20}]}}}))
    new = wait_for("a new revision", lambda: fleet.workspace("chat")["status"].get("revision", before) != before
                   and fleet.workspace("chat")["status"]["revision"], 30)

    def split():
        eps = fleet.workspace("chat")["status"].get("endpoints", [])
        serving = [e for e in eps if e.get("state") == "Serving"]
        revs = {e.get("revision") for e in serving}
        return len(serving) == 2 and revs == {before, new} and eps
    eps = wait_for("the canary serving beside the old revision", split, 60)
    weights = {e["cluster"]: (e["revision"], e["weight"]) for e in eps}
    time.sleep(2)  # the gateway applies the weights
    with Load(fleet.gw_port, CHAT) as load:
        time.sleep(6)
    answered = [r for r in load.results if r[1] == 200]
    share = sum(r[3] == str(new) for r in answered) / max(1, len(answered))
    print("     endpoint weights %s; revision %s answered %.1f %% of %d requests" %
          (weights, new, 100 * share, len(answered)))
    ok(len(answered) > 100 and 0.12 <= share <= 0.28,
       "trafficPercent 20: the new revision answered %.1f %% of the requests" % (100 * share))
    ok(not load.summary("the traffic canary"), "no request failed during the traffic canary")


def check_rollout_gated(fleet):
    broken = "ghcr.io/berth/vllm:0.6.3-never-pulls"
    for c in ("srv-a", "srv-b", "srv-c"):
        subprocess.run(["curl", "-sf", "-X", "POST", "http://%s/faults/image-pull-failure?image=%s" %
                        (fleet.admin(c), broken)], check=True, capture_output=True, timeout=10)
    before = fleet.workspace("chat")["status"].get("revision")
    with Load(fleet.gw_port, CHAT) as load:
        fleet.kubectl("patch", "workspace", "chat", "-n", "serving", "--type", "merge",
                      "-p", json.dumps({"inference": {"image": broken}}))
        wait_for("a new revision", lambda: fleet.workspace("chat")["status"].get("revision") != before, 30)
        time.sleep(8)
    new = str(fleet.workspace("chat")["status"].get("revision"))
    bad = load.summary("rollout to a revision that never becomes Ready")
    ok(not bad, "requests keep succeeding while the new revision cannot start", bad[:5])
    served_new = [r for r in load.results if r[3] == new]
    ok(not served_new, "the new revision (%s) gets no traffic while it is not Ready" % new, served_new[:3])


def main():
    for tool in ("kubectl", "curl", "/usr/sbin/haproxy"):
        if not shutil.which(tool):
            print("SKIP: %s is not installed (scripts/install-deps.sh)" % tool)
            return 77
    fleet = Fleet(HERE + "/fleet.yaml", "serving", prefix="berth-serving-")

    def scenario():
        fleet.up("--time-scale", "0.01", "--failover-toleration", "1", "--failback-hysteresis", "8",
                 "--drain-grace", "4")
        fleet.kubectl("apply", "-f", HERE + "/workspaces.yaml")
        wait_for("chat Serving on two clusters and code on srv-c",
                 lambda: [s for s, _ in fleet.endpoints("chat").values()] == ["Serving", "Serving"]
                 and fleet.endpoints("code").get("srv-c", ("", 0))[0] == "Serving", 90)
        wait_for("the gateway to route both models",
                 lambda: ask(fleet.gw_port, CHAT)[0] == 200 and ask(fleet.gw_port, CODE)[0] == 200, 30)
        check_routing(fleet)
        check_failover(fleet)
        check_failback(fleet)
        check_traffic_canary(fleet)
        check_rollout_gated(fleet)
    return run_scenario(fleet, checks, scenario, ("hub", "gateway", "srv-a", "srv-b", "srv-c"))


if __name__ == "__main__":
    sys.exit(main())
