"""A SIMULATED fleet on loopback for the Python end-to-end tests and benches: `berthctl fleet
up` (real hub, berth-agent --backend sim per cluster, berth-gateway with a real HAProxy),
kubectl against the hub, HAProxy's runtime API, and small helpers for bounded waits and
counted checks. Shared by tests/serving, tests/autoscale and bench/autoscale."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from haproxy_runtime import runtime

BIN = os.environ.get("BERTH_BIN_DIR", "build/bin")


class Checks:
    """Counted checks: ok(cond, what, detail) prints ok/FAIL and returns cond."""

    def __init__(self):
        self.passed = self.failed = 0

    def ok(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok   " + what)
        else:
            self.failed += 1
            print("FAIL " + what + (": " + str(detail) if detail != "" else ""))
        return cond

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, timeout, pause=0.25):
    """Polls predicate until it is truthy (returns its value) or raises after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (AssertionError, OSError, ValueError, KeyError, json.JSONDecodeError) as e:
            last = e
        time.sleep(pause)
    raise AssertionError("timed out after %ss waiting for %s (last: %s)" % (timeout, what, last))


class Fleet:
    """`berthctl fleet up --fleet FLEET_FILE` in a temp dir, with the hub and the gateway on
    free loopback ports; `namespace` is where workspace() looks."""

    def __init__(self, fleet_file, namespace, prefix="berth-fleet-"):
        self.fleet_file, self.namespace = fleet_file, namespace
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.hub_port, self.gw_port = free_port(), free_port()
        self.env = dict(os.environ, KUBECONFIG=self.dir + "/admin.kubeconfig")

    def berthctl(self, *args, check=True):
        r = subprocess.run([BIN + "/berthctl", *args], capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError("berthctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r

    def up(self, *extra):
        self.berthctl("fleet", "up", "--fleet", self.fleet_file, "--data-dir", self.dir,
                      "--listen", "127.0.0.1:%d" % self.hub_port, "--agent-port-base", "0",
                      "--wait", "60s", "--gateway-listen", "127.0.0.1:%d" % self.gw_port, *extra)

    def down(self):
        self.berthctl("fleet", "down", "--data-dir", self.dir, "--timeout", "5s", check=False)

    def kubectl(self, *args):
        r = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=self.env, timeout=60)
        if r.returncode != 0:
            raise AssertionError("kubectl %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def workspace(self, name):
        return json.loads(self.kubectl("get", "workspace", name, "-n", self.namespace, "-o", "json"))

    def endpoints(self, name):
        """{cluster: (state, weight)} from the hub's endpoint map."""
        eps = self.workspace(name).get("status", {}).get("endpoints", [])
        return {e["cluster"]: (e.get("state"), e.get("weight", 0)) for e in eps}

    def events(self, reason=None):
        items = json.loads(self.kubectl("get", "events", "-n", self.namespace, "-o", "json"))["items"]
        return [e for e in items if reason is None or e.get("reason") == reason]

    def pid(self, name):
        with open("%s/pids/%s.pid" % (self.dir, name)) as f:
            return int(f.read())

    def admin(self, cluster):
        with open("%s/agents/%s.admin" % (self.dir, cluster)) as f:
            return f.read().strip()

    def haproxy(self, command):
        return runtime(self.dir + "/gateway/haproxy.sock", command)

    def servers(self):
        """{server name: (weight, op_state, admin_state)} of every berth_slot_* backend."""
        out = {}
        for line in self.haproxy("show servers state").splitlines():
            w = line.split()
            if len(w) > 7 and not line.startswith("#") and w[1].startswith("berth_slot_"):
                out[w[3]] = (int(w[7]), int(w[5]), int(w[6]))
        return out

    def dump_logs(self, names):
        for log in names:
            path = "%s/logs/%s.log" % (self.dir, log)
            if os.path.exists(path):
                print("---- tail of " + path)
                with open(path) as f:
                    print("".join(f.readlines()[-15:]))


def run_scenario(fleet, checks, scenario, logs):
    """Runs scenario(); an AssertionError counts as one failed check and prints the tails of
    the fleet's `logs`. The fleet is always stopped, its directory removed when every check
    passed. Returns the exit code (checks.summary())."""
    try:
        scenario()
    except AssertionError as e:
        checks.ok(False, "scenario", e)
        fleet.dump_logs(logs)
    finally:
        fleet.down()
        if checks.failed == 0:
            shutil.rmtree(fleet.dir, ignore_errors=True)
    return checks.summary()
