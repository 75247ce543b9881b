#!/usr/bin/env python3
"""Static checks of deploy/: the files operators run agree with the binaries they start.

    check_deploy.py flags          every --flag used exists in the binary's --help
    check_deploy.py rbac --calls-binary B   the agent's ClusterRole covers exactly B's requests
    check_deploy.py manifests      kustomize renders, schemas validate, deployment invariants
    check_deploy.py dockerfiles    packages exist and cover ldd, COPY sources, non-root USER
    check_deploy.py systemd        units carry the hardening and state directories
    check_deploy.py operations     the hub, started with the Deployment's args, follows the guide

Runs from the repository root (ctest sets the cwd); binaries come from $BERTH_BIN_DIR.
Exit 0 = every check passed; 1 = a finding (each printed as FAIL with the file and what to do).
Each check first proves it can fail on a deliberately wrong input (self-check).
"""

import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(os.environ.get("BERTH_SOURCE_DIR", Path(__file__).resolve().parents[2]))
DEPLOY = ROOT / "deploy"
HUB_KUSTOMIZE = DEPLOY / "kubernetes" / "hub"
AGENT_KUSTOMIZE = DEPLOY / "kubernetes" / "agent"
AGENT_SECRET_TEMPLATE = AGENT_KUSTOMIZE / "secret.template.yaml"
# Example overlays: an externally reachable hub and a member agent that joins it.
HUB_EXAMPLE = DEPLOY / "kubernetes" / "examples" / "hub-loadbalancer"
AGENT_EXAMPLE = DEPLOY / "kubernetes" / "examples" / "agent-member"
HUB_DIRS = (HUB_KUSTOMIZE, HUB_EXAMPLE)
AGENT_DIRS = (AGENT_KUSTOMIZE, AGENT_EXAMPLE)
DOCKERFILES = sorted((DEPLOY / "docker").glob("*.Dockerfile"))
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
OPERATIONS_MD = ROOT / "docs" / "OPERATIONS.md"
BINARIES = ("berth-hub", "berth-agent", "berthctl")


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


# ---------------------------------------------------------------- (1) flags

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


def doc_command_lines(path):
    """Command lines in ``` blocks of a Markdown file that start with a Berth binary."""
    if not path.exists():
        return []
    out, in_block = [], False
    text = path.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        line = line.strip()
        line = re.sub(r"^\$\s+", "", line)
        # Commands inside $(...) or after a pipe start a new command line too.
        for part in re.split(r"\$\(|\|\s*|&&\s*|;\s*", line):
            part = part.strip()
            words = part.split()
            if words and Path(words[0]).name in BINARIES:
                out.append(part)
    return out


def invocations():
    """[(where, binary, argv)] for every place deploy/ or the operations guide runs a binary."""
    found = []
    for source, obj in rendered_objects(*HUB_DIRS, *AGENT_DIRS):
        for c in containers_of(obj):
            binary = binary_of_image(c.get("image", ""))
            if binary:
                where = f"{source} {obj['kind']}/{obj['metadata']['name']} container {c['name']}"
                found.append((where, binary, c.get("command", [])[1:] + c.get("args", [])))
    for path in DOCKERFILES:
        entry, cmd = [], []
        for instr, args in dockerfile_instructions(path):
            if instr == "ENTRYPOINT":
                entry = exec_form(args, path) or []
            elif instr == "CMD":
                cmd = exec_form(args, path) or []
        if entry and Path(entry[0]).name in BINARIES:
            found.append((rel(path), Path(entry[0]).name, entry[1:] + cmd))
    for path in UNITS:
        for line in unit_exec_starts(path):
            words = shlex.split(line)
            if words and Path(words[0].lstrip("-@+!")).name in BINARIES:
                found.append((rel(path), Path(words[0]).name, words[1:]))
    for line in doc_command_lines(OPERATIONS_MD):
        words = shlex.split(line, comments=True)
        found.append((f"{rel(OPERATIONS_MD)}: {line[:60]}", Path(words[0]).name, words[1:]))
    return found


def check_flags(findings):
    help_cache = {}

    def help_for(binary, argv):
        subcommands = []
        if binary == "berthctl":  # berthctl token create ...: --help of the subcommand
            for word in argv:
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                subcommands.append(word)
        key = (binary, tuple(subcommands))
        if key not in help_cache:
            help_cache[key] = help_text(binary, subcommands)
        return help_cache[key]

    # Self-check: a flag no binary has is reported.
    if flag_in_help("--no-such-flag", help_for("berth-hub", [])):
        die("self-check: berth-hub --help claims --no-such-flag")
    if not flag_in_help("--data-dir", help_for("berth-hub", [])):
        die("self-check: berth-hub --help does not show --data-dir; is the help parser broken?")

    seen_binaries = set()
    for where, binary, argv in invocations():
        seen_binaries.add(binary)
        text = help_for(binary, argv)
        for flag in flags_of(argv):
            findings.check(flag_in_help(flag, text), f"{where}: {binary} {flag}",
                           f"{binary} has no such flag (see `{binary} --help`); fix the file "
                           "or add the flag to the binary")
    for binary in BINARIES:
        findings.check(binary in seen_binaries, f"deploy/ runs {binary}",
                       "no manifest, Dockerfile or unit starts it")


