"""Shared by the deploy/ checks: where the files are, how findings are reported, and
parsers for rendered manifests, Dockerfiles, systemd units and --help output."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("BERTH_SOURCE_DIR", Path(__file__).resolve().parents[2]))
DEPLOY = ROOT / "deploy"
HUB_KUSTOMIZE = DEPLOY / "kubernetes" / "hub"
AGENT_KUSTOMIZE = DEPLOY / "kubernetes" / "agent"
AGENT_SECRET_TEMPLATE = AGENT_KUSTOMIZE / "secret.template.yaml"
GATEWAY_KUSTOMIZE = DEPLOY / "kubernetes" / "gateway"
GATEWAY_SECRET_TEMPLATE = GATEWAY_KUSTOMIZE / "secret.template.yaml"
# Secrets the operator creates by hand: documented, never applied by a kustomization.
SECRET_TEMPLATES = (AGENT_SECRET_TEMPLATE, GATEWAY_SECRET_TEMPLATE)
# Example overlays: an externally reachable hub and a member agent that joins it.
HUB_EXAMPLE = DEPLOY / "kubernetes" / "examples" / "hub-loadbalancer"
AGENT_EXAMPLE = DEPLOY / "kubernetes" / "examples" / "agent-member"
HUB_DIRS = (HUB_KUSTOMIZE, HUB_EXAMPLE)
AGENT_DIRS = (AGENT_KUSTOMIZE, AGENT_EXAMPLE)
GATEWAY_DIRS = (GATEWAY_KUSTOMIZE,)
DOCKERFILES = sorted((DEPLOY / "docker").glob("*.Dockerfile"))
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
OPERATIONS_MD = ROOT / "docs" / "OPERATIONS.md"
BINARIES = ("berth-hub", "berth-agent", "berthctl", "berth-gateway")


class Findings:
    def __init__(self):
        self.failures = []
        self.passed = 0

    def ok(self, what):
        self.passed += 1
        print(f"ok   {what}")

    def fail(self, what):
        self.failures.append(what)
        print(f"FAIL {what}", file=sys.stderr)

    def check(self, condition, what, why):
        if condition:
            self.ok(what)
        else:
            self.fail(f"{what}: {why}")

    def finish(self):
        print(f"{self.passed} passed, {len(self.failures)} failed")
        return 1 if self.failures else 0


def die(message):
    print(f"FAIL {message}", file=sys.stderr)
    sys.exit(1)


def rel(path):
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- manifests via node/kubectl

def rendered_objects(*sources):
    """[(source, object)] from `kubectl kustomize` dirs and YAML files, via manifests.mjs
    (the yaml package of tests/workspace/k8s-schema parses; python needs no YAML module)."""
    for tool in ("node", "kubectl"):
        if shutil.which(tool) is None:
            die(f"{tool} is not installed; run `make deps` (scripts/install-deps.sh)")
    cmd = ["node", str(Path(__file__).parent / "manifests.mjs"), "json", *map(rel, sources)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        die(f"{' '.join(cmd)}:\n{run.stderr}")
    return [(item["source"], item["object"]) for item in json.loads(run.stdout)]


def containers_of(obj):
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("initContainers", []) + spec.get("containers", [])


def binary_of_image(image):
    """The Berth binary a container image runs: the image repository's last path segment."""
    name = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    return name if name in BINARIES else None



# ---------------------------------------------------------------- parsers

def help_text(binary, subcommands=()):
    bin_dir = os.environ.get("BERTH_BIN_DIR")
    if not bin_dir:
        die("BERTH_BIN_DIR is not set (ctest sets it to build/bin)")
    path = Path(bin_dir) / binary
    if not path.exists():
        die(f"{path} does not exist: build it first (`cmake --build build --target {binary}`); "
            "the deploy files cannot be checked against a binary that is not built")
    run = subprocess.run([str(path), *subcommands, "--help"], capture_output=True, text=True,
                         timeout=30)
    if run.returncode != 0:
        die(f"{binary} {' '.join(subcommands)} --help exited {run.returncode}: {run.stderr.strip()}")
    return run.stdout + run.stderr


def flag_in_help(flag, text):
    return re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", text) is not None


def flags_of(argv):
    """--name tokens of an argument vector (--name=value counts as --name)."""
    return [a.split("=", 1)[0] for a in argv if a.startswith("--") and len(a) > 2]


def unit_exec_starts(path):
    """ExecStart= command lines of a systemd unit, continuation lines joined."""
    text = path.read_text().replace("\\\n", " ")
    return [line.split("=", 1)[1].strip() for line in text.splitlines()
            if line.startswith("ExecStart=")]


def dockerfile_instructions(path):
    """[(INSTRUCTION, arguments)] with comments dropped and continuation lines joined."""
    lines = [l for l in path.read_text().splitlines() if not l.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        instr, _, args = line.partition(" ")
        out.append((instr.upper(), args.strip()))
    return out


def exec_form(args, where):
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def arg_values(argv, flag):
    out = []
    for i, a in enumerate(argv):
        if a.startswith(flag + "="):
            out.append(a.split("=", 1)[1])
        elif a == flag and i + 1 < len(argv):
            out.append(argv[i + 1])
    return out
