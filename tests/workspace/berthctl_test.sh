#!/usr/bin/env bash
# berthctl render/estimate end to end. Usage: berthctl_test.sh <path-to-berthctl>
set -uo pipefail
berthctl="$1"
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

check "render matches the golden file" \
  'diff <(tail -n +2 tests/workspace/golden/llama-3.3-70b_4xA100-80GB.yaml) \
        <("$berthctl" render -f examples/workspaces/llama-3.3-70b.yaml --gpu A100-80GB --gpus-per-node 4 --replicas 2 --revision 4)'
check "render --config applies the inference config as the hub does" \
  'out=$("$berthctl" render -f examples/workspaces/kaito-llama-3.1-8b-config.yaml --config examples/workspaces/llama-inference-config.yaml --gpu A100-80GB 2>/dev/null) &&
   grep -q -- "--max-model-len=16384" <<<"$out" && grep -q -- "--enable-prefix-caching" <<<"$out"'
check "render without --config says the config is not applied" \
  'out=$("$berthctl" render -f examples/workspaces/kaito-llama-3.1-8b-config.yaml --gpu A100-80GB 2>&1 >/dev/null) &&
   grep -q "inference.config llama-inference-params is not applied" <<<"$out"'
check "render of a KAITO Workspace notes the conversion" \
  'out=$("$berthctl" render -f examples/workspaces/kaito-phi-4-mini.yaml --gpu A10 2>&1 >/dev/null) &&
   grep -q "converted KAITO Workspace" <<<"$out"'
check "a 7B model on a 1g.10gb slice is refused with the reason" \
  '! out=$("$berthctl" render -f examples/workspaces/deepseek-r1.yaml --gpu A100-80GB --gpus-per-node 7 --mig 1g.10gb 2>&1) &&
   grep -q "MIG slice cannot span nodes" <<<"$out"'
check "estimate lists 1 node of 8×H200 for DeepSeek-R1" \
  'out=$("$berthctl" estimate deepseek-r1-0528) && grep -Eq "^8×H200 +8 +1 +tensor-parallel" <<<"$out"'
check "estimate suggests the closest preset" \
  '! out=$("$berthctl" estimate llama-3.3-70b-instrct 2>&1) && grep -q "did you mean llama-3.3-70b-instruct" <<<"$out"'
exit $fail
