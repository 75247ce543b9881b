#!/usr/bin/env bash
# KAITO's examples, applied unchanged with kubectl to a simulated fleet (tests/kaito/fleet.yaml,
# real berth-hub and berth-agent --backend sim processes on loopback): every inference
# workspace whose preset is in the catalog and whose GPUs exist becomes Available; every other
# one is refused with a message naming the reason. The manifests in corpus/ are written from
# KAITO's published API reference and examples. Every wait is bounded. Run by ctest.
SUITE=kaito-e2e
source "$(dirname "$0")/../kubectl/lib.sh"  # WORK, PORT, expect, finish (its hub is not started)
HERE=$(cd "$(dirname "$0")" && pwd)
CORPUS=$HERE/corpus
DIR=$WORK/fleet
cleanup() { "$BIN_DIR/berthctl" fleet down --data-dir "$DIR" --timeout 5s >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT

# available NAME: the kaito.sh view's Available condition turns True within 90 s.
available() {
  local name=$1 out
  for _ in $(seq 1 450); do
    out=$(kubectl get workspaces.kaito.sh "$name" -o jsonpath='{.status.conditions[?(@.type=="Available")].status}' 2>&1)
    [ "$out" = "True" ] && { ok "$name is Available"; return; }
    sleep 0.2
  done
  fail "$name is Available" "$(kubectl get workspaces.kaito.sh "$name" -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}' 2>&1)"
}

"$BIN_DIR/berthctl" fleet up --fleet "$HERE/fleet.yaml" --data-dir "$DIR" --listen "127.0.0.1:$PORT" \
  --agent-port-base 0 --wait 60s >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; echo "FAIL - fleet up"; exit 1; }
export KUBECONFIG=$DIR/admin.kubeconfig

# Bring your own nodes: the owner labelled one node apps=llama-byo; the replica lands on it.
expect "gated llama: Secret, ConfigMap and Workspace apply" 'workspace.kaito.sh/workspace-llama-3-1-8b-instruct created' \
       kubectl apply -f "$CORPUS/llama-3.1-8b-gated.yaml"
available workspace-llama-3-1-8b-instruct
expect "the labelSelector is honoured where a node carries it" '"labelSelector":"Honoured"' \
       kubectl get work azure-eastus -o jsonpath='{.spec.workspaces[?(@.workspace.metadata.name=="workspace-llama-3-1-8b-instruct")].gpu}'
# Provisioned mode: no node carries the examples' labels; the instance type's GPUs serve.
for f in phi-4-mini.v1beta1 mistral-7b.v1alpha1 qwen-coder.aws; do
  expect "$f applies unchanged" 'workspace.kaito.sh/.* created' kubectl apply -f "$CORPUS/$f.yaml"
done
expect "the labelSelector decision is a Warning" 'Warning: .*resource.labelSelector is honoured in member clusters' \
       kubectl apply --dry-run=server -f "$CORPUS/phi-4-mini.v1beta1.yaml" --force-conflicts --server-side
available workspace-phi-4-mini
available workspace-mistral-7b-instruct
available workspace-qwen-2-5-coder-7b
expect "an AWS instance type lands on its GPUs" 'aws-uswest' \
       kubectl get workspaces.berth.dev workspace-qwen-2-5-coder-7b -o jsonpath='{.status.placements[*].cluster}'
expect "the view returns what was applied" '^llama-inference-params$' \
       kubectl get workspaces.kaito.sh workspace-llama-3-1-8b-instruct -o jsonpath='{.inference.config}'

# The model-access Secret travels in the Work of the member that runs the workspace and is
# applied there as the workspace's own copy, which the pods read as HF_TOKEN; the config
# ConfigMap's vllm: section became the parameters.
LLAMA='{.spec.workspaces[?(@.workspace.metadata.name=="workspace-llama-3-1-8b-instruct")]'
expect "the Secret is delivered through Work" '^hf-token$' \
       kubectl get work azure-eastus -o jsonpath="$LLAMA.references[*].name}"
expect "the ConfigMap's vllm section became parameters" '"maxModelLen":16384' \
       kubectl get work azure-eastus -o jsonpath="$LLAMA.workspace.inference.parameters}"
expect "ReferencesResolved is True" '^True Resolved$' \
       kubectl get workspaces.berth.dev workspace-llama-3-1-8b-instruct -o jsonpath='{.status.conditions[?(@.type=="ReferencesResolved")].status} {.status.conditions[?(@.type=="ReferencesResolved")].reason}'
