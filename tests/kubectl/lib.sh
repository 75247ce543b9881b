#!/usr/bin/env bash
# Shared by the kubectl suites (and tests/kaito): a real berth-hub on loopback (start_hub [flags], stop_hub,
# removed with its data dir on exit) and the assertions (expect, expect_not, finish).
# Source it after setting SUITE (names the scratch dir); KUBECONFIG points at the admin's.
set -u
BIN_DIR=${BERTH_BIN_DIR:?BERTH_BIN_DIR must point at build/bin}
command -v kubectl >/dev/null || { echo "kubectl not installed (make deps installs kubernetes-client)"; exit 1; }

WORK=$(mktemp -d "/tmp/berth-${SUITE:-kubectl}.XXXXXX")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HUB=
start_hub() {
  # ${BERTH_HUB_WRAPPER}: ctest's *_etcd variants run the hub on its own etcd (tests/support/berth-hub-on-etcd).
  ${BERTH_HUB_WRAPPER:-} "$BIN_DIR/berth-hub" --data-dir "$WORK/hub" --listen "127.0.0.1:$PORT" "$@" >>"$WORK/hub.log" 2>&1 &
  HUB=$!
  for _ in $(seq 1 200); do
    [ -f "$WORK/hub/admin.kubeconfig" ] && curl -sk "https://127.0.0.1:$PORT/readyz" 2>/dev/null | grep -q ok && return
    sleep 0.1
  done
}
stop_hub() { kill "$HUB" 2>/dev/null; wait "$HUB" 2>/dev/null; }
cleanup() { stop_hub; rm -rf "$WORK"; }
trap cleanup EXIT
export KUBECONFIG="$WORK/hub/admin.kubeconfig"

passed=0; failed=0
ok()   { passed=$((passed+1)); echo "ok   - $1"; }
fail() { failed=$((failed+1)); echo "FAIL - $1"; echo "$2" | sed 's/^/       | /'; }
# expect NAME PATTERN COMMAND...: the command's combined output must match the regex.
expect() {
  local name=$1 pattern=$2; shift 2
  local out; out=$("$@" 2>&1)
  if echo "$out" | grep -Eq -- "$pattern"; then ok "$name"; else fail "$name" "$out"; fi
}
# expect_not NAME PATTERN COMMAND...: the output must not match.
expect_not() {
  local name=$1 pattern=$2; shift 2
  local out; out=$("$@" 2>&1)
  if echo "$out" | grep -Eq -- "$pattern"; then fail "$name" "$out"; else ok "$name"; fi
}
finish() {
  echo "passed $passed, failed $failed"
  [ "$failed" -eq 0 ]
}
