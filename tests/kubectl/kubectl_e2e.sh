#!/usr/bin/env bash
# kubectl end-to-end suite: starts a real berth-hub on loopback and drives it with the
# kubectl binary, asserting on what kubectl prints. Run by ctest (tests/kubectl).
SUITE=kubectl-e2e
source "$(dirname "$0")/lib.sh"
start_hub

cat >"$WORK/ws.yaml" <<'YAML'
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata:
  name: phi-mini
  namespace: default
  labels: {team: search}
resource:
  gpuProducts: [L4, A10]
inference:
  preset: {name: phi-4-mini-instruct}
placement:
  replicas: 2
YAML
sed 's/replicas: 2/replicas: 3/' "$WORK/ws.yaml" >"$WORK/ws3.yaml"
sed 's/gpuProducts/gpuuProducts/' "$WORK/ws.yaml" | sed 's/phi-mini/phi-bad/' >"$WORK/bad.yaml"
cat >"$WORK/mc.yaml" <<'YAML'
apiVersion: berth.dev/v1alpha1
kind: MemberCluster
metadata: {name: gpu-eu-1, labels: {region: westeurope}}
spec: {region: westeurope, provider: azure}
YAML

# Discovery, version, OpenAPI.
expect "version reports the hub"            'Server Version: v1\.32\.0-berth' kubectl version
expect "api-resources lists short names"    'workspaces +ws +berth\.dev/v1alpha1 +true +Workspace' kubectl api-resources --api-group=berth.dev
expect "api-resources: memberclusters"      'memberclusters +mc .*false +MemberCluster' kubectl api-resources
expect "explain workspace.inference"        'preset' kubectl explain workspace.inference
expect "explain a nested field"             'FIELD: +name <string>' kubectl explain workspace.inference.preset.name

# apply: create, unchanged, configured; strict validation.
expect "apply creates"                      'workspace.berth.dev/phi-mini created' kubectl apply -f "$WORK/ws.yaml"
expect "second apply is unchanged"          'workspace.berth.dev/phi-mini unchanged' kubectl apply -f "$WORK/ws.yaml"
expect "changed apply configures"           'workspace.berth.dev/phi-mini configured' kubectl apply -f "$WORK/ws3.yaml"
expect "generation bumped by spec change"   '^2$' kubectl get ws phi-mini -o jsonpath='{.metadata.generation}'
expect "unknown field names its path"       'unknown field.*gpuuProducts|gpuuProducts.*unknown field' kubectl apply -f "$WORK/bad.yaml"
expect "server-side apply"                  'membercluster.berth.dev/gpu-eu-1 serverside-applied' kubectl apply --server-side -f "$WORK/mc.yaml"
expect "server-side apply again"            'serverside-applied' kubectl apply --server-side -f "$WORK/mc.yaml"

# get: tables, formats, selectors.
expect "get ws has Berth columns"           'NAME +MODEL +READY +CLUSTERS +STATUS +AGE' kubectl get ws
expect "get ws row says why it is not placed" 'phi-mini +phi-4-mini-instruct +0/3 +NoFeasibleCluster' kubectl get ws
expect "get -o wide adds columns"           'REVISION +AUTOSCALING +GPU' kubectl get ws -o wide
expect "get mc columns"                     'NAME +REGION +GPUS +HEALTHY +AGE' kubectl get mc
expect "get -o yaml"                        'kind: Workspace' kubectl get ws phi-mini -o yaml
expect "get -o json"                        '"apiVersion": "berth.dev/v1alpha1"' kubectl get ws phi-mini -o json
expect "get -o jsonpath"                    '^phi-4-mini-instruct$' kubectl get ws phi-mini -o jsonpath='{.inference.preset.name}'
expect "get -o name"                        '^workspace.berth.dev/phi-mini$' kubectl get ws -o name
expect "get -l selects"                     'phi-mini' kubectl get ws -l team=search
expect "get -l filters out"                 'No resources found' kubectl get ws -l team=other
expect "get -A shows namespace"             'NAMESPACE +NAME' kubectl get ws -A
expect "get by category"                    'workspace.berth.dev/phi-mini' kubectl get berth -o name
expect "get missing object"                 'NotFound|not found' kubectl get ws nope

