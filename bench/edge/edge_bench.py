#!/usr/bin/env python3
"""Edge bench: does the hub keep serving its real clients while hostile connections sit on
it? Starts a real berth-hub on loopback, measures the latency of a kubectl-like list
(GET workspaces) and of a member's lease renewal (merge PATCH) on their own kept-alive
connections, first alone, then while a separate attacker process holds --slowloris
connections that trickle a header byte every few seconds (staggered, or --burst: all at once) and --idle connections that
finished TLS and send nothing. Prints p50/p99 of both phases, the ratio, the hub's CPU and
RSS, and how long the hub took to close the attackers (its --request-header-timeout).

  bench/edge/edge_bench.py [--slowloris 1000] [--idle 1000] [--requests 2000] [--rate 50]
                           [--header-timeout 60] [--burst] [--pin] [--bin-dir build/bin]

Each phase sends --requests (half lists, half renewals), so each p99 is the 10th-slowest of
1,000 samples; the phase must end before the hub closes the slowloris connections
(--header-timeout), or the second half of it measures a hub with no attacker.

Standard library only. Figures: docs/PERFORMANCE.md "Edge under hostile connections".
"""
import argparse
import http.client
import json
import multiprocessing
import os
import selectors
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "support"))
from hub_process import HubProcess  # noqa: E402

LEASES = "/apis/berth.dev/v1alpha1/leases"
WORKSPACES = "/apis/berth.dev/v1alpha1/namespaces/default/workspaces"


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100.0))] if s else float("nan")


def hub_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def attacker(port, ca, slowloris, idle, trickle_s, hold_s, burst, pin, pipe):
    """Holds the connections; reports when they are open and how long each lived."""
    if pin is not None:
        os.sched_setaffinity(0, {pin})
    ctx = ssl.create_default_context(cafile=ca)
    socks = []  # (sock, kind, opened_at)
    failed = 0
    for i in range(slowloris + idle):
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            kind = "slowloris" if i < slowloris else "idle"
            if kind == "slowloris":
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            s.setblocking(False)
            socks.append((s, kind, time.monotonic()))
        except OSError:
            failed += 1
    pipe.send({"open": len(socks), "failed": failed})
    lifetimes = {"slowloris": [], "idle": []}
    alive = {s.fileno(): (s, kind, t0) for s, kind, t0 in socks}
    sel = selectors.DefaultSelector()  # epoll: thousands of descriptors
    for fd, (s, _, _) in alive.items():
        sel.register(s, selectors.EVENT_READ)
    # Each slowloris sends its next byte on its own schedule (staggered over the period), or
    # with --burst all of them at once every period.
    now = time.monotonic()
    due = {fd: now + (trickle_s if burst else trickle_s * i / max(1, slowloris))
           for i, (fd, (_, kind, _)) in enumerate(alive.items()) if kind == "slowloris"}
    end = now + hold_s
    while alive and time.monotonic() < end:
        if pipe.poll(0):
            pipe.recv()
            break
        for key, _ in sel.select(0.05):
            s, kind, t0 = alive[key.fd]
            try:
                data = s.recv(4096)
            except ssl.SSLWantReadError:
                continue
            except OSError:
                data = b""
            if not data:
                lifetimes[kind].append(time.monotonic() - t0)
                sel.unregister(s)
                del alive[key.fd]
                due.pop(key.fd, None)
                s.close()
        now = time.monotonic()
        for fd, t in list(due.items()):
            if t <= now and fd in alive:
                due[fd] = t + trickle_s
                try:
                    alive[fd][0].send(b"X")
                except (OSError, ssl.SSLWantWriteError):
                    pass
    for s, _, _ in alive.values():
        s.close()
    pipe.send({"closed": {k: len(v) for k, v in lifetimes.items()},
               "lifetime_p50": {k: percentile(v, 50) for k, v in lifetimes.items()},
               "lifetime_max": {k: max(v) if v else float("nan") for k, v in lifetimes.items()},
               "still_open": len(alive)})


