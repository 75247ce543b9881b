"""Three berth-hub replicas on a three-member etcd cluster (issue #22), driven by clients we
did not write: the official Kubernetes Python client (Debian's python3-kubernetes) and kubectl.

Started here on loopback: 3 real etcd members, 3 hubs (--store etcd, one shared encryption
key, --leader-lease 3), 3 SIMULATED member clusters whose agents know all three hub URLs.
Then, under a write storm of ConfigMap creates spread over the hubs:
  1. the leader hub is SIGKILLed; another replica's controllers take over (the leader record,
     Lease berth-hub.leader, changes holder; the time is printed);
  2. one etcd member is SIGKILLed;
  3. the storm stops: every acknowledged create is present, on every surviving hub;
  4. a watcher on a surviving hub never saw a resourceVersion go backwards;
  5. the member hosting a workspace is SIGKILLed: the new leader fails it over;
  6. the leader is SIGSTOPped past its lease: a successor leads; once resumed, the old leader
     steps down and its fenced writes are refused (its log says so);
  7. across all of it the leader record's terms only move forward (exactly one leader at a
     time, as the leaders' own fenced writes show).
Exit 77 (skipped) without /usr/bin/etcd.
"""
import base64
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from sim_fleet import BIN, Checks, free_port, wait_for  # noqa: E402

from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

