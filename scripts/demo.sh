#!/usr/bin/env bash
# Berth's main job, end to end on this machine: a hub, one simulated member cluster per
# entry of examples/demo/fleet.yaml (berth-agent --backend sim: SIMULATED clusters, no real
# GPUs), workspaces placed by GPU fit/cost/locality, a staged rollout and a bad one rolled
# back, a load step that scales a model out across clusters and back in, then a cluster dies
# and its replicas fail over, and come back when it returns — with a steady stream of
# requests through berth-gateway (HAProxy) the whole time, summarised per step. The fleet is
# left running.
#
# Processes are started and stopped by `berthctl fleet up` / `fleet down` / `fleet restart`.
#
# Environment: BERTH_DEMO_DIR (default .berth/demo), BERTH_DEMO_PORT (16443),
# BERTH_DEMO_ADMIN_PORT_BASE (0: free ports, listed in $DATA/agents/<cluster>.admin),
# BERTH_DEMO_TIME_SCALE (0.01: image pulls, weight loads and replies 100x faster),
# BERTH_DEMO_GATEWAY_PORT (18080: berth-gateway's OpenAI endpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BERTH_BIN_DIR:-build/bin}
DATA=${BERTH_DEMO_DIR:-.berth/demo}
PORT=${BERTH_DEMO_PORT:-16443}
ADMIN_PORT_BASE=${BERTH_DEMO_ADMIN_PORT_BASE:-0}
SCALE=${BERTH_DEMO_TIME_SCALE:-0.01}
GATEWAY_PORT=${BERTH_DEMO_GATEWAY_PORT:-18080}
FLEET=examples/demo/fleet.yaml
HUB=https://127.0.0.1:$PORT
GATEWAY=http://127.0.0.1:$GATEWAY_PORT
TRAFFIC_PID=""
trap '[ -n "$TRAFFIC_PID" ] && kill "$TRAFFIC_PID" 2>/dev/null; true' EXIT
# traffic_summary SINCE TITLE: what the request stream saw since SINCE (epoch seconds).
traffic_summary() { python3 scripts/traffic.py summary --log "$DATA/traffic.log" --since "$1" --title "$2"; }

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
elapsed() { echo $(( $(date +%s) - $1 )); }
# wait_for SECONDS DESCRIPTION COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local limit=$1 what=$2; shift 2
  local start; start=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    if [ -f "$DATA/pids/hub.pid" ] && ! kill -0 "$(cat "$DATA/pids/hub.pid")" 2>/dev/null; then
      echo "demo: berth-hub exited; its log says:" >&2
      tail -5 "$DATA/logs/hub.log" >&2
      exit 1
    fi
    if [ "$(elapsed "$start")" -ge "$limit" ]; then
      echo "demo: timed out after ${limit}s waiting for: $what (logs in $DATA/logs)" >&2
      exit 1
    fi
    sleep 0.5
  done
}

# Stop a previous demo fleet (its pid files say what runs), then start from scratch.
if [ -d "$DATA" ]; then "$BIN/berthctl" fleet down --data-dir "$DATA" >/dev/null 2>&1 || true; fi
rm -rf "$DATA"
export KUBECONFIG="$DATA/admin.kubeconfig"

bold "Starting berth-hub on $HUB and one SIMULATED member cluster per entry of $FLEET"
note "berthctl fleet up: the hub, a single-use join token per cluster, one berth-agent --backend sim each"
"$BIN/berthctl" fleet up --fleet "$FLEET" --data-dir "$DATA" --listen "127.0.0.1:$PORT" \
  --time-scale "$SCALE" --agent-port-base "$ADMIN_PORT_BASE" \
  --failover-toleration 10 --failback-hysteresis 30 --drain-grace 5 \
  --gateway-listen "127.0.0.1:$GATEWAY_PORT" | sed '/^Next:/,$d'
note "failover toleration 10s, failback hysteresis 30s, drain 5s (production defaults: 30s, 300s, 30s)"
kubectl get memberclusters -o wide

