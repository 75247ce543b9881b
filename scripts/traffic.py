#!/usr/bin/env python3
"""Steady OpenAI chat requests through berth-gateway, logged one line per request, and a
summary of any time window of that log (what `make demo` prints per step).

  traffic.py run --gateway http://127.0.0.1:8080 --models a,b --rate 20 --log FILE
      sends `rate` requests per second in total, round robin over the models, from a few
      client threads, until SIGTERM/SIGINT. Log line: EPOCH STATUS MODEL CLUSTER MILLISECONDS
      (STATUS 0 = no HTTP answer; CLUSTER from the X-Berth-Cluster header of simulated replicas).
  traffic.py summary --log FILE --since EPOCH [--until EPOCH] [--title TEXT]
      per model: requests, failed, p50/p99 latency, clusters that answered.
"""
import argparse
import http.client
import json
import signal
import sys
import threading
import time
import urllib.parse


def run(args):
    url = urllib.parse.urlparse(args.gateway)
    models = [m for m in args.models.split(",") if m]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    lock = threading.Lock()
    out = open(args.log, "a", buffering=1)
    threads = max(1, min(8, int(args.rate // 5) + 1))
    interval = threads / args.rate

    def client(index):
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
        n = index
        next_at = time.monotonic()
        while not stop.is_set():
            model = models[n % len(models)]
            n += threads
            body = json.dumps({"model": model, "max_tokens": 8,
                               "messages": [{"role": "user", "content": "Where does this request go?"}]})
            start = time.time()
            try:
                conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                status, cluster = r.status, r.getheader("X-Berth-Cluster", "-")
            except (OSError, http.client.HTTPException):
                status, cluster = 0, "-"
                conn.close()
                conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
            with lock:
                out.write("%.3f %d %s %s %.2f\n" % (start, status, model, cluster or "-",
                                                    (time.time() - start) * 1000))
            next_at += interval
            stop.wait(max(0.0, next_at - time.monotonic()))

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    while not stop.is_set():
        stop.wait(0.5)
    for w in workers:
        w.join(35)
    return 0


def summary(args):
    rows = {}
    with open(args.log) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 5:
                continue
            t, status, model, cluster, ms = float(parts[0]), int(parts[1]), parts[2], parts[3], float(parts[4])
            if t < args.since or (args.until and t > args.until):
                continue
            r = rows.setdefault(model, {"ok": [], "failed": 0, "clusters": {}})
            if status == 200:
                r["ok"].append(ms)
                r["clusters"][cluster] = r["clusters"].get(cluster, 0) + 1
            else:
                r["failed"] += 1
    if args.title:
        print("   traffic through the gateway, " + args.title + ":")
    if not rows:
        print("     no requests in this window")
    for model, r in sorted(rows.items()):
        lat = sorted(r["ok"])
        pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
        where = ", ".join("%s %d" % kv for kv in sorted(r["clusters"].items()))
        print("     %-26s %5d served %4d failed   p50 %6.1f ms  p99 %6.1f ms   (%s)" %
              (model, len(lat), r["failed"], pct(0.5), pct(0.99), where or "-"))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--gateway", required=True)
    r.add_argument("--models", required=True)
    r.add_argument("--rate", type=float, default=20)
    r.add_argument("--log", required=True)
    s = sub.add_parser("summary")
    s.add_argument("--log", required=True)
    s.add_argument("--since", type=float, default=0)
    s.add_argument("--until", type=float, default=0)
    s.add_argument("--title", default="")
    args = p.parse_args()
    return run(args) if args.command == "run" else summary(args)


if __name__ == "__main__":
    sys.exit(main())