ETCD = "/usr/bin/etcd"
HERE = os.path.dirname(os.path.abspath(__file__))
FLEET = os.path.join(HERE, "fleet.yaml")
LEASE_TTL = 3


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="berth-ha-")
        self.procs = {}  # name -> Popen
        self.etcd_ports = [(free_port(), free_port()) for _ in range(3)]
        self.hub_ports = [free_port() for _ in range(3)]
        self.key = os.path.join(self.dir, "encryption.key")
        with open(self.key, "w") as f:
            f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
        os.chmod(self.key, 0o600)

    def spawn(self, name, argv):
        log = open(os.path.join(self.dir, name + ".log"), "a")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def log(self, name):
        with open(os.path.join(self.dir, name + ".log")) as f:
            return f.read()

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs[name]
        p.send_signal(sig)
        if sig == signal.SIGKILL:
            p.wait(timeout=10)

    def etcd_endpoints(self):
        return ",".join("http://127.0.0.1:%d" % c for c, _ in self.etcd_ports)

    def start_etcd(self):
        initial = ",".join("e%d=http://127.0.0.1:%d" % (i, p) for i, (_, p) in enumerate(self.etcd_ports))
        for i, (c, p) in enumerate(self.etcd_ports):
            self.spawn("etcd-%d" % i, [
                ETCD, "--name", "e%d" % i, "--data-dir", os.path.join(self.dir, "etcd-%d" % i),
                "--listen-client-urls", "http://127.0.0.1:%d" % c, "--advertise-client-urls", "http://127.0.0.1:%d" % c,
                "--listen-peer-urls", "http://127.0.0.1:%d" % p, "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % p,
                "--initial-cluster", initial, "--initial-cluster-state", "new",
                "--initial-cluster-token", os.path.basename(self.dir), "--log-level", "warn"])

    def hub_url(self, i):
        return "https://127.0.0.1:%d" % self.hub_ports[i]

    def hub_dir(self, i):
        return os.path.join(self.dir, "hub-%d" % i)

    def kubeconfig(self, i):
        return os.path.join(self.hub_dir(i), "admin.kubeconfig")

    def start_hub(self, i):
        self.spawn("hub-%d" % i, [
            os.path.join(BIN, "berth-hub"), "--data-dir", self.hub_dir(i), "--listen", "127.0.0.1:%d" % self.hub_ports[i],
            "--store", "etcd", "--etcd-endpoints", self.etcd_endpoints(), "--etcd-prefix", "/berth",
            "--encryption-key-file", self.key, "--hub-id", "hub-%d" % i, "--leader-lease", str(LEASE_TTL),
            "--region-latencies", FLEET, "--heartbeat-period", "1", "--missed-heartbeats", "3",
            "--failover-toleration", "0"])

    def kubectl(self, i, *args, check=True):
        r = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig(i), *args], capture_output=True, text=True,
                           timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("kubectl %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def berthctl(self, i, *args):
        r = subprocess.run([os.path.join(BIN, "berthctl"), *args], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, KUBECONFIG=self.kubeconfig(i)))
        if r.returncode != 0:
            raise AssertionError("berthctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def start_agent(self, name, via_hub, first):
        """An agent given every hub's URL, `first`'s first."""
        token = self.berthctl(via_hub, "token", "create", "--cluster", name, "--ttl", "10m").strip().split()[-1]
        token_file = os.path.join(self.dir, name + ".join-token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        urls = ",".join(self.hub_url((first + k) % 3) for k in range(3))
        self.spawn("agent-" + name, [
            os.path.join(BIN, "berth-agent"), "--hub", urls, "--hub-ca", os.path.join(self.hub_dir(0), "pki", "ca.crt"),
            "--cluster-name", name, "--state-dir", os.path.join(self.dir, "agent-" + name), "--backend", "sim",
            "--fleet", FLEET, "--time-scale", "0.05", "--join-token-file", token_file, "--heartbeat-period", "1"])

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait(timeout=10)


def api(c, i):
    return client.CoreV1Api(config.new_client_from_config(config_file=c.kubeconfig(i)))


def custom(c, i):
    return client.CustomObjectsApi(config.new_client_from_config(config_file=c.kubeconfig(i)))


def leader_record(c, i):
    obj = custom(c, i).get_cluster_custom_object("berth.dev", "v1alpha1", "leases", "berth-hub.leader")
    return obj["spec"]


class RecordWatcher(threading.Thread):
    """Watches the leader record and, separately, ConfigMaps in `storm` on one hub: every
    holder change in resourceVersion order, and any resourceVersion that went backwards."""

    def __init__(self, c, hub, kind):
        super().__init__(daemon=True)
        self.c, self.hub, self.kind = c, hub, kind
        self.stop_flag = threading.Event()
        self.holders = []       # (resourceVersion, holderIdentity) in arrival order
        self.backwards = []     # (previous rv, rv)
        self.events = 0
        self.errors = []

    def run(self):
        last_rv = 0
        resume = None
        while not self.stop_flag.is_set():
            w = watch.Watch()
            try:
                if self.kind == "lease":
                    fn, args = custom(self.c, self.hub).list_cluster_custom_object, ("berth.dev", "v1alpha1", "leases")
                    kw = {"field_selector": "metadata.name=berth-hub.leader"}
                else:
                    fn, args, kw = api(self.c, self.hub).list_namespaced_config_map, ("storm",), {}
                if resume:
                    kw["resource_version"] = resume
                for ev in w.stream(fn, *args, timeout_seconds=5, **kw):
                    obj = ev["object"]
                    meta = obj["metadata"] if isinstance(obj, dict) else obj.metadata
                    rv = int(meta["resourceVersion"] if isinstance(meta, dict) else meta.resource_version)
                    if rv < last_rv:
                        self.backwards.append((last_rv, rv))
                    last_rv = max(last_rv, rv)
                    resume = str(last_rv)
                    self.events += 1
                    if self.kind == "lease":
                        holder = obj["spec"]["holderIdentity"]
                        if not self.holders or self.holders[-1][1] != holder:
                            self.holders.append((rv, holder))
                    if self.stop_flag.is_set():
                        break
            except Exception as e:  # a broken stream: watch again from the last revision
                self.errors.append(str(e)[:200])
                time.sleep(0.2)


class Storm(threading.Thread):
    """Creates ConfigMaps through the hubs, each writer starting on its own hub and moving to
    the next when a request fails; `acked` holds every create that got a 201."""

    def __init__(self, c, writer, hubs):
        super().__init__(daemon=True)
        self.c, self.writer, self.hubs = c, writer, hubs
        self.stop_flag = threading.Event()
        self.acked, self.failed = [], 0

    def run(self):
        n, at = 0, self.writer % len(self.hubs)
        clients = {h: api(self.c, h) for h in self.hubs}
        while not self.stop_flag.is_set():
            name = "w%d-%d" % (self.writer, n)
            body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"n": str(n)})
            try:
                clients[self.hubs[at]].create_namespaced_config_map("storm", body, _request_timeout=5)
                self.acked.append(name)
            except Exception:  # refused, reset, timed out or 5xx: not acknowledged
                self.failed += 1
                at = (at + 1) % len(self.hubs)
                time.sleep(0.05)
            n += 1


