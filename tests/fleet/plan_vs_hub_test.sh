#!/usr/bin/env bash
# `berthctl plan` and the hub decide alike on the same fleet file and workspaces: a fleet from
# tests/fleet/plan-vs-hub.yaml is started with `berthctl fleet up` (real berth-hub and
# berth-agent --backend sim processes on loopback), the workspaces are applied with kubectl,
# and each one's clusters must equal what plan printed. Also: a file the hub refuses, plan
# refuses with the same message. Every wait is bounded. Run by ctest.
set -u
BIN_DIR=${BERTH_BIN_DIR:?BERTH_BIN_DIR must point at build/bin}
BERTHCTL=$BIN_DIR/berthctl
FLEET_FILE=tests/fleet/plan-vs-hub.yaml
WS_FILE=tests/fleet/plan-vs-hub-workspaces.yaml
WORK=$(mktemp -d /tmp/berth-plan-vs-hub.XXXXXX)
DIR=$WORK/fleet
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { "$BERTHCTL" fleet down --data-dir "$DIR" --timeout 5s >/dev/null 2>&1; rm -rf "$WORK"; }
trap cleanup EXIT

passed=0; failed=0
ok()   { passed=$((passed+1)); echo "ok   - $1"; }
fail() { failed=$((failed+1)); echo "FAIL - $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/       | /'; }

# workspace -> sorted "cluster:replicas" list, from plan's JSON or from the hub's Workspaces.
plan_view() {
  python3 -c '
import json, sys
out = {}
for p in json.load(sys.stdin)["placements"]:
    out.setdefault(p["workspace"].split("/")[1], []).append("%s:%d" % (p["cluster"], p["replicas"]))
for ws in sorted(out): print(ws, " ".join(sorted(out[ws])))'
}
hub_view() {
  kubectl get ws -o json | python3 -c '
import json, sys
for ws in sorted(json.load(sys.stdin)["items"], key=lambda w: w["metadata"]["name"]):
    ps = ["%s:%d" % (p["cluster"], p.get("replicas", 0)) for p in ws.get("status", {}).get("placements", [])]
    print(ws["metadata"]["name"], " ".join(sorted(ps)))'
}

planned=$("$BERTHCTL" plan --fleet "$FLEET_FILE" -f "$WS_FILE" -o json | plan_view)
[ "$(echo "$planned" | wc -l)" -eq 4 ] && ok "plan places all four workspaces" || fail "plan places all four workspaces" "$planned"

out=$("$BERTHCTL" fleet up --fleet "$FLEET_FILE" --data-dir "$DIR" --listen "127.0.0.1:$PORT" \
      --agent-port-base 0 --wait 60s 2>&1) || { fail "fleet up" "$out"; echo "0 passed, 1 failed"; exit 1; }
export KUBECONFIG=$DIR/admin.kubeconfig

# Was: fleet up dropped the fleet file's taints.
taints=$(kubectl get mc pvh-canary -o jsonpath='{.spec.taints[*].key}={.spec.taints[*].effect}')
[ "$taints" = "berth.dev/canary=NoSchedule" ] && ok "the canary's taint reached its MemberCluster" || fail "the canary's taint reached its MemberCluster" "$taints"

kubectl apply -f "$WS_FILE" >/dev/null
decided=""
for _ in $(seq 1 150); do  # bounded: 30 s
  decided=$(hub_view)
  [ "$(echo "$decided" | grep -c ':1$')" -eq 4 ] && break
  sleep 0.2
done
if [ "$decided" = "$planned" ]; then
  ok "the hub decides what plan printed"
else
  fail "the hub decides what plan printed" "$(printf 'plan:\n%s\nhub:\n%s' "$planned" "$decided")"
fi

# Was: plan ignored placement.policy.weights that the hub refuses as an unknown field.
sed 's/scoring: {weights: {cost: 1, availability: 0, locality: 0, warmCache: 0, affinity: 0}}}/weights: {cost: 1}}/' \
  "$WS_FILE" | awk 'BEGIN{RS="---\n"} NR==1' | sed 's/name: cost-only/name: typo/' >"$WORK/bad.yaml"
hub_says=$(kubectl apply -f "$WORK/bad.yaml" 2>&1)
plan_says=$("$BERTHCTL" plan --fleet "$FLEET_FILE" -f "$WORK/bad.yaml" 2>&1); plan_rc=$?
want='placement.policy.weights: unknown field'
if echo "$hub_says" | grep -qF "$want" && echo "$plan_says" | grep -qF "$want" && [ $plan_rc -ne 0 ]; then
  ok "plan refuses what the hub refuses, with the same message"
else
  fail "plan refuses what the hub refuses, with the same message" "$(printf 'hub: %s\nplan (rc %s): %s' "$hub_says" "$plan_rc" "$plan_says")"
fi

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