bold "Applying workspaces: an 8B chat model spread over regions, a 70B model needing multi-GPU nodes, a Mistral restricted to the EU"
kubectl apply -f examples/demo/workspaces.yaml
start=$(date +%s)
wait_for 120 "the workspaces to become Available" \
  kubectl wait --for=condition=Available workspaces -n ml --all --timeout=2s
note "all Available in $(elapsed "$start")s (simulated image pulls and weight loads, time scale $SCALE)"
kubectl get workspaces -n ml -o wide

bold "Why each workspace went where it did (score terms of the best clusters, and rejections)"
for ws in $(kubectl get workspaces -n ml -o jsonpath='{.items[*].metadata.name}'); do
  echo "-- $ws"
  kubectl get workspace "$ws" -n ml -o jsonpath='{range .status.placementDecision.scores[*]}   {.cluster}: score {.score} (cost {.terms.cost}, availability {.terms.availability}, locality {.terms.locality}, start {.terms.warmCache}: a new replica serves in ~{.startSeconds}s) -> {.replicas} replicas{"\n"}{end}{range .status.placementDecision.rejected[*]}   rejected {.cluster}: {.reason}: {.message}{"\n"}{end}'
done

bold "One OpenAI endpoint for every model: berth-gateway programs HAProxy from the hub's endpoint map"
curl -s "$GATEWAY/v1/models" | python3 -c 'import json,sys; print("   /v1/models:", ", ".join(m["id"] for m in json.load(sys.stdin)["data"]))'
kubectl get workspace llama-8b-chat -n ml -o jsonpath='{range .status.endpoints[*]}   {.cluster}: {.state}, weight {.weight}, {.url}{"\n"}{end}'
curl -s "$GATEWAY/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model": "llama-3.1-8b-instruct", "max_tokens": 8, "messages": [{"role": "user", "content": "Hello"}]}' |
  python3 -c 'import json,sys; r=json.load(sys.stdin); print("   reply:", r["choices"][0]["message"]["content"])'
python3 scripts/traffic.py run --gateway "$GATEWAY" --rate 20 --log "$DATA/traffic.log" \
  --models llama-3.1-8b-instruct,mistral-7b-instruct,llama-3.3-70b-instruct &
TRAFFIC_PID=$!
note "from now on 20 requests/s flow through $GATEWAY (scripts/traffic.py); each step says how they fared"

# ==== STAGED ROLLOUT STEP ================================================================
bold "Upgrading llama-8b-chat's serving image through a staged rollout (canary, soak, then the rest)"
note "inline strategy: a canary stage of one cluster soaking 5s, then the rest of the fleet 50% at a time;"
note "each stage pre-pulls the new image first; surge updates where GPUs are spare"
kubectl patch workspace llama-8b-chat -n ml --type merge -p '{
  "rollout": {"strategy": {"stages": [{"name": "canary", "maxClusters": 1, "soakSeconds": 5}],
                           "restOfFleet": {"maxConcurrency": "50%"}}},
  "inference": {"image": "ghcr.io/berth/vllm:0.6.4"}}'
start=$(date +%s)
"$BIN/berthctl" rollout status llama-8b-chat -n ml --watch --timeout 120s | grep -E '^  (phase|stage|revision)' | uniq
note "revision 2 running everywhere $(elapsed "$start")s after the change"
traffic_summary "$start" "during the staged rollout"
"$BIN/berthctl" rollout status llama-8b-chat -n ml

