#!/usr/bin/env python3
"""Autoscaling end to end on loopback: `berthctl fleet up` starts a real hub, three SIMULATED
L4 clusters (tests/autoscale/fleet.yaml) and berth-gateway with a real HAProxy; kubectl
applies a llama-3.1-8b Workspace that autoscales 1..4 replicas on running requests per
replica (target 8). bench/autoscale/loadgen.py sends open-loop streamed requests through
the gateway. Checks:
  1. a load step makes the hub scale out (event ScaledUp naming the metric) within 20 s, the
     new replicas are placed beyond the first cluster, become Ready and take traffic;
  2. /scale shows the autoscaler's size and `kubectl scale` is refused naming the fields;
  3. p90 time to first token comes back near its unloaded value once they serve;
  4. when the load drops the hub scales back in (ScaledDown) after the stabilisation window,
     drains the endpoints it removes, and no request fails meanwhile;
  5. a new image that serves 3× slower (the sim's slow-serving fault) fails the canary's
     serving gate (p90 TTFT regression), the rollout rolls back, and every request meanwhile
     is served;
  6. a new image that fails a fifth of its requests (the sim's failing-serving fault) fails
     the canary's error-rate gate (at most 2 %): the rollout rolls back, make-before-break;
     the only failed requests meanwhile are that revision's 500s, and none after the rollback.
Bounded loops only; the fleet is stopped at the end."""
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from sim_fleet import Checks, Fleet, run_scenario, wait_for  # noqa: E402

MODEL = "llama-3.1-8b-instruct"
LOADGEN = os.path.join(ROOT, "bench", "autoscale", "loadgen.py")
checks = Checks()
ok = checks.ok


def load(fleet, profile, seconds, log):
    return subprocess.Popen([sys.executable, LOADGEN, "run", "--gateway", "http://127.0.0.1:%d" % fleet.gw_port,
                             "--model", MODEL, "--profile", profile, "--duration", str(seconds),
                             "--max-tokens", "128", "--log", log])


def read_log(log, since=0.0, until=1e18):
    rows = []
    with open(log) as f:
        for line in f:
            p = line.split()
            if len(p) == 5 and since <= float(p[0]) < until:
                rows.append((float(p[0]), int(p[1]), float(p[2]), p[4]))
    return rows


def p90_ttft(rows):
    ttft = sorted(r[2] for r in rows if r[1] == 200 and r[2] >= 0)
    return ttft[int(0.9 * (len(ttft) - 1))] if ttft else float("inf")


def autoscaler(fleet):
    return fleet.workspace("llama").get("status", {}).get("autoscaler", {})


def ready_by_cluster(fleet):
    out = {}
    for p in fleet.workspace("llama").get("status", {}).get("placements", []):
        out[p["cluster"]] = out.get(p["cluster"], 0) + p.get("readyReplicas", 0)
    return {c: n for c, n in out.items() if n > 0}


def check_scale_out(fleet, log):
    baseline = p90_ttft(read_log(log))
    step_at = time.time()
    gen = load(fleet, "const:30", 50, log)
    try:
        wait_for("a ScaledUp event", lambda: fleet.events("ScaledUp"), 30)
        decided = time.time() - step_at
        ev = fleet.events("ScaledUp")[0]
        ok(decided <= 20, "scale-up decided %.1f s after the load step (<= 20 s)" % decided)
        ok("RunningRequestsPerReplica" in ev.get("message", ""), "ScaledUp names the metric and its value",
           ev.get("message"))
        desired = autoscaler(fleet).get("desiredReplicas", 0)
        ok(desired > 1, "status.autoscaler.desiredReplicas grew to %s" % desired)
        ready = wait_for("the new replicas Ready", lambda: sum(ready_by_cluster(fleet).values()) >= desired
                         and ready_by_cluster(fleet), 60)
        ok(len(ready) > 1, "the new replicas were placed beyond the first cluster", ready)
        scale = json.loads(fleet.kubectl("get", "workspace", "llama", "-n", "scaling", "--subresource=scale",
                                         "-o", "json"))
        ok(scale["spec"]["replicas"] == autoscaler(fleet).get("desiredReplicas"),
           "/scale shows the autoscaler's size", scale["spec"])
        r = subprocess.run(["kubectl", "scale", "workspace", "llama", "-n", "scaling", "--replicas=1"],
                           capture_output=True, text=True, env=fleet.env, timeout=30)
        ok(r.returncode != 0 and "autoscaling.minReplicas" in r.stderr,
           "kubectl scale on an autoscaled Workspace is refused, naming what to change", r.stderr.strip())
        served_at = time.time()
        wait_for("the load to run 15 s on the scaled fleet", lambda: time.time() > served_at + 15, 30, 1)
        after = read_log(log, since=served_at + 5)
        clusters = {r[3] for r in after if r[1] == 200}
        ok(len(clusters) > 1, "traffic is served by every cluster with replicas", clusters)
        p90 = p90_ttft(after)
        ok(p90 <= 3 * baseline + 100, "p90 TTFT back to %.0f ms (unloaded %.0f ms)" % (p90, baseline))
    finally:
        gen.wait(90)


def check_scale_in(fleet, log):
    low_from = time.time()
    gen = load(fleet, "const:1", 45, log)
    try:
        wait_for("a ScaledDown event", lambda: fleet.events("ScaledDown"), 45)
        ok(True, "the hub scaled in when the load dropped: " + fleet.events("ScaledDown")[0].get("message", ""))
        wait_for("one replica left", lambda: autoscaler(fleet).get("desiredReplicas") == 1
                 and sum(ready_by_cluster(fleet).values()) == 1, 60)
        ok(len(fleet.events("EndpointDraining")) > 0, "removed endpoints were drained first")
    finally:
        gen.wait(90)
    rows = read_log(log, since=low_from)
    bad = [r for r in rows if r[1] != 200]
    ok(rows and not bad, "no request failed during the scale-in (%d sent)" % len(rows), bad[:3])


