#!/usr/bin/env bash
# berthctl fleet up/status/restart/down end to end, as a user runs them: real berth-hub and
# berth-agent processes on loopback from tests/fleet/fleet.yaml (3 clusters), checked through
# the pid files, the admin kubeconfig and the hub's API. Every wait is bounded. Run by ctest.
set -u
BIN_DIR=${BERTH_BIN_DIR:?BERTH_BIN_DIR must point at build/bin}
BERTHCTL=$BIN_DIR/berthctl
FLEET_FILE=tests/fleet/fleet.yaml
CLUSTERS="test-eu test-us test-onprem"
for tool in curl python3; do
  command -v $tool >/dev/null || { echo "FAIL - $tool is not installed (make deps)"; exit 1; }
done

WORK=$(mktemp -d /tmp/berth-fleet-test.XXXXXX)
DIR=$WORK/fleet
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
UP=("$BERTHCTL" fleet up --fleet "$FLEET_FILE" --data-dir "$DIR" --listen "127.0.0.1:$PORT"
    --agent-port-base 0 --wait 60s)

# Is PID a live process started for this test's data dir? (Guards against reused pids.)
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q -- "$DIR"; }
# Whatever happens, no process of this test outlives it.
cleanup() {
  "$BERTHCTL" fleet down --data-dir "$DIR" --timeout 5s >/dev/null 2>&1
  for f in "$WORK"/pids-seen/*; do [ -f "$f" ] && ours "$(cat "$f")" && kill -9 "$(cat "$f")" 2>/dev/null; done
  [ -n "${FG_PID:-}" ] && kill -9 "$FG_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/pids-seen"

passed=0; failed=0
ok()   { passed=$((passed+1)); echo "ok   - $1"; }
fail() { failed=$((failed+1)); echo "FAIL - $1"; [ -n "${2:-}" ] && echo "$2" | sed 's/^/       | /'; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else fail "$name"; fi; }
# wait_until SECONDS COMMAND...: polls every 0.2 s; false after SECONDS.
wait_until() {
  local limit=$1; shift
  local deadline=$(( $(date +%s) + limit ))
  until "$@"; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

# Is the process in NAME.pid alive and the expected binary?
alive() {
  local name=$1 pid binary=berth-agent
  [ "$name" = hub ] && binary=berth-hub
  [ -f "$DIR/pids/$name.pid" ] || return 1
  pid=$(cat "$DIR/pids/$name.pid")
  kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$binary"
}
remember_pids() { for f in "$DIR"/pids/*.pid; do [ -f "$f" ] && cp "$f" "$WORK/pids-seen/$(basename "$f")-$(cat "$f")"; done; }
all_gone() { for f in "$WORK"/pids-seen/*; do ours "$(cat "$f")" && return 1; done; return 0; }

# GET PATH from the hub with the admin kubeconfig's token, TLS verified with the hub's CA.
api_get() {
  local token
  token=$(sed -n 's/^ *token: *//p' "$DIR/admin.kubeconfig" | head -1)
  curl -sf --max-time 5 --cacert "$DIR/hub/pki/ca.crt" -H "Authorization: Bearer $token" \
    "https://127.0.0.1:$PORT$1"
}
# Prints NAME=Joined/Healthy for each MemberCluster.
member_conditions() {
  api_get /apis/berth.dev/v1alpha1/memberclusters | python3 -c '
import json, sys
for m in json.load(sys.stdin)["items"]:
    c = {x["type"]: x["status"] for x in m.get("status", {}).get("conditions", [])}
    print("%s=%s/%s" % (m["metadata"]["name"], c.get("Joined"), c.get("Healthy")))'
}
all_members_healthy() {
  local out; out=$(member_conditions) || return 1
  for c in $CLUSTERS; do grep -qx "$c=True/True" <<<"$out" || return 1; done
}
token_count() { api_get /apis/berth.dev/v1alpha1/bootstraptokens | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))'; }

# ---------------------------------------------------------------- fleet up
out=$("${UP[@]}" 2>&1); rc=$?
remember_pids
if [ $rc -eq 0 ]; then ok "fleet up exits 0"; else fail "fleet up exits 0 (rc $rc)" "$out"; fi
for name in hub $CLUSTERS; do
  check "pid file of $name names a running $( [ "$name" = hub ] && echo berth-hub || echo berth-agent)" alive "$name"
  check "log of $name exists" test -s "$DIR/logs/$name.log"
done
check "admin.kubeconfig is written" test -s "$DIR/admin.kubeconfig"
grep -q "server: https://127.0.0.1:$PORT" "$DIR/admin.kubeconfig" &&
  ok "admin.kubeconfig points at the hub's --listen address" ||
  fail "admin.kubeconfig points at the hub's --listen address" "$(grep server: "$DIR/admin.kubeconfig")"
