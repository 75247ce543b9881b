#!/usr/bin/env bash
# Runs every libFuzzer target of a BERTH_FUZZ build for SECONDS each, starting from the
# seed corpus in fuzz/corpus/<target>/ (read-only) and a scratch corpus it grows in
# BUILD_DIR/fuzz-corpus/<target>/ (kept between runs, so longer runs build on shorter ones).
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]
# Exits non-zero on the first finding; the crashing input is written to
# BUILD_DIR/fuzz-artifacts/ and its reproduction command printed. `make fuzz` and `make
# test` (a short run) call this; docs/TESTING.md "Fuzzing".
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:?usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]}
SECONDS_PER_TARGET=${2:?usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(fuzz_decode_body fuzz_patch fuzz_selectors fuzz_workspace fuzz_fleet_file)
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$BUILD_DIR/fuzz-artifacts"
for t in "${targets[@]}"; do
  bin="$BUILD_DIR/bin/$t"
  [[ -x "$bin" ]] || { echo "fuzz: $bin is not built (make fuzz builds it)"; exit 2; }
  work="$BUILD_DIR/fuzz-corpus/$t"
  mkdir -p "$work"
  echo "== $t: ${SECONDS_PER_TARGET}s"
  if ! "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$BUILD_DIR/fuzz-artifacts/$t-" \
       "$work" "fuzz/corpus/$t" 2>"$BUILD_DIR/fuzz-artifacts/$t.log"; then
    tail -60 "$BUILD_DIR/fuzz-artifacts/$t.log"
    echo "fuzz: $t found a crash; reproduce with: $bin $BUILD_DIR/fuzz-artifacts/$t-<crash file>"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|^Done' "$BUILD_DIR/fuzz-artifacts/$t.log" || true
  grep -E 'cov: [0-9]+' "$BUILD_DIR/fuzz-artifacts/$t.log" | tail -1 || true
done