# label, annotate, patch.
expect "label"                              'workspace.berth.dev/phi-mini labeled' kubectl label ws phi-mini tier=gold
expect "annotate"                           'workspace.berth.dev/phi-mini annotated' kubectl annotate ws phi-mini owner=alice
expect "patch --type=merge"                 'patched' kubectl patch ws phi-mini --type=merge -p '{"placement":{"replicas":4}}'
expect "patch --type=json"                  'patched' kubectl patch ws phi-mini --type=json -p '[{"op":"replace","path":"/placement/replicas","value":5}]'
expect "patch result visible"               '^5$' kubectl get ws phi-mini -o jsonpath='{.placement.replicas}'
expect "strategic patch is refused clearly" 'strategic merge patch is not supported' kubectl patch ws phi-mini -p '{"placement":{"replicas":6}}'

# Optimistic concurrency: replace with a stale resourceVersion (what kubectl edit hits).
kubectl get ws phi-mini -o json >"$WORK/stale.json"
kubectl patch ws phi-mini --type=merge -p '{"placement":{"replicas":2}}' >/dev/null
expect "stale replace conflicts"            'the object has been modified' kubectl replace -f "$WORK/stale.json"

# watch: kubectl get -w sees a change made while it watches.
(timeout 6 kubectl get ws -w >"$WORK/watch.out" 2>&1 &)
sleep 1.5
kubectl label ws phi-mini watched=yes >/dev/null
for _ in $(seq 1 40); do [ "$(grep -c phi-mini "$WORK/watch.out")" -ge 2 ] && break; sleep 0.1; done
if [ "$(grep -c phi-mini "$WORK/watch.out")" -ge 2 ]; then ok "get -w streams changes"; else fail "get -w streams changes" "$(cat "$WORK/watch.out")"; fi

# The hub's controllers explain placement in status: no member clusters, so Scheduled=False.
expect "wait for a condition the hub sets"  'condition met' kubectl wait --for=condition=Scheduled=False ws/phi-mini --timeout=10s
expect "scheduling reason in status"        'NoFeasibleCluster' kubectl get ws phi-mini -o jsonpath='{.status.conditions[?(@.type=="Scheduled")].reason}'
# status subresource + wait for a condition written by someone else.
(kubectl wait --for=condition=Reviewed ws/phi-mini --timeout=8s >"$WORK/wait.out" 2>&1; echo "rc=$?" >>"$WORK/wait.out") &
WAITER=$!
sleep 1
kubectl patch ws phi-mini --subresource=status --type=json \
  -p '[{"op":"add","path":"/status/conditions/-","value":{"type":"Reviewed","status":"True","reason":"Approved","message":"ok"}}]' >/dev/null
wait $WAITER
if grep -q "condition met" "$WORK/wait.out" && grep -q "rc=0" "$WORK/wait.out"; then ok "wait --for=condition"; else fail "wait --for=condition" "$(cat "$WORK/wait.out")"; fi
expect "spec write cannot change status"    '^True$' bash -c "kubectl patch ws phi-mini --type=merge -p '{\"status\":{\"conditions\":[]}}' >/dev/null; kubectl get ws phi-mini -o jsonpath='{.status.conditions[?(@.type==\"Reviewed\")].status}'"

# describe with events.
UID_WS=$(kubectl get ws phi-mini -o jsonpath='{.metadata.uid}')
cat >"$WORK/event.yaml" <<YAML
apiVersion: v1
kind: Event
metadata: {name: phi-mini.placed, namespace: default}
involvedObject: {apiVersion: berth.dev/v1alpha1, kind: Workspace, name: phi-mini, namespace: default, uid: "$UID_WS"}
reason: Placed
message: 2 replicas on gpu-eu-1
type: Normal
source: {component: berth-hub}
count: 1
YAML
expect "events can be recorded"             'event/phi-mini.placed created' kubectl create -f "$WORK/event.yaml"
expect "get events"                         'Placed' kubectl get events
expect "describe shows events"              'Placed.*2 replicas on gpu-eu-1' kubectl describe ws phi-mini

# Was: DELETE ignored dryRun, so a server-side dry run deleted for real (also with --all).
expect "delete --dry-run=server says deleted" '"phi-mini" deleted \(server dry run\)' kubectl delete ws phi-mini --dry-run=server
expect "... and the object is still there"    '^phi-mini$' kubectl get ws phi-mini -o jsonpath='{.metadata.name}'
expect "delete --all --dry-run=server"        '"phi-mini" deleted \(server dry run\)' kubectl delete ws --all --dry-run=server
expect "... and it is still there"            '^phi-mini$' kubectl get ws phi-mini -o jsonpath='{.metadata.name}'
# Was: an unknown field selector listed nothing instead of failing.
expect "unknown field selector is refused"    'field label not supported.*spec\.color.*metadata\.name' kubectl get ws --field-selector spec.color=red
expect "events select by involvedObject"      'Placed' kubectl get events --field-selector involvedObject.name=phi-mini