member_objects() { curl -s "http://$(cat "$DIR/agents/azure-eastus.admin")/state" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["sim"]["objects"]))'; }
expect "the member holds the workspace's copy of the Secret" '^Secret default/workspace-llama-3-1-8b-instruct-hf-token$' member_objects
# Editing the ConfigMap rolls out a new revision with the new value.
kubectl patch configmap llama-inference-params --type merge \
  -p '{"data":{"inference_config.yaml":"vllm:\n  max-model-len: 8192\n"}}' >/dev/null
for _ in $(seq 1 150); do
  kubectl get work azure-eastus -o jsonpath="$LLAMA.workspace.inference.parameters}" 2>/dev/null | grep -q '"maxModelLen":8192' && break
  sleep 0.2
done
expect "a ConfigMap edit rolls out as a new revision" '^2$' \
       kubectl get workspaces.berth.dev workspace-llama-3-1-8b-instruct -o jsonpath='{.status.revisions.target}'
# A broken config is refused naming the argument, and the running revision keeps running.
kubectl patch configmap llama-inference-params --type merge \
  -p '{"data":{"inference_config.yaml":"vllm:\n  max-model-len: 99999999\n"}}' >/dev/null
for _ in $(seq 1 150); do
  kubectl get workspaces.berth.dev workspace-llama-3-1-8b-instruct -o jsonpath='{.status.conditions[?(@.type=="ReferencesResolved")].reason}' | grep -q InferenceConfigInvalid && break
  sleep 0.2
done
expect "a broken config names the vLLM argument and holds the revision" 'vllm.max-model-len: 99999999 is above .*keeps running' \
       kubectl get workspaces.berth.dev workspace-llama-3-1-8b-instruct -o jsonpath='{.status.conditions[?(@.type=="ReferencesResolved")].message}'
expect "... and the workspace stays Available" '^True$' \
       kubectl get workspaces.berth.dev workspace-llama-3-1-8b-instruct -o jsonpath='{.status.conditions[?(@.type=="Available")].status}'
# Deleting the workspace removes the member's copy.
kubectl delete workspaces.kaito.sh workspace-llama-3-1-8b-instruct --wait=false >/dev/null
for _ in $(seq 1 150); do member_objects | grep -q 'hf-token' || break; sleep 0.2; done
expect "the member's copy goes with the workspace" '^absent$' bash -c "$(declare -f member_objects); DIR=$DIR; member_objects | grep -q hf-token && echo present || echo absent"

# A custom pod template runs as given, sized by its GPU limit; adapters render as LoRA modules.
expect "a custom template applies unchanged" 'workspace.kaito.sh/workspace-custom-llm created' kubectl apply -f "$CORPUS/custom-template.yaml"
expect "adapters apply unchanged" 'workspace.kaito.sh/workspace-phi-3-mini-adapter created' kubectl apply -f "$CORPUS/phi-3-adapters.yaml"
available workspace-custom-llm
available workspace-phi-3-mini-adapter
expect "the template's pod asks for its own GPU count" '"gpusPerReplica":1' \
       kubectl get work azure-eastus -o jsonpath='{.spec.workspaces[?(@.workspace.metadata.name=="workspace-custom-llm")].gpu}'
expect "adapter strength is accepted with a Warning" 'Warning: .*strength of "phi-3-adapter" is not used' \
       kubectl apply --dry-run=server --server-side --force-conflicts -f "$CORPUS/phi-3-adapters.yaml"
expect "each adapter has a status" '^phi-3-adapter Ready$' \
       kubectl get workspaces.berth.dev workspace-phi-3-mini-adapter -o jsonpath='{.status.adapters[0].name} {.status.adapters[0].state}'
expect "the conversion notes are an Event too" 'workspace-phi-3-mini-adapter' \
       kubectl get events -o jsonpath='{.items[?(@.reason=="KaitoFieldsConverted")].involvedObject.name}'
# The tainted training node took nothing: the planner planned with its taint.
pods_on_training() { curl -s "http://$(cat "$DIR/agents/azure-eastus.admin")/state" |
  python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin)["sim"]["pods"] if "training" in p["node"]))'; }
expect "no replica lands on the tainted training node" '^0$' pods_on_training
# Refused, each with its reason.
expect "a tuning workspace is refused"       'tuning: .*does not run tuning jobs' kubectl apply -f "$CORPUS/tuning-phi-3.yaml"
expect "an unknown preset is refused"        'unknown model preset "not-a-model-9000"; known presets: .*phi-4-mini-instruct' kubectl apply -f "$CORPUS/unknown-preset.yaml"

finish
