"""berth HA bench (issue #22 goals): three berth-hub replicas on a three-member etcd cluster
and three SIMULATED member clusters, all on loopback, as tests/ha/ha_e2e_test.py starts them.

Per trial:
  A. baseline: the agent of the cluster hosting workspace `chat` is SIGKILLed; seconds until
     the hub has placed `chat` elsewhere;
  B. the same, but the leader hub is SIGKILLed at the same moment: seconds until another
     replica holds the leader record (controllers running there), and until `chat` is placed
     elsewhere. B's failover minus A's median is how late the failover came because the
     leader died.
Killed hubs and agents are restarted between trials (the hub rejoins as a standby).

usage: /usr/bin/python3 bench/ha/ha_bench.py [--trials 5]
Needs /usr/bin/etcd and build/bin (BERTH_BIN_DIR). Prints one line per measurement and a summary.
"""
import argparse
import os
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "ha"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "support"))
import ha_e2e_test as ha  # noqa: E402
from sim_fleet import wait_for  # noqa: E402


def placement(c, hub):
    ws = ha.custom(c, hub).get_namespaced_custom_object("berth.dev", "v1alpha1", "ha", "workspaces", "chat")
    return [p["cluster"] for p in ws.get("status", {}).get("placements", []) if p.get("cluster")]


def leader_index(c, via):
    return int(ha.leader_record(c, via)["holderIdentity"].split("_")[0].split("-")[1])


def healthy(c, hub, name):
    mc = ha.custom(c, hub).get_cluster_custom_object("berth.dev", "v1alpha1", "memberclusters", name)
    return any(x.get("type") == "Healthy" and x.get("status") == "True"
               for x in mc.get("status", {}).get("conditions", []))


def live_hub(c):
    return [i for i in range(3) if c.procs["hub-%d" % i].poll() is None][0]


def settle(c, via):
    """Every hub and agent running, chat placed, all members Healthy."""
    for i in range(3):
        if c.procs["hub-%d" % i].poll() is not None:
            c.start_hub(i)
            wait_for("hub-%d back" % i, lambda i=i: c.kubectl(i, "get", "--raw", "/readyz"), 30)
    for name in ("ha-a", "ha-b", "ha-c"):
        p = c.procs.get("agent-" + name)
        if p is not None and p.poll() is not None:
            urls = ",".join(c.hub_url(k) for k in range(3))
            c.spawn("agent-" + name, [
                os.path.join(ha.BIN, "berth-agent"), "--hub", urls,
                "--hub-ca", os.path.join(c.hub_dir(0), "pki", "ca.crt"), "--cluster-name", name,
                "--state-dir", os.path.join(c.dir, "agent-" + name), "--backend", "sim", "--fleet", ha.FLEET,
                "--time-scale", "0.05", "--heartbeat-period", "1"])
    for name in ("ha-a", "ha-b", "ha-c"):
        wait_for(name + " Healthy", lambda name=name: healthy(c, via, name), 60)
    return wait_for("chat placed", lambda: placement(c, via), 60)


def failover_seconds(c, via, victim, kill_leader):
    leader = leader_index(c, via)
    watcher = via if not kill_leader or via != leader else (leader + 1) % 3
    t0 = time.monotonic()
    c.kill("agent-" + victim)
    if kill_leader:
        c.kill("hub-%d" % leader)
        watcher = [i for i in range(3) if i != leader][0]
    takeover = None
    moved = None
    deadline = t0 + 60
    while time.monotonic() < deadline and moved is None:
        try:
            if kill_leader and takeover is None and leader_index(c, watcher) != leader:
                takeover = time.monotonic() - t0
            if moved is None and [p for p in placement(c, watcher) if p != victim]:
                moved = time.monotonic() - t0
        except Exception:  # a hub restarting or the watcher's connection reset
            pass
        time.sleep(0.05)
    return moved, takeover, watcher


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    if not os.access(ha.ETCD, os.X_OK):
        sys.exit("no " + ha.ETCD)
    c = ha.Cluster()
    try:
        c.start_etcd()
        for i in range(3):
            c.start_hub(i)
            wait_for("hub-%d serving" % i, lambda i=i: os.path.exists(c.kubeconfig(i)) and c.kubectl(i, "get", "--raw", "/readyz"), 30)
        wait_for("a leader", lambda: ha.leader_record(c, 0), 15)
        c.kubectl(0, "apply", "-f", os.path.join(os.path.dirname(ha.__file__), "workspace.yaml"))
        leader = leader_index(c, 0)
        for name in ("ha-a", "ha-b", "ha-c"):
            c.start_agent(name, via_hub=0, first=leader)
        baseline, late, takeovers = [], [], []
        for trial in range(args.trials):
            for kill_leader in (False, True):
                settle(c, live_hub(c))
                via = (leader_index(c, live_hub(c)) + 1) % 3
                victim = settle(c, via)[0]
                time.sleep(2)
                moved, takeover, via = failover_seconds(c, via, victim, kill_leader)
                what = "agent + leader hub" if kill_leader else "agent only"
                print("trial %d, %-18s killed: failover after %s s%s" % (
                    trial, what, "%.2f" % moved if moved else "-",
                    ", new leader after %.2f s" % takeover if takeover else ""), flush=True)
                if moved is None:
                    continue
                (late if kill_leader else baseline).append(moved)
                if takeover:
                    takeovers.append(takeover)
        b = statistics.median(baseline) if baseline else float("nan")
        print("baseline failover: median %.2f s over %d" % (b, len(baseline)))
        if takeovers:
            print("leader takeover after SIGKILL: median %.2f s, max %.2f s (goal <= 5 s)" % (
                statistics.median(takeovers), max(takeovers)))
        if late:
            print("failover with the leader killed: median %.2f s, max %.2f s; later than baseline by "
                  "median %.2f s, max %.2f s (goal <= 5 s late)" % (
                      statistics.median(late), max(late), statistics.median(late) - b, max(late) - b))
    finally:
        c.stop()


if __name__ == "__main__":
    main()
