#!/usr/bin/env bash
# kubectl against a real berth-hub for the core/v1 kinds GitOps directories hold: Namespace
# lifecycle (Kubernetes' NotFound and Forbidden wording), ConfigMap and Secret CRUD
# (stringData, immutable, base64 checks), Secrets encrypted on disk (and a wrong key
# refusing to start), and `kubectl apply --prune -l` with kubectl's default allowlist.
# Run by ctest (tests/kubectl).
SUITE=core-kinds-e2e
source "$(dirname "$0")/lib.sh"
start_hub

# Waits up to 10 s for a command's output to match.
eventually() {
  local name=$1 pattern=$2; shift 2
  local out
  for _ in $(seq 1 100); do
    out=$("$@" 2>&1)
    echo "$out" | grep -Eq -- "$pattern" && { ok "$name"; return; }
    sleep 0.1
  done
  fail "$name" "$out"
}

# --- Namespaces -----------------------------------------------------------------------
expect "default exists from the start"       '^default +Active' kubectl get ns
expect "api-resources lists namespaces"      'namespaces +ns +v1 +false +Namespace' kubectl api-resources
expect "get in a missing namespace"          'NotFound.*namespaces "ml" not found' kubectl get ws missing -n ml
cat >"$WORK/ws-ml.yaml" <<'YAML'
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: chat, namespace: ml}
inference: {preset: {name: phi-4-mini-instruct}}
YAML
expect "apply into a missing namespace"      'NotFound.*namespaces "ml" not found' kubectl apply -f "$WORK/ws-ml.yaml"
expect "create namespace"                    'namespace/ml created' kubectl create namespace ml
expect "namespace is Active"                 '^ml +Active' kubectl get ns ml
expect "it carries Kubernetes' finalizer"    '^kubernetes$' kubectl get ns ml -o jsonpath='{.spec.finalizers[0]}'
expect "missing object in an existing ns"    'NotFound.*"missing" not found' kubectl get ws missing -n ml
expect "apply now creates"                   'workspace.berth.dev/chat created' kubectl apply -f "$WORK/ws-ml.yaml"
cat >"$WORK/held.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: held, namespace: ml, finalizers: [example.com/hold]}
data: {k: v}
YAML
expect "configmap with a finalizer"          'configmap/held created' kubectl apply -f "$WORK/held.yaml"
expect "delete namespace"                    'namespace "ml" deleted' kubectl delete ns ml --wait=false
eventually "namespace is Terminating"        '^ml +Terminating' kubectl get ns ml
expect "create in a terminating namespace"   'configmaps "late" is forbidden: unable to create new content in namespace ml because it is being terminated' \
  kubectl create configmap late -n ml --from-literal=a=b
eventually "contents are deleted"            'NotFound' kubectl get ws chat -n ml
eventually "status names what holds it"      'example.com/hold in 1 resource instances' \
  kubectl get ns ml -o jsonpath='{.status.conditions[?(@.type=="NamespaceFinalizersRemaining")].message}'
kubectl patch cm held -n ml --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
eventually "namespace goes once empty"       'NotFound.*namespaces "ml" not found' kubectl get ns ml
expect "default cannot be deleted"           'Forbidden.*this namespace may not be deleted' kubectl delete ns default

# --- ConfigMaps and Secrets -----------------------------------------------------------
kubectl create namespace team >/dev/null
cat >"$WORK/secret.yaml" <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: hf, namespace: team}
stringData: {token: hf_Plaintext_Token_42}
YAML
expect "apply a Secret with stringData"      'secret/hf created' kubectl apply -f "$WORK/secret.yaml"
expect "stringData lands in data"            '^hf_Plaintext_Token_42$' bash -c "kubectl get secret hf -n team -o jsonpath='{.data.token}' | base64 -d"
expect "stringData is never returned"        '^$' kubectl get secret hf -n team -o jsonpath='{.stringData}'
expect "type defaults to Opaque"             'hf +Opaque +1 ' kubectl get secrets -n team
expect "create secret generic (protobuf)"    'secret/db created' kubectl create secret generic db -n team --from-literal=password=Hunter2_On_Disk
expect "create configmap (protobuf)"         'configmap/cfg created' kubectl create configmap cfg -n team --from-literal=a=1 --from-literal=b=2
expect "configmap columns"                   'cfg +2 ' kubectl get cm -n team
expect "strategic merge patch of a secret"   'patched' kubectl patch secret db -n team -p '{"stringData":{"extra":"x"}}'
expect "patch merged"                        '^x$' bash -c "kubectl get secret db -n team -o jsonpath='{.data.extra}' | base64 -d"
expect "data must be base64 (422 names key)" 'Secret "db" is invalid: data\[password\]: must be base64' \
  kubectl patch secret db -n team --type=merge -p '{"data":{"password":"not base64!"}}'
expect "bad key names are refused"           'ConfigMap "cfg" is invalid: data\[bad key\]: a valid config key' \
  kubectl patch cm cfg -n team --type=merge -p '{"data":{"bad key":"v"}}'
cat >"$WORK/frozen.yaml" <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: frozen, namespace: team}
stringData: {password: first}
immutable: true
YAML
expect "immutable secret created"            'secret/frozen created' kubectl apply -f "$WORK/frozen.yaml"
sed -i 's/first/second/' "$WORK/frozen.yaml"
expect "immutable data cannot change"        'field is immutable when `immutable` is set' kubectl apply -f "$WORK/frozen.yaml"
expect "immutable cannot be unset"           'immutable: field is immutable' kubectl patch secret frozen -n team --type=merge -p '{"immutable":false}'
expect "delete a configmap"                  'configmap "cfg" deleted' kubectl delete cm cfg -n team