# ---------------------------------------------------------------- (2) RBAC

def kube_calls(calls_binary):
    """The agent kube backend's requests. Prefers `berth-agent --print-kube-requests` when the
    binary has it; otherwise the helper linked against the agent library."""
    bin_dir = os.environ.get("BERTH_BIN_DIR", "")
    agent = Path(bin_dir) / "berth-agent"
    cmd = [calls_binary]
    if agent.exists() and flag_in_help("--print-kube-requests", help_text("berth-agent")):
        cmd = [str(agent), "--print-kube-requests"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        die(f"{' '.join(cmd)} exited {run.returncode}: {run.stderr.strip()}")
    calls = json.loads(run.stdout)
    for c in calls:
        c.setdefault("apiGroup", c.get("api_group", ""))
    if not calls:
        die(f"{' '.join(cmd)} printed no requests")
    return calls, " ".join(cmd)


VERB_OF_METHOD = {"PATCH": "patch", "PUT": "update", "POST": "create"}


def request_attributes(method, path):
    """What the Kubernetes authorizer sees for a request: (apiGroup, resource, verb, namespaced).
    Derived from the method and path alone, independently of the agent's declared verb."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        raise ValueError(f"not a resource path: {path}")
    namespaced = len(rest) >= 3 and rest[0] == "namespaces"
    if namespaced:
        rest = rest[2:]
    resource, named = rest[0], len(rest) >= 2
    if len(rest) >= 3:
        resource += "/" + rest[2]  # subresource
    if method == "GET":
        verb = ("watch" if "watch=" in path else "get") if named else "list"
    elif method == "DELETE":
        verb = "delete" if named else "deletecollection"
    else:
        verb = VERB_OF_METHOD[method]
    return group, resource, verb, namespaced


def agent_cluster_rules(objects):
    """Rules granted to the agent's ServiceAccount cluster-wide (ClusterRoleBindings)."""
    deployments = [o for _, o in objects if o["kind"] == "Deployment"]
    if len(deployments) != 1:
        die(f"expected one Deployment in {rel(AGENT_KUSTOMIZE)}, found {len(deployments)}")
    dep = deployments[0]
    sa = dep["spec"]["template"]["spec"].get("serviceAccountName")
    ns = dep["metadata"]["namespace"]
    if not sa:
        die("the agent Deployment names no serviceAccountName")
    roles = {o["metadata"]["name"]: o for _, o in objects if o["kind"] == "ClusterRole"}
    rules = []
    for _, o in objects:
        if o["kind"] != "ClusterRoleBinding":
            continue
        if not any(s.get("kind") == "ServiceAccount" and s.get("name") == sa and
                   s.get("namespace") == ns for s in o.get("subjects", [])):
            continue
        ref = o["roleRef"]
        if ref["kind"] != "ClusterRole" or ref["name"] not in roles:
            die(f"ClusterRoleBinding/{o['metadata']['name']} refers to missing {ref}")
        rules += roles[ref["name"]].get("rules", [])
    return sa, ns, rules


def uncovered(calls, rules):
    missing = []
    for c in calls:
        if not any(c["apiGroup"] in r.get("apiGroups", []) and c["resource"] in r.get("resources", [])
                   and c["verb"] in r.get("verbs", []) for r in rules):
            missing.append(c)
    return missing


def check_rbac(findings, calls_binary):
    calls, source = kube_calls(calls_binary)
    print(f"# {len(calls)} requests from {source}")
    objects = rendered_objects(AGENT_KUSTOMIZE)
    sa, ns, rules = agent_cluster_rules(objects)
    findings.check(bool(rules), f"ServiceAccount {ns}/{sa} is bound to a ClusterRole",
                   "no ClusterRoleBinding grants it anything")

    # The declared RBAC attributes are what the authorizer will see for that method and path.
    for c in calls:
        what = f"{c['method']} {c['path']}"
        group, resource, verb, _ = request_attributes(c["method"], c["path"])
        findings.check((group, resource, verb) == (c["apiGroup"], c["resource"], c["verb"]),
                       f"{what} is ({group!r}, {resource}, {verb})",
                       f"the agent declares ({c['apiGroup']!r}, {c['resource']}, {c['verb']}); fix "
                       "KubeBackend::ApiCalls()")

    # No wildcards, no non-resource URLs, nothing beyond what a call needs.
    for r in rules:
        for field in ("apiGroups", "resources", "verbs"):
            findings.check("*" not in r.get(field, []), f"rule {r.get('resources')} has no '*' in {field}",
                           "wildcards grant future resources/verbs: list them explicitly")
        findings.check("nonResourceURLs" not in r, f"rule {r.get('resources')} has no nonResourceURLs",
                       "the kube backend requests no non-resource URLs")

    # Every request is allowed...
    missing = uncovered(calls, rules)
    for c in calls:
        findings.check(c not in missing, f"RBAC allows {c['method']} {c['path']} ({c['verb']} "
                       f"{c['apiGroup'] or 'core'}/{c['resource']})",
                       f"add verb {c['verb']!r} on {c['resource']!r} (apiGroup {c['apiGroup']!r}) to "
                       f"{rel(AGENT_KUSTOMIZE / 'rbac.yaml')}")
    # ...and every granted (group, resource, verb) is needed by some request.
    needed = {(c["apiGroup"], c["resource"], c["verb"]) for c in calls}
    for r in rules:
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for v in r.get("verbs", []):
                    findings.check((g, res, v) in needed, f"granted {v} {g or 'core'}/{res} is used",
                                   "the kube backend never sends it: remove it (least privilege)")

    # Self-check: a request the agent must never send (read Secrets) is not covered, and
    # dropping any one rule leaves some request uncovered.
    if not uncovered([{"apiGroup": "", "resource": "secrets", "verb": "get"}], rules):
        findings.fail("self-check: the agent's ClusterRole allows reading Secrets")
    for i in range(len(rules)):
        if not uncovered(calls, rules[:i] + rules[i + 1:]):
            findings.fail(f"self-check: rule {rules[i]} can be removed without losing a request")


# ---------------------------------------------------------------- (3) manifests

def run_schema_validation(findings):
    cmd = ["node", str(Path(__file__).parent / "manifests.mjs"), "validate",
           *map(rel, HUB_DIRS + AGENT_DIRS), rel(AGENT_SECRET_TEMPLATE)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    print(run.stdout, end="")
    findings.check(run.returncode == 0, "manifests validate against the Kubernetes schemas",
                   run.stderr.strip() or "manifests.mjs failed")


def check_pod_hardening(findings, where, dep):
    pod = dep["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    findings.check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0,
                   f"{where} runs as non-root", "set securityContext.runAsNonRoot and a non-zero runAsUser")
    for c in containers_of(dep):
        csc = c.get("securityContext", {})
        findings.check(csc.get("readOnlyRootFilesystem") is True, f"{where}/{c['name']} readOnlyRootFilesystem",
                       "set securityContext.readOnlyRootFilesystem: true")
        findings.check(csc.get("allowPrivilegeEscalation") is False,
                       f"{where}/{c['name']} allowPrivilegeEscalation false", "set it to false")
        findings.check("ALL" in csc.get("capabilities", {}).get("drop", []),
                       f"{where}/{c['name']} drops ALL capabilities", "add capabilities.drop: [ALL]")
        findings.check(bool(c.get("resources", {}).get("requests")), f"{where}/{c['name']} has resource requests",
                       "set resources.requests")
        findings.check("livenessProbe" in c, f"{where}/{c['name']} has a livenessProbe", "add one")
    findings.check(dep["spec"].get("strategy", {}).get("type") == "Recreate", f"{where} strategy Recreate",
                   "two pods must never run at once (one SQLite writer / one member credential)")
    findings.check(dep["spec"].get("replicas") == 1, f"{where} has 1 replica", "set spec.replicas: 1")


def arg_values(argv, flag):
    out = []
    for i, a in enumerate(argv):
        if a.startswith(flag + "="):
            out.append(a.split("=", 1)[1])
        elif a == flag and i + 1 < len(argv):
            out.append(argv[i + 1])
    return out


def check_hub_manifests(findings, objects):
    by_kind = {}
    for _, o in objects:
        by_kind.setdefault(o["kind"], []).append(o)
    deps = by_kind.get("Deployment", [])
    if len(deps) != 1:
        die(f"expected one Deployment in {rel(HUB_KUSTOMIZE)}, found {len(deps)}")
    dep = deps[0]
    ns = dep["metadata"]["namespace"]
    findings.check(ns == "berth-system", "hub namespace is berth-system", f"it is {ns}")
    check_pod_hardening(findings, "hub Deployment", dep)
    [c] = [c for c in containers_of(dep) if binary_of_image(c["image"]) == "berth-hub"]
    argv = c.get("args", [])
    listen = arg_values(argv, "--listen")
    findings.check(len(listen) == 1, "hub passes --listen", "pass --listen=0.0.0.0:PORT")
    port = int(listen[0].rsplit(":", 1)[1]) if listen else None
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    findings.check(port in ports.values(), f"hub containerPort matches --listen port {port}",
                   f"containerPorts are {ports}")

    data_dir = arg_values(argv, "--data-dir")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"].get("volumes", [])}
    pvc_mount = [p for p, n in mounts.items() if "persistentVolumeClaim" in volumes.get(n, {})]
    findings.check(bool(data_dir) and any(data_dir[0] == p or data_dir[0].startswith(p + "/")
                                          for p in pvc_mount),
                   f"hub --data-dir {data_dir} is on the PVC", f"PVC mounts: {pvc_mount}")
    claims = {o["metadata"]["name"] for o in by_kind.get("PersistentVolumeClaim", [])}
    for v in volumes.values():
        if "persistentVolumeClaim" in v:
            findings.check(v["persistentVolumeClaim"]["claimName"] in claims,
                           f"hub PVC {v['persistentVolumeClaim']['claimName']} is in the kustomization",
                           "add pvc.yaml to resources")

    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = c.get(probe, {}).get("httpGet", {})
        target = get.get("port")
        target = ports.get(target, target)
        findings.check(get.get("path") == path and get.get("scheme") == "HTTPS" and target == port,
                       f"hub {probe} is HTTPS {path} on port {port}", f"it is {get}")

    sans = set(arg_values(argv, "--tls-san"))
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    services = [s for s in by_kind.get("Service", [])
                if s["spec"].get("selector") and
                all(pod_labels.get(k) == v for k, v in s["spec"]["selector"].items())]
    findings.check(bool(services), "a Service selects the hub pods", "add service.yaml")
    for s in services:
        name, sns = s["metadata"]["name"], s["metadata"]["namespace"]
        for dns in (name, f"{name}.{sns}", f"{name}.{sns}.svc", f"{name}.{sns}.svc.cluster.local"):
            findings.check(dns in sans, f"hub serving cert names {dns}",
                           f"add --tls-san={dns} so clients of Service/{name} can verify the hub")
        for p in s["spec"]["ports"]:
            target = ports.get(p.get("targetPort"), p.get("targetPort"))
            findings.check(target == port, f"Service/{name} port {p['port']} reaches the hub port {port}",
                           f"targetPort is {p.get('targetPort')}")
        findings.check(any(p["port"] == 443 for p in s["spec"]["ports"]), f"Service/{name} serves 443",
                       "expose port 443")
    sa = dep["spec"]["template"]["spec"].get("serviceAccountName")
    findings.check(sa in {o["metadata"]["name"] for o in by_kind.get("ServiceAccount", [])},
                   f"hub ServiceAccount {sa} exists", "add serviceaccount.yaml")
    return sans


def check_agent_manifests(findings, objects):
    by_kind = {}
    for _, o in objects:
        by_kind.setdefault(o["kind"], []).append(o)
    [dep] = by_kind["Deployment"]
    check_pod_hardening(findings, "agent Deployment", dep)
    [c] = [c for c in containers_of(dep) if binary_of_image(c["image"]) == "berth-agent"]
    argv = c.get("args", [])
    findings.check(arg_values(argv, "--backend") == ["kube"], "agent runs --backend=kube",
                   "members run the kube backend")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in dep["spec"]["template"]["spec"].get("volumes", [])}
    state = arg_values(argv, "--state-dir")
    findings.check(bool(state) and state[0] in mounts and
                   any(k in volumes[mounts[state[0]]] for k in ("persistentVolumeClaim", "emptyDir")),
                   f"agent --state-dir {state} is a volume", "mount a PVC (or emptyDir) there")
    ca = arg_values(argv, "--hub-ca")
    ca_dir = str(Path(ca[0]).parent) if ca else None
    findings.check(ca_dir in mounts and "secret" in volumes[mounts[ca_dir]],
                   f"agent --hub-ca {ca} comes from a Secret", "mount the Secret berth-agent-hub there")
    # $(VAR) references must resolve, or the kubelet passes them through literally.
    env = {e["name"] for e in c.get("env", [])}
    for a in argv:
        for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", a):
            findings.check(var in env, f"agent arg {a} has env {var}", "define it in env")
    # The Secret the Deployment reads is the one the template documents.
    template = rendered_objects(AGENT_SECRET_TEMPLATE)
    [(_, secret)] = template
    keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    used = {(e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
    used |= {(v["secret"]["secretName"], i["key"]) for v in volumes.values() if "secret" in v
             for i in v["secret"].get("items", [])}
    for name, key in sorted(used):
        findings.check(name == secret["metadata"]["name"] and key in keys,
                       f"agent reads Secret {name} key {key} documented in {rel(AGENT_SECRET_TEMPLATE)}",
                       "keep the template and the Deployment in step")
    findings.check(not any(o["kind"] == "Secret" for _, o in objects),
                   "the agent kustomization applies no Secret",
                   "a Secret in the base would overwrite the operator's real join token and CA")


def check_manifests(findings):
    run_schema_validation(findings)
    sans = {}
    for d in HUB_DIRS:
        print(f"# {rel(d)}")
        sans[d] = check_hub_manifests(findings, rendered_objects(d))
    for d in AGENT_DIRS:
        print(f"# {rel(d)}")
        check_agent_manifests(findings, rendered_objects(d))
    # The example member dials a name the example hub's serving certificate holds.
    [cm] = [o for _, o in rendered_objects(AGENT_EXAMPLE) if o["kind"] == "ConfigMap"]
    host = re.sub(r"^https://", "", cm["data"]["hub-url"]).split("/")[0].rsplit(":", 1)[0]
    findings.check(host in sans[HUB_EXAMPLE], f"example agent dials {host}, a SAN of the example hub",
                   f"the hub's --tls-san values are {sorted(sans[HUB_EXAMPLE])}")


# ---------------------------------------------------------------- (4) Dockerfiles

def install_deps_packages():
    """The base package array of scripts/install-deps.sh."""
    text = (ROOT / "scripts" / "install-deps.sh").read_text()
    m = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M)
    if not m:
        die("scripts/install-deps.sh: no packages=( ... ) array")
    words = []
    for line in m.group(1).splitlines():
        words += line.split("#", 1)[0].split()
    return words


def apt_installed(run_args):
    """Packages named by `apt-get install` in one RUN instruction."""
    pkgs = []
    for command in re.split(r"&&|;", run_args):
        words = command.split()
        if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
            pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


_APT_KNOWN = {}


def apt_prefetch(pkgs):
    """Asks apt-cache about many packages in one run (each run costs a second or more)."""
    todo = sorted(set(pkgs) - set(_APT_KNOWN))
    if not todo:
        return
    run = subprocess.run(["apt-cache", "show", "--no-all-versions", *todo], capture_output=True, text=True)
    found = set(re.findall(r"^Package:\s*(\S+)", run.stdout, re.M))
    for p in todo:
        _APT_KNOWN[p] = p in found


def apt_exists(pkg):
    apt_prefetch([pkg])
    return _APT_KNOWN[pkg]


def apt_closure(pkgs):
    """The packages and everything they Depend/PreDepend on (recursively)."""
    run = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                          "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *pkgs],
                         capture_output=True, text=True)
    closure = set(pkgs)
    for line in run.stdout.splitlines():
        m = re.match(r"\s*(?:\|)?(?:Pre)?Depends:\s+<?([^\s>]+)>?", line)
        if m:
            closure.add(m.group(1).split(":")[0])
        elif line and not line.startswith(" "):
            closure.add(line.strip().split(":")[0])
    return closure


def packages_of_binary(binary_path):
    """Debian packages owning the shared libraries `ldd` resolves for a binary."""
    run = subprocess.run(["ldd", str(binary_path)], capture_output=True, text=True)
    if run.returncode != 0:
        die(f"ldd {binary_path}: {run.stderr.strip()}")
    libs = {}
    for line in run.stdout.splitlines():
        m = re.search(r"=>\s+(/\S+)", line)
        if not m:
            continue
        lib = m.group(1)
        # dpkg knows a library under one of its paths (merged /usr: /lib → /usr/lib).
        candidates = {lib, os.path.realpath(lib)}
        candidates |= {c[4:] if c.startswith("/usr/") else "/usr" + c for c in list(candidates)}
        libs[lib] = candidates
    all_paths = sorted({c for cs in libs.values() for c in cs})
    query = subprocess.run(["dpkg", "-S", *all_paths], capture_output=True, text=True)
    owner_of = {}
    for line in query.stdout.splitlines():
        owners, _, path = line.partition(": ")
        owner_of[path.strip()] = owners.split(",")[0].split(":")[0].strip()
    pkgs, unowned = set(), []
    for lib, candidates in libs.items():
        owners = [owner_of[c] for c in candidates if c in owner_of]
        if owners:
            pkgs.add(owners[0])
        else:
            unowned.append(lib)
    return pkgs, unowned


def check_dockerfile(findings, path, base_packages, components):
    name = path.name[: -len(".Dockerfile")]
    where = rel(path)
    instrs = dockerfile_instructions(path)
    stages, current = [], None
    for instr, args in instrs:
        if instr == "FROM":
            current = {"from": args, "instrs": []}
            stages.append(current)
        elif current is not None:
            current["instrs"].append((instr, args))
    findings.check(len(stages) >= 2, f"{where} is multi-stage", "use a build stage and a runtime stage")
    if len(stages) < 2:
        return
    build, runtime = stages[0], stages[-1]
    findings.check(build["from"].split()[0] == "debian:bookworm", f"{where} builds on debian:bookworm",
                   f"FROM {build['from']}")
    findings.check(runtime["from"] == "debian:bookworm-slim", f"{where} runs on debian:bookworm-slim",
                   f"FROM {runtime['from']}")
    stage_names = {s["from"].split()[-1] for s in stages[:-1] if " AS " in s["from"].upper()}

    build_pkgs = [p for i, a in build["instrs"] if i == "RUN" for p in apt_installed(a)]
    missing = [p for p in base_packages if p not in build_pkgs]
    findings.check(not missing, f"{where} build stage installs the packages of scripts/install-deps.sh",
                   f"missing {missing}")
    runtime_pkgs = [p for i, a in runtime["instrs"] if i == "RUN" for p in apt_installed(a)]
    for p in build_pkgs + runtime_pkgs:
        findings.check(apt_exists(p), f"{where} package {p} exists in Debian",
                       "`apt-cache show` does not know it: check the name (bookworm)")

    # Every component the build needs is copied into the build stage.
    copied = set()
    for stage in stages:
        for instr, args in stage["instrs"]:
            if instr not in ("COPY", "ADD"):
                continue
            words = args.split()
            opts = [w for w in words if w.startswith("--")]
            srcs = [w for w in words if not w.startswith("--")][:-1]
            from_stage = [o.split("=", 1)[1] for o in opts if o.startswith("--from=")]
            if from_stage:
                findings.check(from_stage[0] in stage_names, f"{where} COPY --from={from_stage[0]} names a stage",
                               f"stages are {sorted(stage_names)}")
                continue
            for src in srcs:
                findings.check((ROOT / src).exists(), f"{where} COPY source {src} exists",
                               "the build context is the repository root; fix the path")
                copied.add(src.rstrip("/"))
    # Every component the root CMakeLists.txt adds reaches the build context.
    ignore_file = path.with_name(path.name + ".dockerignore")
    ignored = []
    if ignore_file.exists():
        ignored = [l.strip() for l in ignore_file.read_text().splitlines()
                   if l.strip() and not l.startswith("#")]
    findings.check(ignore_file.exists(), f"{where} has {ignore_file.name}",
                   "without it build/ and node_modules/ are sent as build context")
    for comp in components:
        excluded = [p for p in ignored
                    if fnmatch.fnmatch(comp, p.rstrip("/")) or fnmatch.fnmatch(comp + "/", p)]
        findings.check(("." in copied or comp in copied) and not excluded,
                       f"{where} copies component {comp}/",
                       f"CMakeLists.txt adds it; the image build would fail without it "
                       f"(copied: {sorted(copied)}, excluded by {excluded})")

    build_runs = " ".join(a for i, a in build["instrs"] if i == "RUN")
    findings.check(f"--target {name}" in build_runs, f"{where} builds target {name}",
                   "cmake --build ... --target NAME")
    copies_binary = any(i == "COPY" and f"/bin/{name} " in a + " " and "--from=" in a
                        for i, a in runtime["instrs"])
    findings.check(copies_binary, f"{where} copies the built {name} into the runtime stage",
                   "COPY --from=build /build/bin/NAME ...")
    entry = [exec_form(a, path) for i, a in runtime["instrs"] if i == "ENTRYPOINT"]
    findings.check(bool(entry) and entry[-1] and Path(entry[-1][0]).name == name,
                   f"{where} ENTRYPOINT is {name} (exec form)", f"ENTRYPOINT is {entry}")

    users = [a for i, a in runtime["instrs"] if i == "USER"]
    user = users[-1].split(":")[0] if users else "root"
    findings.check(user not in ("root", "0"), f"{where} runs as non-root (USER {user})",
                   "add USER with a non-root uid")
    if user.isdigit():
        creates = " ".join(a for i, a in runtime["instrs"] if i == "RUN")
        findings.check(f"--uid {user}" in creates, f"{where} creates uid {user}",
                       "useradd --uid UID so the user has a name and home")

    exposed = [a for i, a in runtime["instrs"] if i == "EXPOSE"]
    cmd = [exec_form(a, path) for i, a in runtime["instrs"] if i == "CMD"]
    if name == "berth-hub":
        listen = arg_values(cmd[-1] if cmd and cmd[-1] else [], "--listen")
        port = listen[0].rsplit(":", 1)[1] if listen else None
        findings.check(port is not None and any(port in e.split() for e in exposed),
                       f"{where} EXPOSEs the --listen port {port}", f"EXPOSE {exposed}")
    if name == "berth-agent":
        findings.check(bool(exposed), f"{where} EXPOSEs the admin port", "EXPOSE the --admin-listen port")

    # The runtime packages (with their dependencies) provide every library the binary links.
    binary = Path(os.environ.get("BERTH_BIN_DIR", "")) / name
    if not binary.exists():
        die(f"{binary} does not exist: build {name} to check its runtime libraries")
    needed, unowned = packages_of_binary(binary)
    findings.check(not unowned, f"{where} every library of {name} belongs to a Debian package",
                   f"not from a package: {unowned}")
    closure = apt_closure(runtime_pkgs)
    for pkg in sorted(needed):
        findings.check(pkg in closure, f"{where} runtime provides {pkg} (ldd {name})",
                       f"add {pkg} to the runtime stage's apt-get install")


def root_components():
    """Unconditional add_subdirectory() of the root CMakeLists.txt (tests/bench are optional)."""
    text = (ROOT / "CMakeLists.txt").read_text()
    text = re.sub(r"if\(.*?endif\(\)", "", text, flags=re.S)
    return re.findall(r"add_subdirectory\((\S+?)\)", text)


def check_dockerfiles(findings):
    if shutil.which("apt-cache") is None:
        die("apt-cache is not available: the Dockerfile check needs a Debian host")
    findings.check(len(DOCKERFILES) == len(BINARIES), "one Dockerfile per binary",
                   f"found {[p.name for p in DOCKERFILES]}")
    if apt_exists("libnot-a-real-package-berth0"):
        die("self-check: apt-cache claims a made-up package exists")
    base = install_deps_packages()
    apt_prefetch(base + [p for path in DOCKERFILES for i, a in dockerfile_instructions(path)
                         if i == "RUN" for p in apt_installed(a)])
    components = root_components() + ["cmake"]
    for path in DOCKERFILES:
        check_dockerfile(findings, path, base, components)


# ---------------------------------------------------------------- systemd

HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
             "PrivateTmp": "yes", "DynamicUser": "yes"}