def check_gated_rollback(fleet, log):
    slow = "ghcr.io/berth/vllm:0.6.4-slow"
    for cluster in ("as-a", "as-b", "as-c"):
        subprocess.run(["curl", "-sf", "-X", "POST", "http://%s/faults/slow-serving?image=%s&factor=3" %
                        (fleet.admin(cluster), slow)], check=True, capture_output=True, timeout=10)
    before = fleet.workspace("llama")["status"]["revision"]
    start = time.time()
    gen = load(fleet, "const:4", 120, log)
    try:
        time.sleep(10)  # a baseline p90 on the running revision
        fleet.kubectl("patch", "workspace", "llama", "-n", "scaling", "--type=merge",
                      "-p", json.dumps({"inference": {"image": slow}}))
        failed = wait_for("the canary's serving gate to fail", lambda: [
            e for e in fleet.events("ClusterFailed") if "time to first token" in e.get("message", "")], 90)
        ok(True, "the serving gate failed the canary: " + failed[0]["message"])
        wait_for("the rollout rolled back", lambda: fleet.workspace("llama")["status"].get("rollout", {})
                 .get("phase") == "RolledBack", 60)
        placements = fleet.workspace("llama")["status"]["placements"]
        ok(all(p.get("revision") == before for p in placements),
           "every cluster runs revision %s again" % before, placements)
    finally:
        gen.terminate()
        gen.wait(90)
    rows = read_log(log, since=start)
    bad = [r for r in rows if r[1] != 200]
    ok(rows and not bad, "no request failed during the gated rollout and its rollback (%d sent)" % len(rows), bad[:3])


def check_error_gate(fleet, log):
    flaky = "ghcr.io/berth/vllm:0.6.4-flaky"
    for cluster in ("as-a", "as-b", "as-c"):
        subprocess.run(["curl", "-sf", "-X", "POST", "http://%s/faults/failing-serving?image=%s&fraction=0.2" %
                        (fleet.admin(cluster), flaky)], check=True, capture_output=True, timeout=10)
    good = fleet.workspace("llama")["status"]["placements"][0]["revision"]  # the last good one
    start = time.time()
    gen = load(fleet, "const:4", 120, log)
    try:
        # One replica on as-a and its second GPU spare: the update and the rollback go Surge
        # (make before break).
        wait_for("the autoscaler to settle on one replica", lambda: autoscaler(fleet).get("desiredReplicas") == 1
                 and sum(ready_by_cluster(fleet).values()) == 1, 60)
        fleet.kubectl("patch", "workspace", "llama", "-n", "scaling", "--type=merge",
                      "-p", json.dumps({"inference": {"image": flaky}}))
        failed = wait_for("the canary's error-rate gate to fail", lambda: [
            e for e in fleet.events("ClusterFailed") if "requests failed" in e.get("message", "")], 90)
        ok(True, "the error-rate gate failed the canary: " + failed[0]["message"])
        # Revision good + 1 was the slow image, good + 2 is this one.
        updating = [e["message"] for e in fleet.events("ClusterUpdating") if "revision %d" % (good + 2) in e["message"]]
        ok(updating and "surge" in updating[-1], "the canary updated with a surge replica", updating)
        wait_for("the rollout rolled back", lambda: fleet.workspace("llama")["status"].get("rollout", {})
                 .get("phase") == "RolledBack", 60)
        placements = fleet.workspace("llama")["status"]["placements"]
        ok(all(p.get("revision") == good for p in placements),
           "every cluster runs revision %s again" % good, placements)
        rolled_back_at = time.time()
        time.sleep(5)
    finally:
        gen.terminate()
        gen.wait(90)
    rows = read_log(log, since=start)
    failed_rows = [r for r in rows if r[1] != 200]
    ok(any(r[1] == 500 for r in failed_rows),
       "while the canary soaked, the flaky revision's 500s reached clients (%d of %d requests)" %
       (sum(r[1] == 500 for r in failed_rows), len(rows)))
    # The way back is make-before-break too (the last good revision starts beside the flaky
    # one): nothing but the flaky revision's own 500s failed.
    other = [r for r in failed_rows if r[1] != 500]
    ok(not other, "nothing else failed, the rollback included", other[:5])
    after = read_log(log, since=rolled_back_at + 2)
    ok(after and all(r[1] == 200 for r in after), "after the rollback every request succeeds (%d)" % len(after))


def main():
    for tool in ("kubectl", "/usr/sbin/haproxy"):
        if not shutil.which(tool):
            print("SKIP: %s is not installed (scripts/install-deps.sh)" % tool)
            return 77
    fleet = Fleet(HERE + "/fleet.yaml", "scaling", prefix="berth-autoscale-")
    log = fleet.dir + "/load.log"

    def scenario():
        fleet.up("--time-scale", "0.1")
        fleet.kubectl("apply", "-f", HERE + "/workspace.yaml")
        wait_for("llama Serving on one cluster", lambda: [s for s, _ in fleet.endpoints("llama").values()]
                 == ["Serving"], 90)
        load(fleet, "const:2", 8, log).wait(60)  # the unloaded TTFT
        check_scale_out(fleet, log)
        check_scale_in(fleet, log)
        check_gated_rollback(fleet, log)
        check_error_gate(fleet, log)
    return run_scenario(fleet, checks, scenario, ("hub", "gateway", "as-a", "as-b", "as-c"))


if __name__ == "__main__":
    sys.exit(main())