if all_members_healthy; then ok "every member is Joined and Healthy at the hub (API)";
else fail "every member is Joined and Healthy at the hub (API)" "$(member_conditions)"; fi
for c in $CLUSTERS; do
  admin=$(cat "$DIR/agents/$c.admin" 2>/dev/null)
  [ "$(curl -s --max-time 5 "http://$admin/healthz")" = ok ] && ok "$c admin endpoint $admin answers /healthz" ||
    fail "$c admin endpoint ($admin) answers /healthz"
  grep -q "joined the hub" "$DIR/logs/$c.log" && ok "$c joined with a token" || fail "$c joined with a token" "$(tail -5 "$DIR/logs/$c.log")"
done
# Each token fleet up minted is bound to the member it joined as (and allows no takeover).
bindings=$(api_get /apis/berth.dev/v1alpha1/bootstraptokens | python3 -c '
import json, sys
for t in json.load(sys.stdin)["items"]:
    s = t["spec"]
    print("%s=%s/%s" % (s.get("clusterName"), t.get("status", {}).get("usedBy"), s.get("allowRejoin", False)))' | sort | tr '\n' ' ')
want=$(for c in $CLUSTERS; do echo "$c=$c/False"; done | sort | tr '\n' ' ')
[ "$bindings" = "$want" ] && ok "fleet up binds each join token to its cluster name" ||
  fail "fleet up binds each join token to its cluster name" "got: $bindings; want: $want"
leftover=$(ls "$DIR"/agents/*.join-token 2>/dev/null)
[ -z "$leftover" ] && ok "spent join-token files are removed" || fail "spent join-token files are removed" "$leftover"
if ps -eo args | grep "[b]erth-agent" | grep -- "$DIR" | grep -q -- "--join-token "; then
  fail "no agent has its join token on the command line"
else ok "no agent has its join token on the command line"; fi
for name in test-eu hub berth-gateway; do
  grep -q "$name" <<<"$out" && ok "fleet up prints $name" || fail "fleet up prints $name" "$out"
done
grep -q "fleet down --data-dir $DIR" <<<"$out" && ok "fleet up prints the next commands" || fail "fleet up prints the next commands" "$out"
tokens_after_first_up=$(token_count)
[ "$tokens_after_first_up" = 3 ] && ok "one bootstrap token per cluster" || fail "one bootstrap token per cluster (found $tokens_after_first_up)"

# A second fleet on the same data dir is refused, and nothing is started.
out=$("${UP[@]}" 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q "already runs a fleet" <<<"$out" && grep -q "fleet down --data-dir" <<<"$out"; then
  ok "fleet up refuses a data dir whose fleet runs"
else fail "fleet up refuses a data dir whose fleet runs (rc $rc)" "$out"; fi
check "the running hub is untouched by the refused fleet up" alive hub

# ---------------------------------------------------------------- status, kill, restart
out=$("$BERTHCTL" fleet status --data-dir "$DIR" 2>&1); rc=$?
# hub, three agents and berth-gateway (which runs HAProxy as its child)
[ $rc -eq 0 ] && [ "$(grep -c ' running ' <<<"$out")" -eq 5 ] && grep -q "^berth-gateway .* running" <<<"$out" &&
  ok "fleet status: 5 processes running (hub, 3 agents, gateway), exit 0" ||
  fail "fleet status: 5 processes running (hub, 3 agents, gateway), exit 0 (rc $rc)" "$out"
kill -9 "$(cat "$DIR/pids/test-us.pid")"
wait_until 10 bash -c "! kill -0 $(cat "$DIR/pids/test-us.pid") 2>/dev/null"
out=$("$BERTHCTL" fleet status --data-dir "$DIR" 2>&1); rc=$?
[ $rc -eq 3 ] && grep -q "test-us .* dead" <<<"$out" && ok "fleet status shows the killed agent dead, exit 3" ||
  fail "fleet status shows the killed agent dead, exit 3 (rc $rc)" "$out"
out=$("$BERTHCTL" fleet restart --data-dir "$DIR" test-us 2>&1); rc=$?
remember_pids
[ $rc -eq 0 ] && ok "fleet restart test-us exits 0" || fail "fleet restart test-us exits 0 (rc $rc)" "$out"
check "test-us runs again" alive test-us
wait_until 20 grep -q "using the member credential stored" "$DIR/logs/test-us.log" &&
  ok "restarted test-us rejoins with its stored credential" || fail "restarted test-us rejoins with its stored credential" "$(tail -5 "$DIR/logs/test-us.log")"
out=$("$BERTHCTL" fleet restart --data-dir "$DIR" no-such-cluster 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q "test-us" <<<"$out" && ok "fleet restart names the known processes for an unknown one" ||
  fail "fleet restart rejects an unknown name (rc $rc)" "$out"

# ---------------------------------------------------------------- fleet down
out=$("$BERTHCTL" fleet down --data-dir "$DIR" 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$(grep -c '^stopped ' <<<"$out")" -eq 5 ] && ok "fleet down stops 5 processes" ||
  fail "fleet down stops 5 processes (rc $rc)" "$out"
wait_until 15 all_gone && ok "every process the fleet ran is gone" || fail "every process the fleet ran is gone" "$(ls "$WORK/pids-seen")"
leftover=$(ls "$DIR"/pids/ 2>/dev/null)
[ -z "$leftover" ] && ok "fleet down removes the pid files" || fail "fleet down removes the pid files" "$leftover"
out=$("$BERTHCTL" fleet down --data-dir "$DIR" 2>&1); rc=$?
[ $rc -eq 0 ] && grep -q "nothing to stop" <<<"$out" && ok "fleet down twice: nothing to stop" || fail "fleet down twice (rc $rc)" "$out"

# ---------------------------------------------------------------- rerun on the same data dir
# A stale pid file (a process long gone) does not block the next fleet up.
echo 999999 >"$DIR/pids/test-eu.pid"
out=$("${UP[@]}" 2>&1); rc=$?
remember_pids
[ $rc -eq 0 ] && ok "fleet up again on the same data dir exits 0" || fail "fleet up again exits 0 (rc $rc)" "$out"
grep -q "removed stale pid file" <<<"$out" && ok "the stale pid file is reported and removed" || fail "the stale pid file is reported" "$out"
[ "$(grep -c 'rejoins with its stored credential' <<<"$out")" -eq 3 ] && ok "every agent rejoins without a token" ||
  fail "every agent rejoins without a token" "$out"
[ "$(token_count)" = "$tokens_after_first_up" ] && ok "the hub reuses its store: same tokens, none new" ||
  fail "the hub reuses its store (tokens $(token_count), before $tokens_after_first_up)"
wait_until 30 all_members_healthy && ok "every member Healthy after the rerun" || fail "every member Healthy after the rerun" "$(member_conditions)"
"$BERTHCTL" fleet down --data-dir "$DIR" >/dev/null 2>&1
wait_until 15 all_gone && ok "fleet down after the rerun stops everything" || fail "fleet down after the rerun stops everything"

# ---------------------------------------------------------------- --foreground
"${UP[@]}" --foreground >"$WORK/fg.out" 2>&1 &
FG_PID=$!
if wait_until 60 grep -q "Running in the foreground" "$WORK/fg.out"; then ok "fleet up --foreground comes up"; else fail "fleet up --foreground comes up" "$(cat "$WORK/fg.out")"; fi
remember_pids
kill -TERM "$FG_PID"
wait_until 30 bash -c "! kill -0 $FG_PID 2>/dev/null" && ok "SIGTERM ends fleet up --foreground" || fail "SIGTERM ends fleet up --foreground"
wait "$FG_PID" 2>/dev/null; rc=$?
FG_PID=
[ $rc -eq 0 ] && ok "fleet up --foreground exits 0 after SIGTERM" || fail "fleet up --foreground exits 0 after SIGTERM (rc $rc)" "$(tail -12 "$WORK/fg.out")"
wait_until 15 all_gone && ok "--foreground stopped every process on SIGTERM" || fail "--foreground stopped every process" "$(tail -12 "$WORK/fg.out")"

# ---------------------------------------------------------------- a member that cannot start
# An agent that exits at once: fleet up fails, names it and its log, and stops the hub it started.
mkdir -p "$WORK/badbin"
ln -s "$(cd "$BIN_DIR" && pwd)/berth-hub" "$WORK/badbin/berth-hub"
printf '#!/bin/sh\necho "cannot start: simulated failure"\nexit 3\n' >"$WORK/badbin/berth-agent"
chmod +x "$WORK/badbin/berth-agent"
out=$("${UP[@]}" --bin-dir "$WORK/badbin" 2>&1); rc=$?
remember_pids
if [ $rc -ne 0 ] && grep -q "exited with status 3 before every member was Healthy" <<<"$out" &&
   grep -q "$DIR/logs/test-.*log ends with" <<<"$out" && grep -q "simulated failure" <<<"$out"; then
  ok "a failing agent fails fleet up with its name, log and log tail"
else fail "a failing agent fails fleet up with its name and log (rc $rc)" "$out"; fi
grep -q "stopped berth-hub" <<<"$out" && ok "the failed fleet up stops the hub it started" || fail "the failed fleet up stops the hub it started" "$out"
wait_until 15 all_gone && ok "nothing is left running after the failed fleet up" || fail "nothing is left running after the failed fleet up"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
