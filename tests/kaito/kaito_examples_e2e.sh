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
# Refused, each with its reason.
expect "a tuning workspace is refused"       'tuning: .*does not run tuning jobs' kubectl apply -f "$CORPUS/tuning-phi-3.yaml"
expect "an unknown preset is refused"        'unknown model preset "not-a-model-9000"; known presets: .*phi-4-mini-instruct' kubectl apply -f "$CORPUS/unknown-preset.yaml"
expect "a custom template is refused"        'inference.template: .*custom pod templates are not supported' \
       kubectl apply -f "$CORPUS/custom-template.yaml"

finish
