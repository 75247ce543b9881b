#!/usr/bin/env bash
# Staged rollouts end to end with real processes (issue #8): berthctl fleet up starts a hub and
# six `berth-agent --backend sim` members (tests/rollout_e2e/fleet.yaml); a workspace with one
# replica per member and a 3-stage strategy (canary → approval-gated eastus → rest) is upgraded:
#   1. a good revision waits at the approval gate, continues after `berthctl rollout approve`
#      and completes on all six members;
#   2. a bad revision (the sim refuses to pull its image) fails in the canary stage and is
#      rolled back by itself, the workspace never dropping below minAvailable (4) serving.
# Every wait is bounded. Run by ctest.
set -u
BIN_DIR=${BERTH_BIN_DIR:?BERTH_BIN_DIR must point at build/bin}
BERTHCTL=$BIN_DIR/berthctl
HERE=tests/rollout_e2e
WORK=$(mktemp -d /tmp/berth-rollout-e2e.XXXXXX)
DIR=$WORK/fleet
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export KUBECONFIG=$DIR/admin.kubeconfig
WATCHER=
cleanup() {
  [ -n "$WATCHER" ] && kill "$WATCHER" 2>/dev/null
  "$BERTHCTL" fleet down --data-dir "$DIR" --timeout 5s >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

passed=0; failed=0
ok()   { passed=$((passed+1)); echo "ok   - $1"; }
fail() { failed=$((failed+1)); echo "FAIL - $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/       | /'; }
wait_until() {
  local limit=$1; shift
  local deadline=$(( $(date +%s) + limit ))
  until "$@"; do [ "$(date +%s)" -ge "$deadline" ] && return 1; sleep 0.5; done
}
ws_json() { kubectl get workspace chat -o json 2>/dev/null; }
phase() { ws_json | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",{}).get("rollout",{}).get("phase",""))' 2>/dev/null; }
phase_is() { [ "$(phase)" = "$1" ]; }
# "cluster=revision" per placement, sorted.
revisions() { ws_json | python3 -c '
import json,sys
s=json.load(sys.stdin).get("status",{})
print(" ".join(sorted("%s=%s" % (p["cluster"], p.get("revision")) for p in s.get("placements",[]))))'; }
serving() { ws_json | python3 -c '
import json,sys
s=json.load(sys.stdin).get("status",{})
print(sum(p.get("availableReplicas",0) for p in s.get("placements",[])) + sum(x.get("readyReplicas",0) for x in s.get("superseded",[])))'; }
dump() { echo "--- rollout"; "$BERTHCTL" rollout status chat 2>&1 | head -20; echo "--- hub log"; tail -5 "$DIR/logs/hub.log"; }
# Samples the serving count in the background into $WORK/serving until told to stop.
# Bounded (at most 240 s) so it can never outlive the test.
watch_serving() {
  serving >>"$WORK/serving" 2>/dev/null
  ( end=$(( $(date +%s) + 240 ))
    while [ ! -f "$WORK/stop" ] && [ -d "$WORK" ] && [ "$(date +%s)" -lt "$end" ]; do
      serving >>"$WORK/serving" 2>/dev/null; sleep 0.3
    done ) &
  WATCHER=$!
}
stop_watch() {
  touch "$WORK/stop"; wait "$WATCHER" 2>/dev/null; WATCHER=; rm -f "$WORK/stop"
  serving >>"$WORK/serving" 2>/dev/null  # at least one sample, however short the rollout
  sort -n "$WORK/serving" 2>/dev/null | grep -v '^$' | head -1; rm -f "$WORK/serving"
}

out=$("$BERTHCTL" fleet up --fleet "$HERE/fleet.yaml" --data-dir "$DIR" --listen "127.0.0.1:$PORT" \
        --agent-port-base 0 --time-scale 0.002 --wait 90s 2>&1)
if [ $? -ne 0 ]; then fail "fleet up" "$out"; echo "passed=$passed failed=$((failed))"; exit 1; fi
ok "fleet up: hub and 6 simulated members Healthy"

kubectl apply -f "$HERE/workspace.yaml" >/dev/null
if wait_until 90 phase_is Completed && \
   wait_until 60 bash -c '[ "$(kubectl get workspace chat -o jsonpath="{.status.conditions[?(@.type==\"Available\")].status}")" = True ]'; then
  ok "first deployment: revision 1 on all members ($(revisions))"
else
  fail "first deployment" "$(dump)"
fi

# ---------------------------------------------------------------- good revision, approval gate
t0=$(date +%s)
watch_serving
kubectl patch workspace chat --type merge -p '{"inference":{"image":"example.com/vllm:v2"}}' >/dev/null
if wait_until 60 phase_is AwaitingApproval; then
  revs=$(revisions)
  n2=$(grep -o '=2' <<<"$revs" | wc -l)
  if [ "$n2" -eq 1 ] && grep -Eq 'eu-[12]=2' <<<"$revs"; then
    ok "canary stage: one westeurope member on revision 2, then AwaitingApproval ($revs)"
  else
    fail "canary stage: expected exactly one westeurope member on revision 2" "$revs"
  fi
  sleep 3
  if phase_is AwaitingApproval && [ "$(grep -o '=2' <<<"$(revisions)" | wc -l)" -eq 1 ]; then
    ok "the approval gate holds: nothing else moves without approval"
  else
    fail "the approval gate holds" "$(revisions) $(phase)"
  fi
  out=$("$BERTHCTL" rollout approve chat 2>&1) && ok "berthctl rollout approve: $out" || fail "berthctl rollout approve" "$out"
else
  fail "good revision reaches the approval gate" "$(dump)"
fi
out=$(timeout 120 "$BERTHCTL" rollout status chat -w --timeout 100s 2>&1); rc=$?
min=$(stop_watch)
if [ $rc -eq 0 ] && [ "$(grep -o '=2' <<<"$(revisions)" | wc -l)" -eq 6 ]; then
  ok "good revision completed on all 6 members in $(( $(date +%s) - t0 ))s (berthctl rollout status -w exit 0)"
else
  fail "good revision completes" "rc=$rc $(revisions)
$(tail -15 <<<"$out")"
fi
if [ -n "$min" ] && [ "$min" -ge 4 ]; then ok "never below minAvailable during the good rollout (lowest serving: $min of 6)"; else fail "minAvailable during the good rollout" "lowest serving: $min"; fi

# ---------------------------------------------------------------- bad revision → rollback
for f in "$DIR"/agents/*.admin; do
  curl -sf -X POST "http://$(cat "$f")/faults/image-pull-failure?image=example.com/vllm:v3-broken" >/dev/null ||
    fail "inject image pull failure via $(basename "$f")"
done
t0=$(date +%s)
watch_serving
kubectl patch workspace chat --type merge -p '{"inference":{"image":"example.com/vllm:v3-broken"}}' >/dev/null
out=$(timeout 120 "$BERTHCTL" rollout status chat -w --timeout 100s 2>&1); rc=$?
min=$(stop_watch)
if [ $rc -eq 1 ] && phase_is RolledBack; then
  ok "bad revision rolled back by itself in $(( $(date +%s) - t0 ))s (berthctl rollout status -w exit 1)"
else
  fail "bad revision is rolled back" "rc=$rc phase=$(phase)
$(tail -15 <<<"$out")"
fi
if [ "$(grep -o '=2' <<<"$(revisions)" | wc -l)" -eq 6 ]; then ok "every member back on revision 2 ($(revisions))"; else fail "every member back on revision 2" "$(revisions)"; fi
events=$(kubectl get events --field-selector involvedObject.name=chat -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}')
if grep -q ClusterFailed <<<"$events" && grep -q RollbackStarted <<<"$events"; then
  ok "events ClusterFailed and RollbackStarted recorded"
else
  fail "rollback events" "$events"
fi
stage_of_failure=$(ws_json | python3 -c '
import json,sys
s=json.load(sys.stdin)["status"]["rollout"]
print(" ".join("%s:%s" % (n, c["stage"]) for n, c in s["clusters"].items() if c["progress"] == "Failed"))')
if [ -n "$stage_of_failure" ] && ! grep -qv ':0$' <<<"$(tr ' ' '\n' <<<"$stage_of_failure")"; then
  ok "it failed in stage 1 (canary): $stage_of_failure"
else
  fail "failure confined to stage 1" "$stage_of_failure"
fi
if [ -n "$min" ] && [ "$min" -ge 4 ]; then ok "never below minAvailable during the failed rollout (lowest serving: $min of 6)"; else fail "minAvailable during the failed rollout" "lowest serving: $min"; fi
sleep 5
if phase_is RolledBack && [ "$(grep -o '=2' <<<"$(revisions)" | wc -l)" -eq 6 ]; then
  ok "the failed revision is not retried"
else
  fail "the failed revision is not retried" "$(phase) $(revisions)"
fi

echo "passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
