"""(3) The manifests render, validate against the Kubernetes schemas, and keep the deployment
invariants (one hub replica, Recreate, non-root, HTTPS probes, Service names in the cert; the
gateway's ports, probes, state dir and hub kubeconfig Secret)."""

import re
import subprocess
from pathlib import Path

from deploy_files import (
    DEPLOY, AGENT_DIRS, AGENT_EXAMPLE, AGENT_SECRET_TEMPLATE, GATEWAY_DIRS, GATEWAY_SECRET_TEMPLATE,
    HUB_DIRS, HUB_EXAMPLE, HUB_KUSTOMIZE, SECRET_TEMPLATES, arg_values, binary_of_image,
    containers_of, die, rel, rendered_objects)


def run_schema_validation(findings):
    cmd = ["node", str(Path(__file__).parent / "manifests.mjs"), "validate",
           *map(rel, HUB_DIRS + AGENT_DIRS + GATEWAY_DIRS), *map(rel, SECRET_TEMPLATES)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    print(run.stdout, end="")
    findings.check(run.returncode == 0, "manifests validate against the Kubernetes schemas",
                   run.stderr.strip() or "manifests.mjs failed")


def check_pod_hardening(findings, where, dep, singleton=True):
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
    if not singleton:
        return
    findings.check(dep["spec"].get("strategy", {}).get("type") == "Recreate", f"{where} strategy Recreate",
                   "two pods must never run at once (one SQLite writer / one member credential)")
    findings.check(dep["spec"].get("replicas") == 1, f"{where} has 1 replica", "set spec.replicas: 1")


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

    # The URL written into admin.kubeconfig: https, a name in the certificate, a Service port.
    advertise = arg_values(argv, "--advertise-url")
    findings.check(bool(advertise), "hub passes --advertise-url",
                   "pass --advertise-url=https://<the Service's name>:443 so admin.kubeconfig names it")
    url = advertise[-1] if advertise else ""  # the hub takes the last one
    host, port = split_https_url(url)
    findings.check(url.startswith("https://"), f"hub --advertise-url {url} is https", "the hub serves only HTTPS")
    findings.check(host in sans, f"hub --advertise-url host {host} is in --tls-san",
                   f"add --tls-san={host}, or clients of {url} fail TLS verification")
    service_ports = {p["port"] for s in services for p in s["spec"]["ports"]}
    findings.check(port in service_ports, f"hub --advertise-url port {port} is a Service port",
                   f"the Service serves {sorted(service_ports)}")
    return sans, url


def split_https_url(url):
    """(host, port) of https://HOST[:PORT][/]; port 443 when absent."""
    authority = re.sub(r"^https://", "", url).split("/")[0]
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 443
    host, _, port = authority.partition(":")
    return host, int(port) if port.isdigit() else 443


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
    # The join token comes from the Secret mounted as a file: never on the command line (it
    # would show in `ps` and the pod spec) or in the environment.
    findings.check(not arg_values(argv, "--join-token") and "--join-token" not in argv,
                   "agent passes no --join-token on its command line",
                   "use --join-token-file with the Secret's join-token key mounted as a file")
    token_file = arg_values(argv, "--join-token-file")
    token_dir = str(Path(token_file[0]).parent) if token_file else None
    token_volume = volumes.get(mounts.get(token_dir, ""), {})
    projected = {i["path"]: i["key"] for i in token_volume.get("secret", {}).get("items", [])}
    token_name = Path(token_file[0]).name if token_file else None
    token_key = projected.get(token_name) if projected else token_name
    findings.check(bool(token_file) and "secret" in token_volume and token_key == "join-token",
                   f"agent --join-token-file {token_file} is the Secret's join-token key",
                   "mount the Secret berth-agent-hub with item join-token there")
    findings.check(not any(e.get("valueFrom", {}).get("secretKeyRef", {}).get("key") == "join-token"
                           for e in c.get("env", [])),
                   "the join token is not in the agent's environment", "read it from the mounted file")
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


def port_of(address):
    """The port of HOST:PORT / [V6]:PORT, or None."""
    _, _, port = address.rpartition(":")
    return int(port) if port.isdigit() else None


def check_gateway_manifests(findings, objects, hub_sans, hub_url):
    by_kind = {}
    for _, o in objects:
        by_kind.setdefault(o["kind"], []).append(o)
    [dep] = by_kind["Deployment"]
    ns = dep["metadata"]["namespace"]
    findings.check(ns == "berth-system", "gateway namespace is berth-system", f"it is {ns}")
    # Stateless (an emptyDir, no credential of its own): several replicas may run at once.
    check_pod_hardening(findings, "gateway Deployment", dep, singleton=False)
    [c] = [c for c in containers_of(dep) if binary_of_image(c["image"]) == "berth-gateway"]
    findings.check(len(containers_of(dep)) == 1, "gateway HAProxy runs in the berth-gateway container",
                   "berth-gateway starts /usr/sbin/haproxy itself: no sidecar")
    argv = c.get("args", [])
    pod = dep["spec"]["template"]["spec"]
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    listen = arg_values(argv, "--listen")
    metrics = arg_values(argv, "--metrics-listen")
    findings.check(len(listen) == 1 and not listen[0].startswith(("127.", "localhost", "[::1]")),
                   f"gateway --listen {listen} accepts connections from other pods",
                   "pass --listen=0.0.0.0:PORT (the default is loopback)")
    findings.check(len(metrics) == 1, f"gateway passes --metrics-listen {metrics}",
                   "pass --metrics-listen=0.0.0.0:PORT so Prometheus can scrape HAProxy")
    listen_port = port_of(listen[0]) if listen else None
    metrics_port = port_of(metrics[0]) if metrics else None
    for what, port in (("--listen", listen_port), ("--metrics-listen", metrics_port)):
        findings.check(port in ports.values(), f"gateway containerPort matches {what} port {port}",
                       f"containerPorts are {ports}")
    catalog = arg_values(argv, "--catalog-listen")
    findings.check(all(a.startswith("127.") for a in catalog), f"gateway --catalog-listen {catalog} is loopback",
                   "only HAProxy in the same container dials the catalog listener")
    haproxy = arg_values(argv, "--haproxy")
    findings.check(all(h == "/usr/sbin/haproxy" for h in haproxy), f"gateway --haproxy {haproxy} is Debian's",
                   "the image installs Debian's haproxy at /usr/sbin/haproxy")
    findings.check(not arg_values(argv, "--haproxy-socket"), "gateway starts its own HAProxy",
                   "--haproxy-socket attaches to an HAProxy outside the pod")
    for probe in ("readinessProbe", "livenessProbe"):
        p = c.get(probe, {})
        target = (p.get("httpGet") or p.get("tcpSocket") or {}).get("port")
        target = ports.get(target, target)
        findings.check(target == listen_port, f"gateway {probe} checks the --listen port {listen_port}",
                       f"it is {p}")

    # --state-dir (haproxy.cfg, the map, the runtime socket, haproxy.log) is a writable volume.
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    state = arg_values(argv, "--state-dir")
    state_volume = volumes.get(mounts.get(state[0], {}).get("name"), {}) if state else {}
    findings.check(bool(state) and ("emptyDir" in state_volume or "persistentVolumeClaim" in state_volume)
                   and not mounts[state[0]].get("readOnly"),
                   f"gateway --state-dir {state} is a writable volume",
                   "mount an emptyDir there (the root filesystem is read-only)")

    # The hub kubeconfig comes from the Secret the template documents, as a mounted file.
    findings.check(not arg_values(argv, "--endpoints-file"), "gateway reads the hub, not --endpoints-file",
                   "--endpoints-file and --kubeconfig are exclusive")
    kubeconfig = arg_values(argv, "--kubeconfig")
    kdir = str(Path(kubeconfig[0]).parent) if kubeconfig else None
    kvolume = volumes.get(mounts.get(kdir, {}).get("name"), {})
    projected = {i["path"]: i["key"] for i in kvolume.get("secret", {}).get("items", [])}
    kname = Path(kubeconfig[0]).name if kubeconfig else None
    [(_, secret)] = rendered_objects(GATEWAY_SECRET_TEMPLATE)
    keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    findings.check(bool(kubeconfig) and "secret" in kvolume and
                   kvolume["secret"]["secretName"] == secret["metadata"]["name"] and
                   (projected.get(kname) if projected else kname) in keys,
                   f"gateway --kubeconfig {kubeconfig} is a key of the Secret in {rel(GATEWAY_SECRET_TEMPLATE)}",
                   "mount the Secret berth-gateway-hub with item kubeconfig there")
    findings.check(not any("secretKeyRef" in e.get("valueFrom", {}) for e in c.get("env", [])),
                   "the hub token is not in the gateway's environment", "read it from the mounted file")
    findings.check(not any(o["kind"] == "Secret" for _, o in objects),
                   "the gateway kustomization applies no Secret",
                   "a Secret in the base would overwrite the operator's real kubeconfig")
    # The template's kubeconfig names the hub the way the hub Deployment advertises itself.
    m = re.search(r"server:\s*(\S+)", secret.get("stringData", {}).get("kubeconfig", ""))
    server = m.group(1) if m else ""
    findings.check(split_https_url(server)[0] in hub_sans and server.rstrip("/") == hub_url.rstrip("/"),
                   f"gateway kubeconfig template dials the hub's --advertise-url {server}",
                   f"the hub Deployment advertises {hub_url} (SANs {sorted(hub_sans)})")

    # A Service reaches the OpenAI port and the metrics port.
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    services = [s for s in by_kind.get("Service", [])
                if s["spec"].get("selector") and
                all(pod_labels.get(k) == v for k, v in s["spec"]["selector"].items())]
    findings.check(bool(services), "a Service selects the gateway pods", "add service.yaml")
    targets = {ports.get(p.get("targetPort"), p.get("targetPort")) for s in services for p in s["spec"]["ports"]}
    for what, port in (("OpenAI --listen", listen_port), ("--metrics-listen", metrics_port)):
        findings.check(port in targets, f"gateway Service reaches the {what} port {port}",
                       f"Service targetPorts are {sorted(map(str, targets))}")
    sa = pod.get("serviceAccountName")
    findings.check(sa in {o["metadata"]["name"] for o in by_kind.get("ServiceAccount", [])},
                   f"gateway ServiceAccount {sa} exists", "add serviceaccount.yaml")
    findings.check(pod.get("automountServiceAccountToken") is False,
                   "gateway mounts no ServiceAccount token", "it never calls this cluster's API")
    findings.check(not by_kind.get("ClusterRole") and not by_kind.get("Role"),
                   "gateway has no Kubernetes RBAC", "it reads the hub, not this cluster")


def check_every_file_is_used(findings):
    """Every YAML under deploy/kubernetes is a kustomization, one of its resources, or the
    Secret template: a stray copy would be applied by nobody and mislead readers."""
    kube = DEPLOY / "kubernetes"
    used = {t.resolve() for t in SECRET_TEMPLATES}
    for k in kube.rglob("kustomization.yaml"):
        used.add(k.resolve())
        # resources: is a plain YAML list in these files; no YAML module needed for it.
        block = re.search(r"^resources:\n((?:\s+- .*\n)+)", k.read_text(), re.M)
        for line in (block.group(1).splitlines() if block else []):
            used.add((k.parent / line.split("- ", 1)[1].split("#")[0].strip()).resolve())
    for f in sorted(kube.rglob("*.yaml")):
        findings.check(f.resolve() in used, f"{rel(f)} is used by a kustomization",
                       "list it under resources: or delete it")


def check_manifests(findings):
    check_every_file_is_used(findings)
    run_schema_validation(findings)
    sans, advertised = {}, {}
    for d in HUB_DIRS:
        print(f"# {rel(d)}")
        sans[d], advertised[d] = check_hub_manifests(findings, rendered_objects(d))
    for d in AGENT_DIRS:
        print(f"# {rel(d)}")
        check_agent_manifests(findings, rendered_objects(d))
    for d in GATEWAY_DIRS:
        print(f"# {rel(d)}")
        check_gateway_manifests(findings, rendered_objects(d), sans[HUB_KUSTOMIZE], advertised[HUB_KUSTOMIZE])
    # The example member dials a name the example hub's serving certificate holds.
    [cm] = [o for _, o in rendered_objects(AGENT_EXAMPLE) if o["kind"] == "ConfigMap"]
    host = re.sub(r"^https://", "", cm["data"]["hub-url"]).split("/")[0].rsplit(":", 1)[0]
    findings.check(host in sans[HUB_EXAMPLE], f"example agent dials {host}, a SAN of the example hub",
                   f"the hub's --tls-san values are {sorted(sans[HUB_EXAMPLE])}")
    findings.check(cm["data"]["hub-url"].rstrip("/") == advertised[HUB_EXAMPLE].rstrip("/"),
                   "example agent dials the example hub's --advertise-url",
                   f"hub-url {cm['data']['hub-url']} vs --advertise-url {advertised[HUB_EXAMPLE]}")