# delete with finalizers, wait --for=delete, delete --wait.
kubectl patch ws phi-mini --type=merge -p '{"metadata":{"finalizers":["berth.dev/test"]}}' >/dev/null
expect "delete with a finalizer returns"    'deleted' kubectl delete ws phi-mini --wait=false
expect "object is terminating"              '[0-9]{4}-' kubectl get ws phi-mini -o jsonpath='{.metadata.deletionTimestamp}'
(kubectl wait --for=delete ws/phi-mini --timeout=8s >"$WORK/del.out" 2>&1; echo "rc=$?" >>"$WORK/del.out") &
WAITER=$!
sleep 1
kubectl patch ws phi-mini --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
wait $WAITER
if grep -q "rc=0" "$WORK/del.out"; then ok "wait --for=delete after finalizer removal"; else fail "wait --for=delete after finalizer removal" "$(cat "$WORK/del.out")"; fi
expect "gone after finalizers"              'NotFound|not found' kubectl get ws phi-mini
expect "delete --wait"                      'membercluster.berth.dev "gpu-eu-1" deleted' kubectl delete mc gpu-eu-1 --wait=true --timeout=10s

# KAITO manifests, unchanged, become Berth Workspaces with default placement.
expect "KAITO workspace applies"            'workspace.kaito.sh/workspace-phi-4-mini created' kubectl apply -f examples/workspaces/kaito-phi-4-mini.yaml
expect "KAITO re-apply is unchanged"        'workspace.kaito.sh/workspace-phi-4-mini unchanged' kubectl apply -f examples/workspaces/kaito-phi-4-mini.yaml
expect "KAITO view returns what was applied" '^Standard_NC24ads_A100_v4$' kubectl get workspaces.kaito.sh workspace-phi-4-mini -o jsonpath='{.resource.instanceType}'
expect "KAITO workspace is a Berth workspace" '^phi-4-mini-instruct 1$' kubectl get workspaces.berth.dev workspace-phi-4-mini -o jsonpath='{.inference.preset.name} {.placement.replicas}'
kubectl apply -f "$WORK/ws.yaml" >/dev/null
expect "native and KAITO workspaces both listed" 'phi-mini .*' kubectl get workspaces.berth.dev
expect_not "Berth-native workspaces stay out of the KAITO view" '^phi-mini ' kubectl get workspaces.kaito.sh
expect "KAITO delete"                       'deleted' kubectl delete workspaces.kaito.sh workspace-phi-4-mini

# Warnings: what the hub accepts but ignores or converts reaches kubectl as Warning headers.
cat >"$WORK/kaito-gated.yaml" <<'YAML'
apiVersion: kaito.sh/v1beta1
kind: Workspace
metadata:
  name: workspace-llama-gated
resource:
  instanceType: Standard_NC24ads_A100_v4
  preferredNodes: [aks-gpu-0]
  labelSelector:
    matchLabels:
      apps: llama
inference:
  preset:
    name: llama-3.1-8b-instruct
    presetOptions:
      modelAccessSecret: hf-token
  config: llama-inference-params
YAML
expect "each dropped field is named"       'Warning: .*resource.preferredNodes dropped' kubectl create --dry-run=server -f "$WORK/kaito-gated.yaml" -o name
cat >"$WORK/kaito-tuning.yaml" <<'YAML'
apiVersion: kaito.sh/v1beta1
kind: Workspace
metadata:
  name: workspace-tuning-phi-3
resource:
  instanceType: Standard_NC24ads_A100_v4
  labelSelector:
    matchLabels:
      app: tuning-phi-3
tuning:
  preset:
    name: phi-3-mini-128k-instruct
  method: qlora
  input:
    urls: ["https://huggingface.co/datasets/philschmid/dolly-15k-oai-style/resolve/main/data/train-00000-of-00001-54e3756291ca09c6.parquet?download=true"]
  output:
    image: "myregistry.azurecr.io/adapters/phi-3-qlora:0.0.1"