def holder_terms(holders):
    """[(rv, 'hub-i_TERM')] -> list of TERM ints."""
    return [int(h.rsplit("_", 1)[1]) for _, h in holders]


def main():
    if not os.access(ETCD, os.X_OK):
        print("skip: no " + ETCD)
        return 77
    checks = Checks()
    c = Cluster()
    try:
        return scenario(c, checks)
    except AssertionError as e:
        checks.ok(False, "scenario ran to the end", e)
        for name in sorted(c.procs):
            if name.startswith("hub"):
                print("---- %s (tail)\n%s" % (name, c.log(name)[-3000:]))
        return checks.summary()
    finally:
        c.stop()
        if checks.failed == 0:  # Kept for the logs when a check failed.
            shutil.rmtree(c.dir, ignore_errors=True)


def scenario(c, checks):
    c.start_etcd()
    c.start_hub(0)
    wait_for("hub-0 serving", lambda: os.path.exists(c.kubeconfig(0)) and c.kubectl(0, "get", "--raw", "/readyz"), 30)
    c.start_hub(1)
    c.start_hub(2)
    for i in (1, 2):
        wait_for("hub-%d serving" % i, lambda i=i: os.path.exists(c.kubeconfig(i)) and c.kubectl(i, "get", "--raw", "/readyz"), 30)
    checks.ok(True, "3 etcd members and 3 hubs serving (one CA: hub-1 and hub-2 answer with hub-0's kubeconfig CA)")

    first = wait_for("a leader record", lambda: leader_record(c, 1), 15)
    leader = int(first["holderIdentity"].split("_")[0].split("-")[1])
    others = [i for i in range(3) if i != leader]
    checks.ok(sum("leads (term" in c.log("hub-%d" % i) for i in range(3)) == 1,
              "exactly one hub leads: %s" % first["holderIdentity"])

    lease_watch = RecordWatcher(c, others[0], "lease")
    lease_watch.start()
    c.kubectl(others[0], "create", "namespace", "storm")
    c.kubectl(others[1], "apply", "-f", os.path.join(HERE, "workspace.yaml"))
    for name in ("ha-a", "ha-b", "ha-c"):
        c.start_agent(name, via_hub=others[1], first=leader)
    placed = wait_for("the workspace placed by the leader's controllers",
                      lambda: [p["cluster"] for p in custom(c, others[0]).get_namespaced_custom_object(
                          "berth.dev", "v1alpha1", "ha", "workspaces", "chat").get("status", {}).get("placements", [])
                               if p.get("cluster")], 60)
    checks.ok(len(placed) == 1, "workspace chat placed on %s (written through a standby hub)" % placed)

    cm_watch = RecordWatcher(c, others[0], "configmaps")
    cm_watch.start()
    storms = [Storm(c, w, [0, 1, 2]) for w in range(4)]
    for s in storms:
        s.start()
    time.sleep(3)

    # 1. The leader hub dies.
    killed_at = time.monotonic()
    c.kill("hub-%d" % leader)
    new = wait_for("a new leader record holder", lambda: (lambda r: r if not r["holderIdentity"].startswith(
        "hub-%d_" % leader) else None)(leader_record(c, others[0])), 15, pause=0.1)
    takeover = time.monotonic() - killed_at
    checks.ok(takeover <= LEASE_TTL + 2, "leader hub-%d SIGKILLed: %s leads %.1f s later (goal <= 5 s)" % (
        leader, new["holderIdentity"], takeover), takeover)
    # berthctl with the dead hub's kubeconfig and the others as fallbacks still answers.
    r = subprocess.run([os.path.join(BIN, "berthctl"), "rollout", "status", "chat", "-n", "ha"], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, KUBECONFIG=c.kubeconfig(leader),
                                                       BERTH_HUB_FALLBACK_SERVERS=",".join(c.hub_url(i) for i in others)))
    checks.ok(r.returncode in (0, 1) and "chat" in r.stdout,
              "berthctl with the dead hub's kubeconfig and BERTH_HUB_FALLBACK_SERVERS answers", r.stdout + r.stderr)
    time.sleep(2)

    # 2. An etcd member dies (quorum of 2 of 3 remains).
    c.kill("etcd-1")
    time.sleep(4)
    for s in storms:
        s.stop_flag.set()
    for s in storms:
        s.join(timeout=15)
    acked = [n for s in storms for n in s.acked]
    failed = sum(s.failed for s in storms)

    # 3. Every acknowledged write is there, on every surviving hub.
    for i in others:
        present = {cm.metadata.name for cm in api(c, i).list_namespaced_config_map("storm").items}
        missing = [n for n in acked if n not in present]
        checks.ok(not missing, "hub-%d lists all %d acknowledged creates (%d requests failed over to another hub)" % (
            i, len(acked), failed), missing[:5])

    # 4. No watcher saw time go backwards.
    cm_watch.stop_flag.set()
    checks.ok(cm_watch.events >= len(acked) and not cm_watch.backwards,
              "a watcher on hub-%d saw %d events, no resourceVersion going backwards" % (others[0], cm_watch.events),
              cm_watch.backwards[:3])

    moved_agents = [n for n in ("ha-a", "ha-b", "ha-c") if "unreachable: using" in c.log("agent-" + n)]
    checks.ok(len(moved_agents) == 3, "every agent (each given the leader's URL first) moved to another hub: %s" % moved_agents)

    # 5. A member failover still happens, decided by the new leader.
    victim = placed[0]
    c.kill("agent-" + victim)
    moved = wait_for("chat failed over off %s" % victim,
                     lambda: [p["cluster"] for p in custom(c, others[0]).get_namespaced_custom_object(
                         "berth.dev", "v1alpha1", "ha", "workspaces", "chat").get("status", {}).get("placements", [])
                              if p.get("cluster") and p["cluster"] != victim], 45)
    checks.ok(bool(moved), "agent of %s SIGKILLed: chat failed over to %s" % (victim, moved))

    # 6. A paused leader is succeeded, and once resumed its fenced writes are refused.
    current = leader_record(c, others[0])["holderIdentity"]
    paused = int(current.split("_")[0].split("-")[1])
    survivor = [i for i in others if i != paused][0]
    c.kill("hub-%d" % paused, signal.SIGSTOP)
    succeeded = wait_for("a successor of the paused leader", lambda: (lambda r: r if r["holderIdentity"] != current
                                                                      else None)(leader_record(c, survivor)), 20)
    c.kill("hub-%d" % paused, signal.SIGCONT)
    wait_for("the resumed leader stepping down", lambda: "no longer leads" in c.log("hub-%d" % paused), 15)
    time.sleep(2)
    log = c.log("hub-%d" % paused)
    checks.ok(leader_record(c, survivor)["holderIdentity"] == succeeded["holderIdentity"],
              "hub-%d paused past its lease: %s leads; resumed, hub-%d stepped down" % (
                  paused, succeeded["holderIdentity"], paused))
    checks.ok("fenced" in log or "expired" in log,
              "the resumed leader's writes were fenced or its lease found expired (its log says which)",
              log[-1500:])

    # 7. Terms only move forward.
    time.sleep(1)
    lease_watch.stop_flag.set()
    terms = holder_terms(lease_watch.holders)
    checks.ok(len(terms) >= 3 and terms == sorted(terms) and len(set(terms)) == len(terms),
              "leader record holders in resourceVersion order: %s (terms only increase: one leader at a time)" % (
                  [h for _, h in lease_watch.holders]), lease_watch.holders)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
