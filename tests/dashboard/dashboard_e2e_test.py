#!/usr/bin/env python3
"""The fleet dashboard (/ui) in a real browser: `berthctl fleet up` starts a real hub and three
SIMULATED clusters (tests/dashboard/fleet.yaml); kubectl applies two Workspaces; headless
Chromium (Debian's), driven by playwright-core (dashboard/test/browser_e2e.mjs), checks
  1. the fleet map shows every cluster, grouped by region, Healthy;
  2. keyboard navigation (skip link, views, Enter) and WCAG 2 AA contrast (axe-core);
  3. a workspace page shows its placements and the placement explanation;
  4. approving a rollout stage from the page is refused for a read-only token and works for
     the admin, and the page follows the rollout live;
  5. SIGKILL of the agent running `chat` turns its cluster Unhealthy on the open page and
     shows the failover, without a reload.
Screenshots go to $BERTH_ARTIFACTS_DIR/dashboard (default build/test-artifacts/dashboard)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from sim_fleet import Checks, Fleet, wait_for  # noqa: E402

checks = Checks()
ok = checks.ok
SCRIPT = os.path.join(ROOT, "dashboard", "test", "browser_e2e.mjs")


def token_of(kubeconfig_text):
    m = re.search(r"^\s*token:\s*(\S+)", kubeconfig_text, re.M)
    if not m:
        raise AssertionError("no token in kubeconfig")
    return m.group(1)


def rollout(fleet, name):
    return fleet.workspace(name).get("status", {}).get("rollout", {})


def prepare(fleet):
    fleet.kubectl("create", "namespace", "dash")
    fleet.kubectl("apply", "-f", os.path.join(HERE, "workspaces.yaml"))
    wait_for("chat and canary placed and Ready", lambda: all(
        sum(p.get("readyReplicas", 0) for p in fleet.workspace(n).get("status", {}).get("placements", [])) >= want
        for n, want in (("chat", 1), ("canary", 3))), 120)
    fleet.kubectl("patch", "workspace", "canary", "-n", "dash", "--type", "merge",
                  "-p", json.dumps({"inference": {"image": "example.com/vllm:v2"}}))
    wait_for("canary's us stage awaits approval", lambda: rollout(fleet, "canary").get("phase") == "AwaitingApproval", 120)
    ok(True, "canary awaits approval of stage %r" % rollout(fleet, "canary").get("stageNames", [])[1:2])
    viewer = berthctl(fleet, "user", "create", "viewer")
    fleet.kubectl("create", "clusterrolebinding", "viewer-view", "--clusterrole=view", "--user=viewer")
    with open(fleet.dir + "/viewer.kubeconfig", "w") as f:
        f.write(viewer.stdout)
    # `berthctl dashboard` hands the browser the kubeconfig's token in the URL's fragment.
    admin = berthctl(fleet, "dashboard", "--print-url")
    ok(admin.stdout.strip() == "https://127.0.0.1:%d/ui/#token=%s" % (fleet.hub_port, token_of(open(fleet.dir + "/admin.kubeconfig").read()))
       and "do not share" in admin.stderr, "berthctl dashboard --print-url: the page with the admin's token in the fragment")
    view = berthctl(fleet, "dashboard", "--print-url", "--kubeconfig", fleet.dir + "/viewer.kubeconfig")
    ok(view.stdout.strip().endswith("#token=" + token_of(viewer.stdout)), "and with the viewer's")
    return admin.stdout.strip(), view.stdout.strip()


def berthctl(fleet, *args):
    r = subprocess.run([os.path.join(os.environ.get("BERTH_BIN_DIR", ROOT + "/build/bin"), "berthctl"), *args],
                       capture_output=True, text=True, env=fleet.env, timeout=60)
    if r.returncode != 0:
        raise AssertionError("berthctl %s: %s" % (" ".join(args), r.stderr))
    return r


def browse(fleet, admin_url, view_url, shots):
    env = dict(os.environ, HUB_URL="https://127.0.0.1:%d" % fleet.hub_port, ADMIN_URL=admin_url, VIEW_URL=view_url,
               CLUSTERS="eu-1,eu-2,us-1", WORKSPACE="dash/chat", ROLLOUT_WORKSPACE="dash/canary", SHOTS=shots)
    node = subprocess.Popen(["node", SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                            cwd=os.path.join(ROOT, "dashboard"))
    try:
        for line in node.stdout:
            line = line.rstrip("\n")
            print("  browser: " + line, flush=True)
            if line.startswith("ok - ") or line.startswith("not ok - "):
                ok(line.startswith("ok - "), "browser: " + line.split(" - ", 1)[1])
            elif line.startswith("STEP kill-agent-of "):
                name = line.split()[-1].split("/")[1]
                cluster = next(p["cluster"] for p in fleet.workspace(name)["status"]["placements"] if p.get("replicas"))
                os.kill(fleet.pid(cluster), signal.SIGKILL)
                print("  SIGKILLed the agent of %s (runs %s)" % (cluster, name), flush=True)
                node.stdin.write(cluster + "\n")
                node.stdin.flush()
        rc = node.wait(timeout=60)
    finally:
        if node.poll() is None:
            node.kill()
    ok(rc == 0, "the browser session passed (exit %d)" % rc)


def main():
    if not shutil.which("node") or not os.path.exists(os.environ.get("CHROMIUM", "/usr/bin/chromium")):
        print("node or /usr/bin/chromium is missing: run scripts/install-deps.sh")
        return 1
    shots = os.path.join(os.environ.get("BERTH_ARTIFACTS_DIR", os.path.join(ROOT, "build", "test-artifacts")), "dashboard")
    os.makedirs(shots, exist_ok=True)
    fleet = Fleet(os.path.join(HERE, "fleet.yaml"), "dash", prefix="berth-dash-")
    try:
        fleet.up("--time-scale", "0.05")
        admin_url, view_url = prepare(fleet)
        browse(fleet, admin_url, view_url, shots)
        ok(len([f for f in os.listdir(shots) if f.endswith(".png")]) >= 6, "screenshots saved in " + shots)
    except Exception as e:  # noqa: BLE001 - report, then fail
        ok(False, "dashboard e2e", repr(e))
        fleet.dump_logs(["hub", "eu-1", "eu-2", "us-1"])
    finally:
        fleet.down()
        shutil.rmtree(fleet.dir, ignore_errors=True)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())
