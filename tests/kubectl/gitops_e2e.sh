#!/usr/bin/env bash
# A GitOps repository driven the way Argo CD and Flux drive it, with kubectl against a real
# berth-hub: a directory (Namespace, Secret, ConfigMap, PlacementPolicy, RolloutStrategy,
# Workspaces) applied with server-side apply and pruning, twice (the second run changes no
# resourceVersion), then a field deleted from a file disappears, a file deleted from the
# directory is pruned, and a `kubectl edit` of an applied field is the next apply's conflict.
# kubectl refuses `--prune -l` together with `--server-side` ("alpha"); its supported way is
# an ApplySet (KUBECTL_APPLYSET=true, --applyset), which is what this uses. Run by ctest.
SUITE=gitops-e2e
source "$(dirname "$0")/lib.sh"
start_hub --no-controllers

export KUBECTL_APPLYSET=true
REPO="$WORK/repo"
mkdir -p "$REPO"
cat >"$REPO/00-namespace.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: search}
YAML
cat >"$REPO/10-config.yaml" <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: hf-token, namespace: search}
type: Opaque
data: {token: aGZfc2VjcmV0}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: vllm-args, namespace: search}
data: {max-model-len: "8192"}
YAML
cat >"$REPO/20-policies.yaml" <<'YAML'
apiVersion: berth.dev/v1alpha1
kind: PlacementPolicy
metadata: {name: eu-only, namespace: search}
spec:
  required: {allowedRegions: [westeurope, northeurope]}
---
apiVersion: berth.dev/v1alpha1
kind: RolloutStrategy
metadata: {name: careful, namespace: search}
spec:
  stages:
  - {name: canary, maxClusters: 1, soakSeconds: 60}
YAML
cat >"$REPO/30-workspaces.yaml" <<'YAML'
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata:
  name: chat
  namespace: search
  labels: {team: search, tier: gpu}
resource: {gpuProducts: [L4]}
inference: {preset: {name: phi-4-mini-instruct}}
placement: {replicas: 2, policyRef: {name: eu-only}}
rollout: {strategyRef: {name: careful}}
---
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: embed, namespace: search}
resource: {gpuProducts: [L4]}
inference: {preset: {name: phi-4-mini-instruct}}
YAML

sync() { kubectl apply -n search --server-side --field-manager=gitops --prune --applyset=search-repo -f "$REPO" 2>&1; }
versions() {
  for o in namespace/search secret/hf-token configmap/vllm-args placementpolicies/eu-only \
           rolloutstrategies/careful workspaces/chat workspaces/embed; do
    kubectl get -n search "$o" -o jsonpath='{.metadata.resourceVersion} ' 2>&1
  done
}

# The ApplySet's parent (a Secret) lives in the namespace it manages, so the namespace comes
# first, as Argo CD's CreateNamespace or a Flux bootstrap does; the repository keeps it too.
expect "bootstrap the namespace"               'namespace/search serverside-applied' \
       kubectl apply --server-side --field-manager=gitops -f "$REPO/00-namespace.yaml"
expect "first sync applies every object"      'workspace.berth.dev/embed serverside-applied' sync
expect "every kind is there"                   '^[0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ $' versions
BEFORE=$(versions)
expect "second sync succeeds"                  'workspace.berth.dev/chat serverside-applied' sync
expect "second sync changed nothing"           "^${BEFORE}\$" versions

# A field deleted from a file disappears from the object.
sed -i -e 's/, tier: gpu//' -e 's/replicas: 2, //' "$REPO/30-workspaces.yaml"
expect "sync after deleting fields"            'serverside-applied' sync
expect_not "deleted label is gone"             'tier' kubectl get ws chat -n search -o jsonpath='{.metadata.labels}'
expect_not "deleted replicas are gone"         'replicas' kubectl get ws chat -n search -o jsonpath='{.placement}'
expect "what stayed in the file stayed"        '^eu-only search$' \
       kubectl get ws chat -n search -o jsonpath='{.placement.policyRef.name} {.metadata.labels.team}'

# A file deleted from the repository is pruned.
sed -i '/^---$/,$d' "$REPO/10-config.yaml"    # the ConfigMap goes, the Secret stays
expect "sync prunes the removed ConfigMap"     'configmap/vllm-args pruned' sync
expect "the ConfigMap is gone"                 'NotFound|not found' kubectl get configmap vllm-args -n search
expect "the Secret is not"                     '^hf-token$' kubectl get secret hf-token -n search -o jsonpath='{.metadata.name}'

# A change made by hand is the next sync's conflict (Argo CD and Flux show it as drift).
printf '#!/bin/sh\nsed -i "s/team: search/team: infra/" "$1"\n' >"$WORK/editor.sh"
chmod +x "$WORK/editor.sh"
expect "kubectl edit changes an applied label" 'edited' env KUBE_EDITOR="$WORK/editor.sh" kubectl edit ws chat -n search
expect "next sync reports the conflict"        'conflict with "kubectl-edit".*\.metadata\.labels\.team' sync
expect "forcing the sync restores the file"    'serverside-applied' \
       kubectl apply -n search --server-side --field-manager=gitops --force-conflicts --prune --applyset=search-repo -f "$REPO"
expect "the repository's value is back"        '^search$' kubectl get ws chat -n search -o jsonpath='{.metadata.labels.team}'
finish
