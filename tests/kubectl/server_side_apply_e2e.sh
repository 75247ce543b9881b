#!/usr/bin/env bash
# Server-side apply with field ownership, driven by kubectl against a real berth-hub:
# managers recorded per field, a conflict between two appliers (409 naming the manager and
# the field), --force-conflicts taking the field over, a field removed from the applied file
# disappearing, shared ownership, and `kubectl edit` taking a field the next apply then
# conflicts on. Run by ctest (tests/kubectl).
SUITE=ssa-e2e
source "$(dirname "$0")/lib.sh"
start_hub --no-controllers

ws() { kubectl get ws chat -o jsonpath="$1" 2>&1; }
managed() { kubectl get ws chat -o json --show-managed-fields 2>&1; }

# What a GitOps repository holds: the whole Workspace.
cat >"$WORK/gitops.yaml" <<'YAML'
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata:
  name: chat
  labels: {team: search, tier: gpu}
resource:
  gpuProducts: [L4]
inference:
  preset: {name: phi-4-mini-instruct}
placement:
  replicas: 2
rollout:
  strategy:
    stages:
    - {name: canary, maxClusters: 1, soakSeconds: 60}
    - {name: wave-1, maxClusters: 3}
YAML
# The same file a week later: the tier label and the canary soak are gone.
sed -e 's/, tier: gpu//' -e 's/, soakSeconds: 60//' "$WORK/gitops.yaml" >"$WORK/gitops-trimmed.yaml"
# An operator's file that only scales.
cat >"$WORK/scale.yaml" <<'YAML'
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: chat}
placement:
  replicas: 5
YAML
# Another team adds a stage of its own (stages merge by name).
cat >"$WORK/stage.yaml" <<'YAML'
apiVersion: berth.dev/v1alpha1
kind: Workspace
metadata: {name: chat}
rollout:
  strategy:
    stages:
    - {name: eu-first, maxClusters: 2}
YAML

gitops() { kubectl apply --server-side --field-manager=gitops -f "$@"; }
ops()    { kubectl apply --server-side --field-manager=ops -f "$@"; }

expect "apply creates"                          'workspace.berth.dev/chat serverside-applied' gitops "$WORK/gitops.yaml"
expect "managedFields name the applier"         '"manager": "gitops"' managed
expect "the applier owns replicas (FieldsV1)"   '"f:replicas": \{\}' managed
expect "stages are owned by name"               'k:\{\\"name\\":\\"canary\\"\}' managed
expect "managedFields hidden by default"        '^$' bash -c "kubectl get ws chat -o yaml | grep managedFields"
expect "re-apply is unchanged (same version)"   "^$(ws '{.metadata.resourceVersion}')\$" \
       bash -c "kubectl apply --server-side --field-manager=gitops -f $WORK/gitops.yaml >/dev/null && kubectl get ws chat -o jsonpath='{.metadata.resourceVersion}'"

# Another manager sets a field gitops owns to another value: 409 naming both.
expect "conflict names manager and field"       'conflict with "gitops".*\.placement\.replicas' ops "$WORK/scale.yaml"
expect "conflicting apply changed nothing"      '^2$' ws '{.placement.replicas}'
expect "dry run reports the same conflict"      'conflict with "gitops"' \
       kubectl apply --server-side --field-manager=ops --dry-run=server -f "$WORK/scale.yaml"
expect "--force-conflicts takes the field"      'serverside-applied' \
       kubectl apply --server-side --field-manager=ops --force-conflicts -f "$WORK/scale.yaml"
expect "forced value stored"                    '^5$' ws '{.placement.replicas}'
expect "ops now owns replicas"                  '"manager": "ops"' managed
expect "gitops re-apply now conflicts with ops" 'conflict with "ops".*\.placement\.replicas' gitops "$WORK/gitops.yaml"

# A second manager adds a stage of its own: both stages stay, each owned by its applier.
expect "team-eu adds a stage"                   'serverside-applied' \
       kubectl apply --server-side --field-manager=team-eu -f "$WORK/stage.yaml"
expect "stages merged by name"                  '^canary wave-1 eu-first$' ws '{.rollout.strategy.stages[*].name}'

# Fields gitops stops applying are removed; fields another manager owns stay.
expect "trimmed apply succeeds"                 'serverside-applied' \
       kubectl apply --server-side --field-manager=gitops --force-conflicts -f "$WORK/gitops-trimmed.yaml"
expect_not "removed label is gone"              'tier' ws '{.metadata.labels}'
expect "kept label stays"                       '^search$' ws '{.metadata.labels.team}'
expect_not "removed soak is gone"               'soakSeconds' ws '{.rollout.strategy.stages[0]}'
expect "team-eu's stage survives gitops' apply" 'eu-first' ws '{.rollout.strategy.stages[*].name}'
expect "gitops' forced apply took replicas back" '^2$' ws '{.placement.replicas}'

# kubectl edit takes the field it changes; the next apply of that field conflicts.
printf '#!/bin/sh\nsed -i "s/team: search/team: infra/" "$1"\n' >"$WORK/editor.sh"
chmod +x "$WORK/editor.sh"
export KUBE_EDITOR="$WORK/editor.sh"
expect "kubectl edit changes a label"           'workspace.berth.dev/chat edited' kubectl edit ws chat
expect "the edit is recorded as kubectl-edit"   '"manager": "kubectl-edit"' managed
expect "next apply conflicts with the edit"     'conflict with "kubectl-edit".*\.metadata\.labels\.team' \
       gitops "$WORK/gitops-trimmed.yaml"

# Merge patches are recorded under their manager too (Kubernetes' operation Update).
expect "merge patch records an Update"          'patched' \
       kubectl patch ws chat --type=merge -p '{"metadata":{"annotations":{"note":"x"}}}' --field-manager=script
expect "Update entry for the patch"             '"manager": "script"' managed
expect "fieldManager over 128 characters is refused" 'at most 128' \
       kubectl patch ws chat --type=merge -p '{"metadata":{"annotations":{"n":"y"}}}' --field-manager="$(printf 'm%.0s' $(seq 1 129))"

# Server-side apply through /status applies and owns only status.
cat >"$WORK/mc-status.yaml" <<'YAML'
apiVersion: berth.dev/v1alpha1
kind: MemberCluster
metadata: {name: gpu-status}
spec: {region: moon}
status:
  conditions:
  - {type: Ready, status: "True", reason: Applied, message: by ssa, lastTransitionTime: "2026-12-04T00:00:00Z"}
YAML
kubectl apply --server-side -f "$WORK/mc-status.yaml" >/dev/null 2>&1
sed 's/region: moon/region: mars/' "$WORK/mc-status.yaml" >"$WORK/mc-status2.yaml"
expect "apply --subresource=status"            'serverside-applied' \
       kubectl apply --server-side --subresource=status --field-manager=agent -f "$WORK/mc-status2.yaml"
expect "status was applied"                    '^Applied$' kubectl get mc gpu-status -o jsonpath='{.status.conditions[0].reason}'
expect "spec did not change through /status"   '^moon$' kubectl get mc gpu-status -o jsonpath='{.spec.region}'
expect "the status entry names its subresource" 'agent status' \
       kubectl get mc gpu-status -o jsonpath='{range .metadata.managedFields[*]}{.manager} {.subresource}{"\n"}{end}'

finish