def unit_settings(path):
    settings = {}
    for line in path.read_text().replace("\\\n", " ").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            k, v = line.split("=", 1)
            settings.setdefault(k.strip(), []).append(v.strip())
    return settings


def check_systemd(findings):
    findings.check({p.name for p in UNITS} >= {"berth-hub.service", "berth-agent.service"},
                   "units for the hub and the agent exist", f"found {[p.name for p in UNITS]}")
    for path in UNITS:
        where = rel(path)
        s = unit_settings(path)
        for key, value in HARDENING.items():
            findings.check(s.get(key, [None])[-1] == value, f"{where} {key}={value}", f"it is {s.get(key)}")
        findings.check(bool(s.get("Restart")), f"{where} sets Restart=", "add Restart=on-failure")
        findings.check(s.get("CapabilityBoundingSet", ["x"])[-1] == "", f"{where} drops all capabilities",
                       "set CapabilityBoundingSet= (empty)")
        state_dirs = {f"/var/lib/{d}" for v in s.get("StateDirectory", []) for d in v.split()}
        [exec_start] = unit_exec_starts(path)
        argv = shlex.split(exec_start)
        for flag in ("--data-dir", "--state-dir"):
            for value in arg_values(argv, flag):
                findings.check(value in state_dirs, f"{where} {flag} {value} is its StateDirectory",
                               f"with ProtectSystem=strict only StateDirectory= is writable ({state_dirs})")
        if shutil.which("systemd-analyze"):
            problems = systemd_verify(path)
            findings.check(not problems, f"{where} passes systemd-analyze verify", "; ".join(problems))
    if shutil.which("systemd-analyze"):
        # Self-check: verify reports an unknown key and a bad value.
        with tempfile.TemporaryDirectory() as tmp:
            bogus = Path(tmp) / "bogus.service"
            bogus.write_text("[Service]\nExecStart=/bin/true\nBogusKey=1\nProtectSystem=wrong\n")
            if len(systemd_verify(bogus)) < 2:
                die("self-check: systemd-analyze verify accepted an unknown key and a bad value")