bold "A bad revision: every simulated cluster now fails to pull ghcr.io/berth/vllm:0.7.0-broken"
for f in "$DATA"/agents/*.admin; do
  curl -sf -X POST "http://$(cat "$f")/faults/image-pull-failure?image=ghcr.io/berth/vllm:0.7.0-broken" >/dev/null
done
kubectl patch workspace llama-8b-chat -n ml --type merge -p '{"inference": {"image": "ghcr.io/berth/vllm:0.7.0-broken"}}'
start=$(date +%s)
"$BIN/berthctl" rollout status llama-8b-chat -n ml --watch --timeout 120s | grep -E '^  (phase|message)' | uniq || true
note "rolled back by itself $(elapsed "$start")s after the change; the canary failed, the rest never moved:"
traffic_summary "$start" "while the bad revision failed and rolled back"
kubectl get events -n ml --field-selector involvedObject.name=llama-8b-chat | grep -E 'ClusterFailed|Rollback|PrePull' || true
kubectl get workspace llama-8b-chat -n ml
for f in "$DATA"/agents/*.admin; do curl -sf -X POST "http://$(cat "$f")/faults/clear" >/dev/null; done
# Back to the good image: its revision is known good, so this completes at once.
kubectl patch workspace llama-8b-chat -n ml --type merge -p '{"inference": {"image": "ghcr.io/berth/vllm:0.6.4"}}' >/dev/null
wait_for 60 "llama-8b-chat back on its good image" \
  "$BIN/berthctl" rollout status llama-8b-chat -n ml --watch --timeout 5s
# ==== END STAGED ROLLOUT STEP ============================================================

# ==== AUTOSCALING STEP ===================================================================
bold "Autoscaling llama-8b-chat on its serving signals (1..6 replicas, 2 running requests per replica)"
kubectl patch workspace llama-8b-chat -n ml --type merge -p '{"autoscaling": {"minReplicas": 1, "maxReplicas": 6,
  "metrics": [{"type": "RunningRequestsPerReplica", "target": 2}],
  "behavior": {"scaleDown": {"stabilizationWindowSeconds": 15}}}}' >/dev/null
note "a load step: 100 more requests/s of long answers (2,048 tokens) for 40s (bench/autoscale/loadgen.py)"
start=$(date +%s)
python3 bench/autoscale/loadgen.py run --gateway "$GATEWAY" --model llama-3.1-8b-instruct \
  --profile const:100 --duration 40 --max-tokens 2048 --log "$DATA/load.log" &
LOAD_PID=$!
scaled_up() { kubectl get events -n ml --field-selector reason=ScaledUp,involvedObject.name=llama-8b-chat -o name | grep -q .; }
wait_for 60 "llama-8b-chat to scale up" scaled_up
note "scale-up decided $(elapsed "$start")s after the step:"
kubectl get events -n ml --field-selector reason=ScaledUp,involvedObject.name=llama-8b-chat -o jsonpath='{range .items[*]}   {.message}{"\n"}{end}'
wait_for 90 "the new replicas to be Ready" \
  kubectl wait --for=condition=Degraded=False workspace/llama-8b-chat -n ml --timeout=2s
note "where the new replicas went, and why (score terms; running replicas stay where they are):"
kubectl get workspace llama-8b-chat -n ml -o jsonpath='{range .status.placementDecision.scores[*]}   {.cluster}: score {.score} (cost {.terms.cost}, availability {.terms.availability}, locality {.terms.locality}, start {.terms.warmCache}: a new replica serves in ~{.startSeconds}s) -> {.replicas} replicas{"\n"}{end}'
kubectl get workspace llama-8b-chat -n ml -o wide
wait "$LOAD_PID" || true
python3 bench/autoscale/loadgen.py summary --log "$DATA/load.log" --window 10 | sed 's/^/   /'
note "the load stopped: the autoscaler waits out its 15s scale-down window, then drains and removes replicas (one scale-down per window)"
start=$(date +%s)
scaled_in() { [ "$(kubectl get workspace llama-8b-chat -n ml -o jsonpath='{.status.autoscaler.desiredReplicas}')" = 1 ]; }
wait_for 120 "llama-8b-chat to scale back in" scaled_in
note "back to 1 replica $(elapsed "$start")s after the load stopped:"
kubectl get events -n ml --field-selector reason=ScaledDown,involvedObject.name=llama-8b-chat -o jsonpath='{range .items[*]}   {.message}{"\n"}{end}'
kubectl patch workspace llama-8b-chat -n ml --type json -p '[{"op": "remove", "path": "/autoscaling"}]' >/dev/null
# ==== END AUTOSCALING STEP ===============================================================

# Kill a US cluster that holds llama-70b if there is one: the EU-only model needs the EU cluster.
placed_now=$(kubectl get workspace llama-70b -n ml -o jsonpath='{.status.placements[*].cluster}')
victim=${placed_now%% *}
for c in $placed_now; do [ "$c" != aks-westeurope ] && victim=$c && break; done
bold "Killing the agent of $victim (SIGKILL): it holds llama-70b"
kill -9 "$(cat "$DATA/pids/$victim.pid")"
start=$(date +%s)
killed_at=$start
member_unhealthy() { [ "$(kubectl get mc "$victim" -o jsonpath='{.status.conditions[?(@.type=="Healthy")].status}')" = False ]; }
wait_for 60 "$victim to be marked Unhealthy" member_unhealthy
note "$victim Unhealthy after $(elapsed "$start")s (3 missed heartbeats of 5s)"
placed_on() { local where; where=$(kubectl get workspace llama-70b -n ml -o jsonpath='{.status.placements[*].cluster}'); [[ " $where " == *" $1 "* ]]; }
moved() {
  ! placed_on "$victim" &&
    [ "$(kubectl get workspace llama-70b -n ml -o jsonpath='{.status.conditions[?(@.type=="Available")].status}')" = True ]
}
wait_for 120 "llama-70b to be Available elsewhere" moved
note "llama-70b Available again on $(kubectl get workspace llama-70b -n ml -o jsonpath='{.status.placements[*].cluster}') $(elapsed "$start")s after the kill"
kubectl get events -n ml --field-selector involvedObject.name=llama-70b
traffic_summary "$killed_at" "from the kill until llama-70b was Available elsewhere"
note "models spread over clusters keep serving (the gateway retries a refused connection elsewhere and"
note "takes $victim out at once); llama-70b ran only on $victim, so its requests get 503 model_unavailable"
note "until its replacements are Ready: spread a model (minClusters, spread) to survive a lost cluster"

bold "Restarting the agent of $victim (its credential is in its state dir: no new token)"
"$BIN/berthctl" fleet restart --data-dir "$DATA" "$victim"
start=$(date +%s)
back() { placed_on "$victim" &&
         [ "$(kubectl get workspace llama-70b -n ml -o jsonpath='{.status.conditions[?(@.type=="Degraded")].status}')" = False ] &&
         [ "$(kubectl get workspace llama-70b -n ml -o jsonpath='{.status.conditions[?(@.type=="Available")].status}')" = True ] &&
         [ -z "$(kubectl get workspace llama-70b -n ml -o jsonpath='{.status.superseded}')" ]; }
wait_for 150 "llama-70b to fail back to $victim" back
note "failed back to $victim $(elapsed "$start")s after it returned (30s hysteresis, make-before-break, then a 5s drain)"
traffic_summary "$start" "during failback (the leaving clusters drained first)"
kubectl get workspaces -n ml

kill "$TRAFFIC_PID" 2>/dev/null || true
TRAFFIC_PID=""

bold "The fleet is still running"
cat <<TXT
   export KUBECONFIG=$DATA/admin.kubeconfig
   kubectl get workspaces,memberclusters -A        # ws, mc for short
   kubectl describe workspace llama-70b -n ml
   kubectl get events -A
   $BIN/berthctl plan --fleet $FLEET -f examples/demo/workspaces.yaml --explain
   curl -X POST http://\$(cat $DATA/agents/<cluster>.admin)/faults/unreachable   # inject a fault
   curl $GATEWAY/v1/models                          # the gateway: one endpoint, every model
   $BIN/berthctl fleet status --data-dir $DATA     # processes, pids, member health
   logs: $DATA/logs/    stop: $BIN/berthctl fleet down --data-dir $DATA
TXT