# --- Workloads Berth does not store ----------------------------------------------------
expect "pods list empty"                     'No resources found' kubectl get pods -n team
expect "deployments list empty"              'No resources found' kubectl get deployments -A
expect "creating a pod says why not"         'MethodNotAllowed.*Berth does not store pods' kubectl run web -n team --image=nginx

# --- kubectl apply --prune -l with kubectl's default allowlist -------------------------
mkdir -p "$WORK/gitops"
cat >"$WORK/gitops/00-namespace.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: gitops, labels: {app: x}}
YAML
cat >"$WORK/gitops/secret.yaml" <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: hf-token, namespace: gitops, labels: {app: x}}
data: {token: aGZfc2VjcmV0}
YAML
cat >"$WORK/gitops/configmap.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: vllm, namespace: gitops, labels: {app: x}}
data: {inference_config.yaml: "vllm: {max-model-len: 4096}"}
YAML
cat >"$WORK/gitops/workspace.yaml" <<'YAML'
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: phi, namespace: gitops, labels: {app: x}}
inference: {preset: {name: phi-4-mini-instruct}}
YAML
out=$(kubectl apply --prune -l app=x -f "$WORK/gitops/" 2>&1)
for o in namespace/gitops secret/hf-token configmap/vllm workspace.berth.dev/phi; do
  if echo "$out" | grep -q "$o created"; then ok "prune apply creates $o"; else fail "prune apply creates $o" "$out"; fi
done
out=$(kubectl apply --prune -l app=x -f "$WORK/gitops/" 2>&1)
if [ "$(echo "$out" | grep -c ' unchanged')" -eq 4 ] && ! echo "$out" | grep -qi error; then
  ok "second prune apply: all unchanged"
else
  fail "second prune apply: all unchanged" "$out"
fi
rm "$WORK/gitops/configmap.yaml"
expect "removing a file prunes its object"   'configmap/vllm pruned' kubectl apply --prune -l app=x -f "$WORK/gitops/"
expect "pruned object is gone"               'NotFound' kubectl get cm vllm -n gitops
expect "the others stay"                     'hf-token' kubectl get secrets -n gitops
rm "$WORK/gitops/workspace.yaml"
expect "Berth kinds prune when allowlisted"  'workspace.berth.dev/phi pruned' \
  kubectl apply --prune -l app=x -f "$WORK/gitops/" --prune-allowlist=core/v1/Secret \
  --prune-allowlist=core/v1/ConfigMap --prune-allowlist=berth.dev/v1alpha1/Workspace

# --- Secrets at rest --------------------------------------------------------------------
expect "key file created 0600"               '^600$' stat -c %a "$WORK/hub/encryption.key"
leaks=""
# The store's files: berth.db and its WAL, or (the _etcd variant) etcd's WAL and database.
store_files() { find "$WORK/hub" -type f \( -name 'berth.db*' -o -path '*/etcd/data/*' \) -exec cat {} +; }
for s in hf_Plaintext_Token_42 Hunter2_On_Disk "$(printf Hunter2_On_Disk | base64)" hf_secret aGZfc2VjcmV0; do
  if store_files | grep -aqF -- "$s"; then leaks="$leaks $s"; fi
done
if [ -z "$leaks" ]; then ok "no Secret plaintext in the store's files"; else fail "no Secret plaintext in the store's files" "found:$leaks"; fi
if store_files | grep -aq 'berth:v1:'; then ok "Secrets are stored sealed"; else fail "Secrets are stored sealed" "no berth:v1: envelope"; fi
expect_not "hub log holds no Secret data"    'hf_Plaintext_Token_42|Hunter2_On_Disk|not base64!' cat "$WORK/hub.log"
expect_not "no crash in hub log"             'terminate|Segmentation|std::' cat "$WORK/hub.log"

stop_hub
OLD_ID=$(grep -v '^#' "$WORK/hub/encryption.key" | head -1 | base64 -d | sha256sum | cut -c1-8)
(umask 077; head -c 32 /dev/urandom | base64 >"$WORK/other.key")
out=$(timeout 20 ${BERTH_HUB_WRAPPER:-} "$BIN_DIR/berth-hub" --data-dir "$WORK/hub" --listen "127.0.0.1:$PORT" --encryption-key-file "$WORK/other.key" 2>&1)
rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "key id $OLD_ID"; then ok "a wrong key refuses to start, naming key id $OLD_ID"; else fail "a wrong key refuses to start" "rc=$rc $out"; fi
# Rotation: the new key first, the old one after; the hub re-seals, then the old key can go.
cat "$WORK/other.key" "$WORK/hub/encryption.key" >"$WORK/rotated.key"
start_hub --encryption-key-file "$WORK/rotated.key"
expect "rotated: Secrets still read"         '^hf_Plaintext_Token_42$' bash -c "kubectl get secret hf -n team -o jsonpath='{.data.token}' | base64 -d"
stop_hub
start_hub --encryption-key-file "$WORK/other.key"
expect "old key dropped after one restart"   '^hf_Plaintext_Token_42$' bash -c "kubectl get secret hf -n team -o jsonpath='{.data.token}' | base64 -d"

finish
