#!/usr/bin/env python3
"""Open-loop load for one model through berth-gateway, following a load profile, with the
time to first token measured on every request (streamed chat completions).

Open loop: requests start on schedule whatever the replies do (a closed loop would slow down
exactly when the fleet is overloaded and hide it). Each request is one HTTP/1.1 connection
(asyncio, no client library), so hundreds can be in flight.

Profiles (--profile):
  step:FROM:TO:AT          FROM req/s, TO req/s from second AT on
  ramp:FROM:TO:SECONDS     linear from FROM to TO over SECONDS, then TO
  daily:LOW:HIGH:PERIOD    a compressed day: LOW at night, HIGH at the afternoon peak,
                           one day per PERIOD seconds (a raised cosine, lowest at t=0)
  const:RATE
Every request asks for --max-tokens completion tokens with stream=true. One log line per
request: START_EPOCH STATUS TTFT_MS TOTAL_MS CLUSTER (STATUS 0: no HTTP answer; TTFT_MS -1
when no token arrived). `--summary` prints per-window request counts, failures and TTFT
percentiles from a log.

  loadgen.py run --gateway http://127.0.0.1:8080 --model llama-3.1-8b-instruct \\
      --profile step:10:200:30 --duration 120 --log load.log
  loadgen.py summary --log load.log --window 10
"""
import argparse
import asyncio
import json
import math
import sys
import time
import urllib.parse


def rate_at(profile, t):
    kind, *p = profile.split(":")
    p = [float(x) for x in p]
    if kind == "const":
        return p[0]
    if kind == "step":
        return p[1] if t >= p[2] else p[0]
    if kind == "ramp":
        return p[0] + (p[1] - p[0]) * min(1.0, t / p[2]) if p[2] > 0 else p[1]
    if kind == "daily":
        low, high, period = p
        return low + (high - low) * (1 - math.cos(2 * math.pi * t / period)) / 2
    raise ValueError("unknown profile %r (const, step, ramp, daily)" % kind)


async def one_request(host, port, body, timeout):
    start = time.time()
    ttft, status, cluster = -1.0, 0, "-"
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\nConnection: close\r\n\r\n" % (host, len(body)))
        writer.write(head.encode() + body)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        status = int(line.split()[1]) if len(line.split()) > 1 else 0
        while True:  # headers
            h = await asyncio.wait_for(reader.readline(), timeout)
            if h in (b"\r\n", b""):
                break
            if h.lower().startswith(b"x-berth-cluster:"):
                cluster = h.split(b":", 1)[1].strip().decode() or "-"
        while True:  # body: the first SSE data line carrying content is the first token
            chunk = await asyncio.wait_for(reader.readline(), timeout)
            if not chunk:
                break
            if ttft < 0 and status == 200 and chunk.startswith(b"data:") and b"[DONE]" not in chunk:
                ttft = (time.time() - start) * 1000
    except (OSError, asyncio.TimeoutError, ValueError, IndexError):
        pass
    finally:
        if writer is not None:
            writer.close()
    return start, status, ttft, (time.time() - start) * 1000, cluster


async def run(args):
    url = urllib.parse.urlparse(args.gateway)
    host, port = url.hostname, url.port or 80
    body = json.dumps({"model": args.model, "max_tokens": args.max_tokens, "stream": True,
                       "messages": [{"role": "user", "content": "x " * args.prompt_words}]}).encode()
    out = open(args.log, "a", buffering=1)
    pending = set()
    t0 = time.monotonic()
    credit = 0.0
    last = t0
    while True:
        now = time.monotonic()
        t = now - t0
        if t >= args.duration:
            break
        credit += rate_at(args.profile, t) * (now - last)
        last = now
        while credit >= 1:
            credit -= 1
            task = asyncio.ensure_future(one_request(host, port, body, args.timeout))
            pending.add(task)
            task.add_done_callback(lambda f: (pending.discard(f), f.cancelled() or out.write(
                "%.3f %d %.1f %.1f %s\n" % f.result())))
        await asyncio.sleep(0.005)
    if pending:
        await asyncio.wait(pending, timeout=args.timeout + 1)
    for task in list(pending):  # still unanswered after the timeout: logged as no answer
        task.cancel()
        out.write("%.3f 0 -1.0 %.1f -\n" % (time.time() - args.timeout, args.timeout * 1000))
    return 0


def summary(args):
    rows = []
    with open(args.log) as f:
        for line in f:
            p = line.split()
            if len(p) == 5:
                rows.append((float(p[0]), int(p[1]), float(p[2]), float(p[3]), p[4]))
    if not rows:
        print("no requests")
        return 1
    rows.sort()
    t0 = rows[0][0]
    print("%8s %7s %7s %9s %9s  %s" % ("window", "req", "failed", "ttft p50", "ttft p90", "clusters"))
    w = 0
    while t0 + w * args.window <= rows[-1][0]:
        sel = [r for r in rows if t0 + w * args.window <= r[0] < t0 + (w + 1) * args.window]
        ttft = sorted(r[2] for r in sel if r[1] == 200 and r[2] >= 0)
        pct = lambda q: ttft[min(len(ttft) - 1, int(q * len(ttft)))] if ttft else float("nan")
        clusters = {}
        for r in sel:
            clusters[r[4]] = clusters.get(r[4], 0) + 1
        print("%6ds %7d %7d %7.0fms %7.0fms  %s" % (w * args.window, len(sel), sum(1 for r in sel if r[1] != 200),
              pct(0.5), pct(0.9), " ".join("%s:%d" % kv for kv in sorted(clusters.items()))))
        w += 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--gateway", required=True)
    r.add_argument("--model", required=True)
    r.add_argument("--profile", required=True)
    r.add_argument("--duration", type=float, required=True, help="seconds")
    r.add_argument("--max-tokens", type=int, default=64)
    r.add_argument("--prompt-words", type=int, default=200)
    r.add_argument("--timeout", type=float, default=60)
    r.add_argument("--log", required=True)
    s = sub.add_parser("summary")
    s.add_argument("--log", required=True)
    s.add_argument("--window", type=float, default=10)
    args = p.parse_args()
    if args.command == "run":
        rate_at(args.profile, 0)  # refuse a bad profile before sending anything
        return asyncio.run(run(args))
    return summary(args)


if __name__ == "__main__":
    sys.exit(main())