YAML
expect "a KAITO tuning workspace is refused with the reason" 'tuning: .*does not run tuning jobs' kubectl apply -f "$WORK/kaito-tuning.yaml"
expect "KAITO fields dropped are warned"   'Warning: KAITO Workspace workspace-llama-gated: resource.preferredNodes dropped' kubectl apply -f "$WORK/kaito-gated.yaml"
expect "an unpinned revision is warned"    'Warning: inference.preset.revision is not set' kubectl replace --dry-run=server -f "$WORK/ws.yaml"
sed 's/phi-bad/phi-warn/' "$WORK/bad.yaml" >"$WORK/warn.yaml"
expect "validate=warn drops an unknown field" 'Warning: unknown field "resource.gpuuProducts"' kubectl apply --validate=warn -f "$WORK/warn.yaml"
expect "... and stores the rest"           '^phi-4-mini-instruct$' kubectl get ws phi-warn -o jsonpath='{.inference.preset.name}{.resource.gpuuProducts}'
expect_not "validate=false drops it silently" 'Warning: unknown field' kubectl replace --validate=false -f "$WORK/warn.yaml"
expect "fieldValidation must be known"     'Unsupported value.*Strict' kubectl create --raw "/apis/berth.dev/v1alpha1/namespaces/default/workspaces?fieldValidation=Lax" -f "$WORK/ws.yaml"
expect "orphaning a Workspace's replicas is refused" 'Orphan is not supported for Workspaces' kubectl delete ws phi-warn --cascade=orphan
expect "foreground deletion is served as background" 'Warning: propagationPolicy Foreground is served as Background' kubectl delete ws phi-warn --cascade=foreground
kubectl delete workspaces.kaito.sh workspace-llama-gated >/dev/null 2>&1
NOW_RV=$(kubectl get --raw /api/v1/namespaces/default/configmaps | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
expect "an exact list of an old revision is 410" 'Expired|too old resource version' kubectl get --raw "/api/v1/namespaces/default/configmaps?resourceVersion=1&resourceVersionMatch=Exact"
expect "a list from the future is a timeout" 'Too large resource version' kubectl get --raw "/api/v1/namespaces/default/configmaps?resourceVersion=$((NOW_RV + 1000))"
# The latest revision moves under background writes (on etcd the leader renews its record every
# second), so an exact list of it is retried with a fresh revision a few times.
exact_latest() {
  local out rv
  for _ in 1 2 3 4 5; do
    rv=$(kubectl get --raw /api/v1/namespaces/default/configmaps | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
    out=$(kubectl get --raw "/api/v1/namespaces/default/configmaps?resourceVersion=$rv&resourceVersionMatch=Exact" 2>&1) && break
  done
  echo "$out"
}
expect "an exact list of the latest is served" '"kind":"ConfigMapList"' exact_latest

# /scale: kubectl scale and the Scale subresource (autoscaling/v1).
expect "api-resources lists workspaces/scale" 'workspaces/scale' bash -c "kubectl get --raw /apis/berth.dev/v1alpha1"
expect "kubectl scale"                      'workspace.berth.dev/phi-mini scaled' kubectl scale ws phi-mini --replicas 4
expect "scale wrote placement.replicas"     '^4$' kubectl get ws phi-mini -o jsonpath='{.placement.replicas}'
expect "get --subresource=scale"            '^autoscaling/v1 Scale 4 berth.dev/workspace=phi-mini$' \
       kubectl get ws phi-mini --subresource=scale -o jsonpath='{.apiVersion} {.kind} {.spec.replicas} {.status.selector}'
expect "scale with a stale --current-replicas is refused" 'Expected replicas to be 2, was 4|precondition' \
       kubectl scale ws phi-mini --current-replicas 2 --replicas 5
expect "scale dry run stores nothing"       'scaled' kubectl scale ws phi-mini --replicas 7 --dry-run=server
expect "still 4 after the dry run"          '^4$' kubectl get ws phi-mini -o jsonpath='{.placement.replicas}'
expect "a negative Scale is a 422 naming spec.replicas" 'spec.replicas' \
       kubectl patch ws phi-mini --subresource=scale --type=merge -p '{"spec":{"replicas":-1}}'
# kubectl scale names no fieldManager: the write is recorded under its User-Agent's product.
expect "scale is recorded under kubectl"   'manager: kubectl$' kubectl get ws phi-mini -o yaml --show-managed-fields

# Paging: every page comes from the first page's revision; a token whose snapshot is gone
# is 410 Expired. kubectl itself pages with --chunk-size; --raw shows each page.
for n in 1 2 3; do
  kubectl create configmap "page-$n" --from-literal=k=v >/dev/null 2>&1
done
CM=/api/v1/namespaces/default/configmaps
page() { kubectl get --raw "$CM?limit=2$1"; }
P1=$(page "")
TOKEN=$(echo "$P1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["continue"])')
RV1=$(echo "$P1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
kubectl create configmap page-22 --from-literal=k=v >/dev/null 2>&1   # sorts after page-2's cursor
kubectl delete configmap page-3 >/dev/null 2>&1
P2=$(page "&continue=$TOKEN")
names() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["metadata"]["resourceVersion"], *[i["metadata"]["name"] for i in d["items"]])'; }
expect "page 1 has two items and a token"   '^[0-9]+ page-1 page-2$' names <<<"$P1"
expect "page 2 is the first page's snapshot" "^$RV1 page-3\$" names <<<"$P2"
expect "a new list sees the changes"        'page-22' kubectl get cm -o name
expect "kubectl --chunk-size pages through" '^3$' bash -c "kubectl get cm --chunk-size=1 -o name | grep -c page-"
GONE=$(python3 -c 'print("1\x1f\x1fpage-1".encode().hex())')
expect "an expired token is 410 Expired"    'Expired|too old to display a consistent list' page "&continue=$GONE"
expect "a malformed token is 400"           'BadRequest|invalid continue token' page "&continue=zz"

# A watch with a label selector sees objects enter (ADDED) and leave (DELETED) its selection.
# Generous pauses: the sanitizer build's hub is several times slower to open the watch.
(timeout 12 kubectl get cm -l tier=gpu -w --output-watch-events >"$WORK/selwatch.out" 2>&1 &)
sleep 3
kubectl label cm page-1 tier=gpu >/dev/null
sleep 1
kubectl label cm page-1 tier- >/dev/null
for _ in $(seq 1 40); do grep -q DELETED "$WORK/selwatch.out" && break; sleep 0.2; done
expect "selector watch: labelled in is ADDED"   'ADDED +page-1' cat "$WORK/selwatch.out"
expect "selector watch: labelled out is DELETED" 'DELETED +page-1' cat "$WORK/selwatch.out"

# A streaming list (client-go's WatchList): current objects, the initial-events-end bookmark, changes.
STREAM="/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2"
kubectl get --raw "$STREAM" >"$WORK/stream.out" 2>&1
expect "streaming list: objects first"      '"name":"page-1".*"type":"ADDED"' head -1 "$WORK/stream.out"
expect "streaming list: then the end bookmark" '"k8s.io/initial-events-end":"true".*"type":"BOOKMARK"' tail -1 "$WORK/stream.out"
expect "streaming list needs NotOlderThan"  'unless resourceVersionMatch is set to NotOlderThan' kubectl get --raw "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true"
# Impersonation is refused rather than silently run as the caller.
expect "impersonation is refused"           'impersonation .* is not supported' kubectl --as=member:gpu-x get ws
expect "NotFound names the resource as Kubernetes does" 'configmaps "nope" not found$' kubectl get cm nope

# whoami / can-i, answered from the hub's own authorizer: the admin and a member credential.
expect "auth whoami (admin)"                'Username +admin' kubectl auth whoami
expect "can-i create workspaces (admin)"    '^yes$' kubectl auth can-i create workspaces
expect "can-i read /metrics (admin)"        '^yes$' kubectl auth can-i get /metrics
JOIN_TOKEN=$("$BIN_DIR/berthctl" token create --cluster gpu-ci 2>/dev/null |
             python3 -c 'import sys; print([w for w in sys.stdin.read().split() if "." in w and len(w) > 20][0])')
MEMBER_TOKEN=$(curl -sk -X POST -H "Authorization: Bearer $JOIN_TOKEN" -H 'Content-Type: application/json' \
               -d '{"clusterName":"gpu-ci"}' "https://127.0.0.1:$PORT/apis/berth.dev/v1alpha1/join" |
               python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
# Without a member credential kubectl would fall back to the admin's: fail instead.
if [ -n "$MEMBER_TOKEN" ]; then ok "a member joined"; else fail "a member joined" "no member credential"; fi
member() { kubectl --token="${MEMBER_TOKEN:-no-member-credential}" "$@"; }
expect "auth whoami (member)"               'Username +system:member:gpu-ci' member auth whoami
expect "member groups"                      'berth:members' member auth whoami
expect "member cannot create workspaces"    '^no( - |$)' member auth can-i create workspaces
expect "member renews its own Lease"        '^yes$' member auth can-i update leases/gpu-ci
expect "but not another member's"           '^no( - |$)' member auth can-i update leases/gpu-other
expect "member writes its Work's status"    '^yes$' member auth can-i patch works/gpu-ci --subresource=status
expect "member cannot read /metrics"        '^no( - |$)' member auth can-i get /metrics
expect "can-i agrees with the real request" 'Forbidden|forbidden' member create -f "$WORK/ws.yaml"

# Authentication: a wrong token is refused.
expect "wrong token is 401"                 'Unauthorized|provide credentials' kubectl --token=not-a-token get ws
expect_not "no panic in hub log"            'terminate|Segmentation|std::' cat "$WORK/hub.log"

finish