def systemd_verify(path):
    """systemd-analyze verify findings, minus the binary not being installed on this host."""
    run = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)],
                         capture_output=True, text=True)
    return [l for l in (run.stderr + run.stdout).splitlines()
            if l.strip() and "is not executable" not in l]


# ---------------------------------------------------------------- operations (docs/OPERATIONS.md)

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HubProcess:
    """berth-hub started with a manifest's arguments, its data dir and port moved to a temp dir
    and a free loopback port."""

    def __init__(self, args, data_dir, log_path):
        self.port = free_port()
        self.data_dir = data_dir
        argv = [a for a in args if not a.startswith(("--data-dir", "--listen"))]
        argv += [f"--data-dir={data_dir}", f"--listen=127.0.0.1:{self.port}"]
        binary = Path(os.environ.get("BERTH_BIN_DIR", "")) / "berth-hub"
        if not binary.exists():
            die(f"{binary} does not exist: build berth-hub")
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen([str(binary), *argv], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"berth-hub exited {self.proc.returncode} at start; log: {log_path}")
            try:
                if self.request("/readyz", verify=False)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        die(f"berth-hub did not become ready in 30 s; log: {log_path}")

    def request(self, path, token=None, verify=True, server_name="127.0.0.1"):
        """(status, body) of GET path over HTTPS; verify=True checks the
        certificate against pki/ca.crt *for server_name*."""
        ctx = ssl.create_default_context(cafile=str(Path(self.data_dir) / "pki" / "ca.crt")) \
            if verify else ssl._create_unverified_context()
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
                headers = f"GET {path} HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n"
                if token:
                    headers += f"Authorization: Bearer {token}\r\n"
                tls.sendall((headers + "\r\n").encode())
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
        status = int(data.split(b" ", 2)[1])
        return status, data.split(b"\r\n\r\n", 1)[-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def admin_token(data_dir):
    text = (Path(data_dir) / "admin.kubeconfig").read_text()
    m = re.search(r"^\s*token:\s*(\S+)", text, re.M)
    if not m:
        die(f"{data_dir}/admin.kubeconfig has no token")
    return m.group(1)


def create_join_token(data_dir):
    """`berthctl token create --kubeconfig <data-dir>/admin.kubeconfig` (the guide's join step);
    returns the token id (the BootstrapToken's name)."""
    berthctl = Path(os.environ.get("BERTH_BIN_DIR", "")) / "berthctl"
    if not berthctl.exists():
        die(f"{berthctl} does not exist: build berthctl")
    run = subprocess.run([str(berthctl), "token", "create", "--kubeconfig",
                          str(Path(data_dir) / "admin.kubeconfig"), "--ttl", "1h"],
                         capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        die(f"berthctl token create: {run.stderr.strip()}")
    return run.stdout.strip().split(".")[0]


def token_names(hub, token):
    status, body = hub.request("/apis/berth.dev/v1alpha1/bootstraptokens", token=token)
    if status != 200:
        die(f"GET bootstraptokens: {status} {body[:200]!r}")
    return {item["metadata"]["name"] for item in json.loads(body)["items"]}


def online_backup(db, target):
    """The backup command of docs/OPERATIONS.md; Python's sqlite3 runs the same online backup
    API when the sqlite3 CLI is not installed."""
    if shutil.which("sqlite3"):
        run = subprocess.run(["sqlite3", str(db), f".backup {target}"], capture_output=True, text=True)
        return "sqlite3 CLI", run.returncode == 0 and Path(target).exists(), run.stderr.strip()
    import sqlite3
    src, dst = sqlite3.connect(str(db)), sqlite3.connect(str(target))
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return "python sqlite3 backup API (install the sqlite3 CLI)", True, ""


def check_operations(findings):
    """Runs the hub the way the Deployment does and walks through the guide's procedures:
    certificate bootstrap, fetching admin.kubeconfig and the CA, /metrics auth, online backup,
    admin token rotation, adding a SAN."""
    hub_objects = rendered_objects(HUB_KUSTOMIZE)
    [dep] = [o for _, o in hub_objects if o["kind"] == "Deployment"]
    [c] = [c for c in containers_of(dep) if binary_of_image(c["image"]) == "berth-hub"]
    args = c.get("args", [])
    service_names = arg_values(args, "--tls-san")
    [example] = [o for _, o in rendered_objects(HUB_EXAMPLE) if o["kind"] == "Deployment"]
    example_args = containers_of(example)[0].get("args", [])

    with tempfile.TemporaryDirectory(prefix="berth-deploy-") as tmp:
        data, log = Path(tmp) / "data", Path(tmp) / "hub.log"
        hub = HubProcess(args, data, log)
        try:
            for f in ("berth.db", "admin.kubeconfig", "pki/ca.crt", "pki/ca.key", "pki/server.crt"):
                findings.check((data / f).exists(), f"first start created {f}", f"missing; log: {log}")
            # Clients that dial the Service verify the hub with the CA from the data dir.
            for name in service_names:
                try:
                    status = hub.request("/readyz", server_name=name)[0]
                    findings.check(status == 200, f"TLS verifies as {name} with pki/ca.crt", f"/readyz {status}")
                except ssl.SSLError as e:
                    findings.fail(f"TLS verifies as {name} with pki/ca.crt: {e}")
            try:
                hub.request("/readyz", server_name="not-in-the-cert.example.com")
                findings.fail("self-check: a name outside --tls-san verified")
            except ssl.SSLCertVerificationError:
                findings.ok("a name outside --tls-san does not verify")
            findings.check(hub.request("/healthz")[0] == 200, "/healthz answers 200", "liveness probe path")
            token = admin_token(data)
            findings.check(hub.request("/metrics")[0] == 401, "/metrics without a token is 401",
                           "metrics must need the admin token")
            status, body = hub.request("/metrics", token=token)
            findings.check(status == 200 and b"berth_api_requests_total" in body,
                           "/metrics with the admin token serves berth_api_requests_total", f"status {status}")
            # Online backup while the hub runs (WAL mode): one token before it, one after.
            before_backup = create_join_token(data)
            how, ok, err = online_backup(data / "berth.db", Path(tmp) / "backup.db")
            findings.check(ok, f"online backup of berth.db while running ({how})", err)
            if ok:
                import sqlite3
                con = sqlite3.connect(str(Path(tmp) / "backup.db"))
                integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
                tables = con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
                con.close()
                findings.check(integrity == "ok" and tables > 0, "the backup passes integrity_check and has tables",
                               f"integrity {integrity}, {tables} tables")
            after_backup = create_join_token(data)
        finally:
            findings.check(hub.stop() == 0, "SIGTERM stops the hub with exit 0", f"log: {log}")

        # Restore (the guide's steps: hub stopped, replace berth.db, drop -wal/-shm), and
        # rotation (delete admin.kubeconfig): one restart does both.
        if ok:
            shutil.copyfile(Path(tmp) / "backup.db", data / "berth.db")
            for suffix in ("-wal", "-shm"):
                (data / f"berth.db{suffix}").unlink(missing_ok=True)
        ca_before = (data / "pki" / "ca.crt").read_bytes()
        (data / "admin.kubeconfig").unlink()
        hub = HubProcess(args, data, log)
        try:
            new_token = admin_token(data)
            if ok:
                names = token_names(hub, new_token)
                findings.check(before_backup in names and after_backup not in names,
                               "the restored hub has what the backup held, and nothing later",
                               f"tokens {sorted(names)}; before backup {before_backup}, after {after_backup}")
            findings.check(new_token != token, "restart without admin.kubeconfig mints a new token", "same token")
            findings.check(hub.request("/metrics", token=token)[0] == 401, "the old admin token is refused",
                           "rotation must revoke it")
            findings.check(hub.request("/metrics", token=new_token)[0] == 200, "the new admin token works", "")
            findings.check((data / "pki" / "ca.crt").read_bytes() == ca_before,
                           "token rotation keeps the CA (members keep working)", "the CA changed")
        finally:
            hub.stop()

        # Adding a --tls-san (the hub-loadbalancer example) re-issues the serving cert at start.
        extra = [a for a in arg_values(example_args, "--tls-san") if a not in service_names]
        hub = HubProcess(example_args, data, log)
        try:
            for name in extra:
                try:
                    status = hub.request("/readyz", server_name=name)[0]
                    findings.check(status == 200, f"after adding --tls-san={name} TLS verifies as {name}", "")
                except ssl.SSLError as e:
                    findings.fail(f"after adding --tls-san={name} TLS verifies as {name}: {e}")
            findings.check(bool(extra), "the example overlay adds a SAN", "nothing to check")
        finally:
            hub.stop()


def main(argv):
    if not argv or argv[0] not in ("flags", "rbac", "manifests", "dockerfiles", "systemd", "operations"):
        print(__doc__, file=sys.stderr)
        return 2
    os.chdir(ROOT)
    findings = Findings()
    if argv[0] == "flags":
        check_flags(findings)
    elif argv[0] == "rbac":
        if len(argv) != 3 or argv[1] != "--calls-binary":
            die("usage: check_deploy.py rbac --calls-binary PATH")
        check_rbac(findings, argv[2])
    elif argv[0] == "manifests":
        check_manifests(findings)
    elif argv[0] == "dockerfiles":
        check_dockerfiles(findings)
    elif argv[0] == "systemd":
        check_systemd(findings)
    else:
        check_operations(findings)
    return findings.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
