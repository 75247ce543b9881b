"""(2) The agent's ClusterRole covers exactly the requests the kube backend can send."""

import json
import os
import subprocess
from pathlib import Path

from deploy_files import AGENT_KUSTOMIZE, die, rel, rendered_objects


def kube_calls():
    """The agent kube backend's requests (KubeBackend::ApiCalls()), as the binary prints them."""
    agent = Path(os.environ.get("BERTH_BIN_DIR", "")) / "berth-agent"
    if not agent.exists():
        die(f"{agent} does not exist: build it first (`cmake --build build --target berth-agent`)")
    cmd = [str(agent), "--print-kube-requests"]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if run.returncode != 0:
        die(f"{' '.join(cmd)} exited {run.returncode}: {run.stderr.strip()}")
    calls = json.loads(run.stdout)
    if not calls:
        die(f"{' '.join(cmd)} printed no requests")
    for c in calls:
        missing = {"method", "path", "apiGroup", "resource", "verb"} - set(c)
        if missing:
            die(f"{' '.join(cmd)} printed a request without {sorted(missing)}: {c}")
    return calls, "berth-agent --print-kube-requests"


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


def check_rbac(findings):
    calls, source = kube_calls()
    print(f"# {len(calls)} requests from {source}")
    objects = rendered_objects(AGENT_KUSTOMIZE)
    sa, ns, rules = agent_cluster_rules(objects)
    findings.check(bool(rules), f"ServiceAccount {ns}/{sa} is bound to a ClusterRole",
                   "no ClusterRoleBinding grants it anything")

    # The declared RBAC attributes are what the authorizer will see for that method and path.
    for c in calls:
        what = f"{c['method']} {c['path']}"
        group, resource, verb, _ = request_attributes(c["method"], c["path"])
        # A collection GET is a list, or a watch when the query says ?watch=true; the
        # declared paths carry no query, so a declared watch there is the watch form.
        if verb == "list" and c["verb"] == "watch":
            verb = "watch"
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
