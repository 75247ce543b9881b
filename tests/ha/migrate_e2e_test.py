"""`berth-hub migrate` (issue #22): a hub's store moved from SQLite into etcd and back, checked
with clients we did not write (kubectl and Debian's python3-kubernetes) and etcd's own JSON
gateway.

  1. A berth-hub on SQLite; kubectl creates a namespace, 20 ConfigMaps and a Secret. The Python
     client lists the ConfigMaps (its resourceVersion is where it would resume watching); then
     one ConfigMap changes, one is deleted, one is created. The hub stops.
  2. `berth-hub migrate --from sqlite --to etcd` into a real etcd; a second run into the now
     non-empty prefix is refused.
  3. The hub starts on etcd with the same data dir: the same admin kubeconfig works (the CA is
     shared through etcd), every object is there, the Secret is sealed in etcd's keys.
  4. The Python client watches from its SQLite-era resourceVersion on the etcd hub: it gets the
     three changes it missed, with their original versions, then every object at a version past
     the old store's; no version goes backwards. New writes get higher versions still.
  5. Migrating while a hub leads the prefix is refused; after the hub stops, `--from etcd --to
     sqlite` moves everything back with the versions it had on etcd.
Exit 77 (skipped) without /usr/bin/etcd.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from sim_fleet import BIN, Checks, free_port, wait_for  # noqa: E402

from kubernetes import client, config, watch  # noqa: E402

ETCD = "/usr/bin/etcd"


class Setup:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="berth-migrate-")
        self.data = os.path.join(self.dir, "hub")
        self.port = free_port()
        self.etcd_port, self.peer_port = free_port(), free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.etcd_port
        self.procs = {}

    def spawn(self, name, argv):
        log = open(os.path.join(self.dir, name + ".log"), "a")
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def start_etcd(self):
        self.spawn("etcd", [ETCD, "--data-dir", os.path.join(self.dir, "etcd"), "--log-level", "warn",
                            "--listen-client-urls", self.endpoint, "--advertise-client-urls", self.endpoint,
                            "--listen-peer-urls", "http://127.0.0.1:%d" % self.peer_port,
                            "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % self.peer_port,
                            "--initial-cluster", "default=http://127.0.0.1:%d" % self.peer_port])
        wait_for("etcd", lambda: urllib.request.urlopen(self.endpoint + "/health", timeout=2).status == 200, 20)

    def start_hub(self, *store_flags):
        self.spawn("hub", [os.path.join(BIN, "berth-hub"), "--data-dir", self.data,
                           "--listen", "127.0.0.1:%d" % self.port, *store_flags])
        wait_for("the hub", lambda: self.kubectl("get", "--raw", "/readyz", check=False).strip() == "ok", 60)

    def stop_hub(self):
        p = self.procs.pop("hub")
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)

    def kubectl(self, *args, check=True):
        r = subprocess.run(["kubectl", "--kubeconfig", os.path.join(self.data, "admin.kubeconfig"), *args],
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError("kubectl %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def migrate(self, *args):
        return subprocess.run([os.path.join(BIN, "berth-hub"), "migrate", "--data-dir", self.data,
                               "--etcd-endpoints", self.endpoint, *args], capture_output=True, text=True, timeout=120)

    def etcd_value(self, key):
        req = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
        with urllib.request.urlopen(self.endpoint + "/v3/kv/range", data=req, timeout=5) as r:
            kvs = json.load(r).get("kvs", [])
        return base64.b64decode(kvs[0]["value"]).decode(errors="replace") if kvs else None

    def core(self):
        return client.CoreV1Api(config.new_client_from_config(config_file=os.path.join(self.data, "admin.kubeconfig")))

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def configmaps(s):
    items = json.loads(s.kubectl("get", "configmaps", "-n", "team-a", "-o", "json"))["items"]
    return {i["metadata"]["name"]: i for i in items}


def on_sqlite(s, checks):
    s.start_hub()
    s.kubectl("create", "namespace", "team-a")
    for i in range(20):
        s.kubectl("create", "configmap", "cm-%d" % i, "-n", "team-a", "--from-literal=v=%d" % i)
    s.kubectl("create", "secret", "generic", "db", "-n", "team-a", "--from-literal=password=hunter2")
    listed = s.core().list_namespaced_config_map("team-a")
    rv0 = listed.metadata.resource_version
    s.kubectl("patch", "configmap", "cm-1", "-n", "team-a", "--type", "merge", "-p", '{"data":{"v":"changed"}}')
    s.kubectl("delete", "configmap", "cm-2", "-n", "team-a")
    s.kubectl("create", "configmap", "cm-new", "-n", "team-a", "--from-literal=v=new")
    before = configmaps(s)
    checks.ok(len(before) == 20, "SQLite hub: 20 ConfigMaps after the changes", len(before))
    missed = [(e["type"], e["object"].metadata.name, e["object"].metadata.resource_version)
              for e in watch.Watch().stream(s.core().list_namespaced_config_map, "team-a", resource_version=rv0,
                                            timeout_seconds=2)]
    checks.ok([(t, n) for t, n, _ in missed] == [("MODIFIED", "cm-1"), ("DELETED", "cm-2"), ("ADDED", "cm-new")],
              "SQLite hub: a watch from %s sees the three changes" % rv0, missed)
    s.stop_hub()
    return rv0, before, missed


def to_etcd(s, checks, rv0, before, missed):
    r = s.migrate("--from", "sqlite", "--to", "etcd")
    print(r.stdout.strip())
    checks.ok(r.returncode == 0 and "verified: " in r.stdout, "migrate sqlite -> etcd", r.stderr[-2000:])
    again = s.migrate("--from", "sqlite", "--to", "etcd")
    checks.ok(again.returncode == 1 and "is not empty" in again.stderr, "a second migrate into the prefix is refused",
              again.stderr[-500:])
    s.start_hub("--store", "etcd", "--etcd-endpoints", s.endpoint)
    after = configmaps(s)
    checks.ok({n: o["data"] for n, o in after.items()} == {n: o["data"] for n, o in before.items()},
              "etcd hub (same admin kubeconfig): every ConfigMap with its data", sorted(after))
    source_rv = max(int(o["metadata"]["resourceVersion"]) for o in before.values())
    checks.ok(all(int(o["metadata"]["resourceVersion"]) > source_rv for o in after.values()),
              "every object's resourceVersion is past the SQLite store's")
    password = s.kubectl("get", "secret", "db", "-n", "team-a", "-o", "jsonpath={.data.password}")
    checks.ok(base64.b64decode(password) == b"hunter2", "the Secret reads back through the etcd hub")
    raw = s.etcd_value("/berth/secrets/team-a/db") or ""
    checks.ok(raw != "" and "hunter2" not in raw and "aHVudGVyMg" not in raw, "the Secret is sealed in etcd",
              raw[:80])

    events = [(e["type"], e["object"].metadata.name, int(e["object"].metadata.resource_version))
              for e in watch.Watch().stream(s.core().list_namespaced_config_map, "team-a", resource_version=rv0,
                                            timeout_seconds=3)]
    print("watch from %s on the etcd hub: %d events, first %s" % (rv0, len(events), events[:3]))
    checks.ok([(t, n, str(v)) for t, n, v in events[:3]] == missed,
              "the watch resumes on the etcd hub: the missed changes with their original versions", events[:3])
    rewrites = events[3:]
    checks.ok(sorted(n for _, n, _ in rewrites) == sorted(after) and all(t == "MODIFIED" for t, _, _ in rewrites),
              "then every ConfigMap once, MODIFIED at its new version", rewrites[:3])
    versions = [v for _, _, v in events]
    checks.ok(versions == sorted(versions), "no resourceVersion goes backwards for the watcher")
    s.kubectl("create", "configmap", "on-etcd", "-n", "team-a", "--from-literal=v=etcd")
    created = configmaps(s)["on-etcd"]
    checks.ok(int(created["metadata"]["resourceVersion"]) > max(versions), "a new write's version is higher still")
    return created


def back_to_sqlite(s, checks, created):
    busy = s.migrate("--from", "etcd", "--to", "sqlite")
    checks.ok(busy.returncode == 1 and "stop every hub" in busy.stderr, "migrate while a hub leads is refused",
              busy.stderr[-500:])
    on_etcd = configmaps(s)
    s.stop_hub()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(os.path.join(s.data, "berth.db" + suffix)):
            shutil.move(os.path.join(s.data, "berth.db" + suffix), os.path.join(s.dir, "berth.db.sqlite-era" + suffix))
    r = s.migrate("--from", "etcd", "--to", "sqlite")
    print(r.stdout.strip())
    checks.ok(r.returncode == 0 and "verified: " in r.stdout, "migrate etcd -> sqlite", r.stderr[-2000:])
    s.start_hub()
    back = configmaps(s)
    checks.ok({n: o["metadata"]["resourceVersion"] for n, o in back.items()} ==
              {n: o["metadata"]["resourceVersion"] for n, o in on_etcd.items()},
              "SQLite hub again: every ConfigMap with the version it had on etcd", sorted(back))
    checks.ok(back["on-etcd"]["data"] == created["data"], "the write made on etcd came back")
    s.kubectl("patch", "configmap", "on-etcd", "-n", "team-a", "--type", "merge", "-p", '{"data":{"v":"sqlite"}}')
    patched = configmaps(s)["on-etcd"]
    checks.ok(int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"]),
              "and versions keep growing on SQLite")


def main():
    if not os.access(ETCD, os.X_OK):
        print("skip: no " + ETCD)
        return 77
    s, checks = Setup(), Checks()
    try:
        s.start_etcd()
        rv0, before, missed = on_sqlite(s, checks)
        created = to_etcd(s, checks, rv0, before, missed)
        back_to_sqlite(s, checks, created)
    except AssertionError as e:
        checks.ok(False, "run", e)
    finally:
        s.stop()
        if checks.failed:
            for name in ("hub", "etcd"):
                path = os.path.join(s.dir, name + ".log")
                if os.path.exists(path):
                    print("--- %s (last lines)\n%s" % (name, "".join(open(path).readlines()[-25:])))
        shutil.rmtree(s.dir, ignore_errors=True)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