def measure(port, ctx, token, requests, rate):
    """Alternates a list and a lease renewal at `rate` requests/s; returns latencies in ms."""
    auth = {"Authorization": "Bearer " + token}
    lister = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    renewer = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    out = {"list": [], "renew": []}
    errors = 0
    start = time.monotonic()
    for i in range(requests):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        t0 = time.monotonic()
        if i % 2 == 0:
            lister.request("GET", WORKSPACES, headers=auth)
            r = lister.getresponse()
            key = "list"
        else:
            body = json.dumps({"spec": {"renewTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())}})
            renewer.request("PATCH", LEASES + "/edge-member", body,
                            dict(auth, **{"Content-Type": "application/merge-patch+json"}))
            r = renewer.getresponse()
            key = "renew"
        r.read()
        if r.status != 200:
            errors += 1
        out[key].append((time.monotonic() - t0) * 1000.0)
    lister.close()
    renewer.close()
    return out, errors


def setup(port, ctx, token):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    lease = {"apiVersion": "berth.dev/v1alpha1", "kind": "Lease",
             "metadata": {"name": "edge-member"},
             "spec": {"holderIdentity": "edge-member", "leaseDurationSeconds": 15}}
    conn.request("POST", LEASES, json.dumps(lease), h)
    conn.getresponse().read()
    for i in range(20):
        ws = {"apiVersion": "berth.dev/v1alpha1", "kind": "Workspace", "metadata": {"name": "edge-%d" % i},
              "inference": {"preset": {"name": "phi-4-mini-instruct"}}}
        conn.request("POST", WORKSPACES, json.dumps(ws), h)
        conn.getresponse().read()
    conn.close()


def row(name, lat):
    return "%-14s list p50 %5.2f p99 %5.2f p99.9 %6.2f max %6.2f ms   renew p50 %5.2f p99 %5.2f p99.9 %6.2f max %6.2f ms" % (
        name, percentile(lat["list"], 50), percentile(lat["list"], 99), percentile(lat["list"], 99.9), max(lat["list"]),
        percentile(lat["renew"], 50), percentile(lat["renew"], 99), percentile(lat["renew"], 99.9), max(lat["renew"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--slowloris", type=int, default=1000)
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=2000, help="per phase")
    ap.add_argument("--rate", type=float, default=50.0, help="requests/s per phase")
    ap.add_argument("--header-timeout", type=int, default=60, help="the hub's --request-header-timeout")
    ap.add_argument("--trickle", type=float, default=3.0, help="seconds between a slowloris' bytes")
    ap.add_argument("--burst", action="store_true",
                    help="every slowloris sends its byte at the same moment (default: staggered)")
    ap.add_argument("--pin", action="store_true",
                    help="hub and measuring client on CPU 0, attacker on CPU 1: separates the hub's "
                         "cost of the attack from the attacker's own")
    ap.add_argument("--bin-dir", default=os.environ.get("BERTH_BIN_DIR", "build/bin"))
    args = ap.parse_args()
    os.environ["BERTH_BIN_DIR"] = args.bin_dir

    hub = HubProcess("berth-edge-bench-", ["--request-header-timeout", str(args.header_timeout),
                                           "--no-controllers"])
    if args.pin:
        os.sched_setaffinity(hub.proc.pid, {0})
        for tid in os.listdir("/proc/%d/task" % hub.proc.pid):
            os.sched_setaffinity(int(tid), {0})
        os.sched_setaffinity(0, {0})
    try:
        ctx = ssl.create_default_context(cafile=hub.ca)
        token = hub.admin_token()
        time.sleep(1.0)
        setup(hub.port, ctx, token)
        print("berth-hub pid %d, --request-header-timeout %d s; %d cores, load %s" % (
            hub.proc.pid, args.header_timeout, os.cpu_count(), open("/proc/loadavg").read().split()[0]))
        cpu0, t0 = hub_cpu_seconds(hub.proc.pid), time.monotonic()
        base, base_err = measure(hub.port, ctx, token, args.requests, args.rate)
        base_cpu = (hub_cpu_seconds(hub.proc.pid) - cpu0) / (time.monotonic() - t0) * 100
        base_rss = hub.rss_mib()
        print(row("alone", base) + "   hub CPU %5.1f%%  RSS %5.0f MiB  errors %d" % (base_cpu, base_rss, base_err))

        parent, child = multiprocessing.Pipe()
        hold = args.header_timeout * 3 + 60
        proc = multiprocessing.Process(target=attacker, args=(hub.port, hub.ca, args.slowloris, args.idle,
                                                              args.trickle, hold, args.burst,
                                                              1 if args.pin else None, child))
        opened_at = time.monotonic()
        proc.start()
        opened = parent.recv()
        open_s = time.monotonic() - opened_at
        print("attacker: %d connections open (%d failed) in %.1f s; hub RSS %.0f MiB" % (
            opened["open"], opened["failed"], open_s, hub.rss_mib()))
        cpu0, t0 = hub_cpu_seconds(hub.proc.pid), time.monotonic()
        under, under_err = measure(hub.port, ctx, token, args.requests, args.rate)
        under_cpu = (hub_cpu_seconds(hub.proc.pid) - cpu0) / (time.monotonic() - t0) * 100
        under_rss = hub.rss_mib()
        print(row("under attack", under) + "   hub CPU %5.1f%%  RSS %5.0f MiB  errors %d" % (under_cpu, under_rss, under_err))
        measured_s = time.monotonic() - opened_at
        if measured_s > args.header_timeout:
            print("warning: the attacked phase took %.0f s, longer than --header-timeout %d s: the hub closed the "
                  "slowloris connections before it ended" % (measured_s, args.header_timeout))
        print("p99 ratio under attack / alone: list %.2fx, renew %.2fx" % (
            percentile(under["list"], 99) / percentile(base["list"], 99),
            percentile(under["renew"], 99) / percentile(base["renew"], 99)))
        result = parent.recv()  # the attacker returns once the hub closed everything (or hold ran out)
        proc.join(10)
        print("hub closed: slowloris %d (lifetime p50 %.1f s, max %.1f s), idle %d (p50 %.1f s, max %.1f s); "
              "still open when the attacker gave up: %d" % (
                  result["closed"]["slowloris"], result["lifetime_p50"]["slowloris"], result["lifetime_max"]["slowloris"],
                  result["closed"]["idle"], result["lifetime_p50"]["idle"], result["lifetime_max"]["idle"],
                  result["still_open"]))
        print("hub after: %d open descriptors, RSS %.0f MiB" % (hub.open_fds(), hub.rss_mib()))
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
