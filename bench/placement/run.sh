#!/usr/bin/env bash
# Placement benchmarks: speed (Google Benchmark) and quality (gap to the exact optimum of
# the integer program, solved by CBC). Needs Debian's coinor-cbc for the quality part.
#   bash bench/placement/run.sh [speed|quality|quality-tight|quality-large|all]   (default all)
# quality (and all): the relaxed family, 30 clusters, 60 workspaces, 30 % of GPUs in use.
# quality-tight (not part of all): 20 capacity-tight instances (issue #23: 10 clusters, ≤ 44 workspaces, the
#   optimum fills 80–100 % of the fleet), CBC capped at 20 s each.
# quality-large (not part of all): 100 clusters, 200 workspaces, CBC capped at 60 s each.
set -euo pipefail
cd "$(dirname "$0")/../.."
what=${1:-all}
BUILD_DIR=${BUILD_DIR:-build-bench}
cmake -S . -B "$BUILD_DIR" -G Ninja -DBERTH_BUILD_BENCH=ON -DBERTH_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j2 --target placement_bench placement_optimality
if [[ $what == speed || $what == all ]]; then
  "$BUILD_DIR"/bin/placement_bench
fi
if [[ $what == quality* || $what == all ]]; then
  if ! command -v cbc >/dev/null; then
    echo "cbc not found: apt-get install coinor-cbc" >&2
    exit 1
  fi
  case $what in
    quality-tight)
      "$BUILD_DIR"/bin/placement_optimality --family tight --instances 20 --clusters 10 \
        --workspaces 44 --seconds 20 --dir /tmp/berth-optimality-tight ;;
    quality-large)
      "$BUILD_DIR"/bin/placement_optimality --instances 10 --clusters 100 --nodes 4 \
        --workspaces 200 --seconds 60 --dir /tmp/berth-optimality-large ;;
    *)
      "$BUILD_DIR"/bin/placement_optimality --instances 10 --clusters 30 --nodes 4 --workspaces 60 ;;
  esac
fi
