#!/usr/bin/env bash
# Builds and runs Berth's benchmarks and prints their figures (`make bench` calls this).
#   BUILD_DIR   build directory (default: build)
#   JOBS        parallel build jobs (default: nproc)
#   BENCH_SECONDS  measured seconds per level of berth-api-bench (default: 3)
# Whole-process benches (berth-*-bench) print tables; Google Benchmark binaries (*_bench)
# print their usual report. Figures and how to read them: docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
BENCH_SECONDS=${BENCH_SECONDS:-3}

if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_BUILD_BENCH=ON
elif ! grep -q '^BERTH_BUILD_BENCH:BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
  cmake -S . -B "$BUILD_DIR" -DBERTH_BUILD_BENCH=ON
fi
# Every executable whose name ends in -bench or _bench, plus the hub the whole-process ones start.
mapfile -t targets < <(ninja -C "$BUILD_DIR" -t targets all |
                       sed -n 's|^bin/\([A-Za-z0-9_.-]*[-_]bench\): CXX_EXECUTABLE_LINKER.*|\1|p')
cmake --build "$BUILD_DIR" -j "$JOBS" --target berth-hub "${targets[@]}"

echo "== machine: $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for target in "${targets[@]}"; do
  bench="$BUILD_DIR/bin/$target"
  [[ -x "$bench" ]] || continue
  echo
  echo "== $(basename "$bench")"
  case "$(basename "$bench")" in
    berth-api-bench) "$bench" --seconds "$BENCH_SECONDS" || status=1 ;;
    *) "$bench" || status=1 ;;
  esac
done
exit $status
