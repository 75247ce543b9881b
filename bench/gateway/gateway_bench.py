#!/usr/bin/env python3
"""bench/gateway: the serving goals of docs/PERFORMANCE.md ("Serving gateway"), on loopback
with the real binaries: berthctl fleet up (hub, SIMULATED clusters whose replicas serve the
OpenAI API, berth-gateway + Debian HAProxy), kubectl, wrk.

  throughput  one cluster at --time-scale 0 (the simulator's fastest reply): wrk through the
              gateway and straight at the cluster endpoint — req/s, and the latency added by
              the gateway (p50 with one connection, same payload).
  failover    tests/serving's three clusters; steady load at --rate req/s on one model; the
              agent of the cluster that served most of it is SIGKILLed. Failed requests, when
              HAProxy stopped routing to the dead cluster (its server DOWN, and the last
              connection error it counted for it), p99 before vs during, then failback under
              the same load (drain before removal) and its failed requests.

Usage: python3 bench/gateway/gateway_bench.py [throughput] [failover] [--rate 100]
Prints numbers; asserts nothing (goals are compared in docs/PERFORMANCE.md)."""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "serving"))
import serving_e2e_test as e2e  # noqa: E402  (Fleet, Load, ask, wait_for)

CHAT = e2e.CHAT


def wrk(url, connections, seconds, threads=2):
    """(requests/s, {percentile: ms}) from wrk --latency with a chat completion body."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                'wrk.body = \'{"model":"%s","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}\'\n'
                % CHAT)
        script = f.name
    out = subprocess.run(["wrk", "-t%d" % min(threads, connections), "-c%d" % connections,
                          "-d%ds" % seconds, "--latency", "-s", script, url + "/v1/chat/completions"],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {}
    for p, v, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        pct[int(p)] = float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, pct, int(errors.group(1)) if errors else 0


def throughput(args):
    fleet = e2e.Fleet()
    fleet_file = os.path.join(fleet.dir, "one.yaml")
    with open(fleet_file, "w") as f:
        f.write("apiVersion: berth.dev/v1alpha1\nkind: Fleet\nmetadata: {name: bench}\nclusters:\n"
                "  - name: srv-a\n    region: westeurope\n    prices: {A100-80GB: 1.0}\n    nodePools:\n"
                "      - {name: a100, gpu: A100-80GB, gpusPerNode: 8, count: 1, driverVersion: \"550.54.15\","
                " cudaVersion: \"12.4\"}\n")
    try:
        fleet.berthctl("fleet", "up", "--fleet", fleet_file, "--data-dir", fleet.dir, "--listen",
                       "127.0.0.1:%d" % fleet.hub_port, "--agent-port-base", "0", "--wait", "60s",
                       "--time-scale", "0", "--gateway-listen", "127.0.0.1:%d" % fleet.gw_port)
        fleet.kubectl("apply", "-f", os.path.join(ROOT, "tests", "serving", "workspaces.yaml"))
        fleet.kubectl("patch", "workspace", "chat", "-n", "serving", "--type", "merge",
                      "-p", '{"placement": {"replicas": 2}}')
        e2e.wait_for("chat Serving", lambda: fleet.endpoints("chat").get("srv-a", ("", 0))[0] == "Serving", 90)
        direct = [e["url"] for e in fleet.workspace("chat")["status"]["endpoints"]][0]
        gateway = "http://127.0.0.1:%d" % fleet.gw_port
        e2e.wait_for("the gateway", lambda: e2e.ask(fleet.gw_port, CHAT)[0] == 200, 30)
        print("throughput (--time-scale 0: replies as fast as the simulator answers), %ds each:" % args.seconds)
        for name, url in (("direct to the cluster endpoint", direct), ("through berth-gateway", gateway)):
            wrk(url, 8, 2)  # warm up
            rps, pct, bad = wrk(url, 32, args.seconds)
            print("  %-32s %8.0f req/s  p50 %.2f ms  p99 %.2f ms  (32 connections, %d non-2xx)" %
                  (name, rps, pct.get(50, 0), pct.get(99, 0), bad))
        single = {}
        for name, url in (("direct", direct), ("gateway", gateway)):
            _, pct, _ = wrk(url, 1, args.seconds, threads=1)
            single[name] = pct
            print("  one connection, %-7s            p50 %.3f ms  p90 %.3f ms  p99 %.3f ms" %
                  (name, pct.get(50, 0), pct.get(90, 0), pct.get(99, 0)))
        print("  gateway overhead p50 (one connection): %.3f ms" % (single["gateway"][50] - single["direct"][50]))
    finally:
        fleet.down()


def server_of(fleet, name):
    """(op_state, attempts) of HAProxy server `name` in the berth_slot backends, None if
    absent; attempts = sessions sent to it (stot) + connection errors (econ)."""
    state = fleet.servers().get(name)
    if state is None:
        return None
    attempts = 0
    for line in fleet.haproxy("show stat").splitlines():
        cols = line.split(",")
        if len(cols) > 14 and cols[0].startswith("berth_slot_") and cols[1] == name:
            attempts = int(cols[7] or 0) + int(cols[13] or 0)  # stot + econ
    return state[1], attempts


def failover(args):
    fleet = e2e.Fleet()
    try:
        fleet.up()
        fleet.kubectl("apply", "-f", os.path.join(ROOT, "tests", "serving", "workspaces.yaml"))
        e2e.wait_for("chat Serving on two clusters",
                     lambda: [s for s, _ in fleet.endpoints("chat").values()] == ["Serving", "Serving"], 90)
        e2e.wait_for("the gateway", lambda: e2e.ask(fleet.gw_port, CHAT)[0] == 200, 30)
        pause = max(0.0, 8.0 / args.rate - 0.002)
        with e2e.Load(fleet.gw_port, CHAT, threads=8, pause=pause) as load:
            time.sleep(10)
            recent = [r[2] for r in load.results if r[0] > time.monotonic() - 5 and r[1] == 200]
            victim = max(set(recent), key=recent.count)
            before = set(fleet.endpoints("chat"))
            server = victim + "_serving_chat"
            samples = []
            stop = threading.Event()

            def watch():
                while not stop.is_set():
                    try:
                        samples.append((time.monotonic(), server_of(fleet, server)))
                    except OSError:
                        pass
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch)
            watcher.start()
            killed = time.monotonic()
            os.kill(fleet.pid(victim), 9)
            others = [c for c in ("srv-a", "srv-b", "srv-c") if c != victim]
            e2e.wait_for("the replica to fail over", lambda: all(
                fleet.endpoints("chat").get(c, ("", 0))[0] == "Serving" for c in others), 90)
            failed_over = time.monotonic()
            time.sleep(3)
            stop.set()
            watcher.join()
        steady = [r for r in load.results if killed - 10 <= r[0] < killed]
        during = [r for r in load.results if killed <= r[0] < failed_over]
        down = [t for t, s in samples if s is None or s[0] == 0]
        attempts = [(t, s[1]) for t, s in samples if s is not None]
        last_attempt = max((t for (t, a), (_, prev) in zip(attempts[1:], attempts) if a > prev), default=killed)
        p99 = lambda rs: sorted(r[4] for r in rs if r[1] == 200)[int(0.99 * len([r for r in rs if r[1] == 200]))] * 1000
        failed = [r for r in during if r[1] != 200]
        print("failover: %s (served %d%% of the last 5 s) SIGKILLed under %d req/s" %
              (victim, 100 * recent.count(victim) // max(1, len(recent)), args.rate))
        print("  failed from the kill until the replica served elsewhere (%.1f s): %d of %d (%.3f%%)" %
              (failed_over - killed, len(failed), len(during), 100.0 * len(failed) / max(1, len(during))))
        print("  HAProxy marked %s DOWN %.2f s after the kill; the last request sent to it %.2f s after" %
              (victim, (min(down) - killed) if down else float("nan"), last_attempt - killed))
        print("  p99 steady (10 s before) %.1f ms, during failover %.1f ms" % (p99(steady), p99(during)))
        with e2e.Load(fleet.gw_port, CHAT, threads=8, pause=pause) as load:
            start = time.monotonic()
            fleet.berthctl("fleet", "restart", "--data-dir", fleet.dir, victim)
            third = (set(others) - before).pop()
            e2e.wait_for("failback done", lambda: fleet.endpoints("chat") == {c: ("Serving", 256) for c in before}
                         or (set(fleet.endpoints("chat")) == before and
                             all(s == "Serving" for s, _ in fleet.endpoints("chat").values())), 120)
            e2e.wait_for("the leaving server removed from HAProxy",
                         lambda: third + "_serving_chat" not in fleet.servers(), 30)
            time.sleep(2)
        back = [r for r in load.results if r[0] >= start]
        print("failback to %s: %d failed of %d requests, p99 %.1f ms (%.0f s from restart to done)" %
              (victim, len([r for r in back if r[1] != 200]), len(back), p99(back), time.monotonic() - start))
    finally:
        fleet.down()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("parts", nargs="*", default=["throughput", "failover"])
    p.add_argument("--rate", type=float, default=100)
    p.add_argument("--seconds", type=int, default=10)
    args = p.parse_args()
    os.environ.setdefault("BERTH_BIN_DIR", os.path.join(ROOT, "build", "bin"))
    e2e.BIN = os.environ["BERTH_BIN_DIR"]
    if "throughput" in args.parts:
        throughput(args)
    if "failover" in args.parts:
        failover(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
