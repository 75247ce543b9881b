#!/usr/bin/env bash
# Installs the Debian packages Berth builds and tests with, only those missing.
# Safe to run repeatedly; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libcpprest-dev libboost-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev
  libssl-dev openssl libsqlite3-dev libcli11-dev prometheus-cpp-dev libjemalloc-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  curl python3 sqlite3 systemd
)
# Test-only: the official Kubernetes Python client (Debian's) drives tests/python.
packages+=(python3-kubernetes)
# Test-only: clang with libFuzzer and the ASan/UBSan runtimes (fuzz/, build-asan/).
packages+=(clang libclang-rt-14-dev)
# Test and runtime: berth-gateway steers HAProxy (the data plane) through its runtime API;
# the gateway's end-to-end test and the config check start the real binary (tests/gateway).
packages+=(haproxy)
# Bench-only: CBC solves the exact optimum the placement quality bench compares against
# (bench/placement/run.sh quality*).
packages+=(coinor-cbc)
# Test and runtime (HA hubs): the etcd store's tests and bench start real etcd members
# (/usr/bin/etcd); etcdctl helps operators inspect the store's keys.
packages+=(etcd-server etcd-client)
# Bench-only: wrk drives the gateway throughput and overhead bench (bench/gateway).
packages+=(wrk)
# kubectl drives the kubectl end-to-end suite; Debian's kubernetes-client is the fallback.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
# Node.js runs the offline Kubernetes schema check of rendered manifests.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
# Test-only: the dashboard's browser test drives Debian's headless Chromium (no browser
# download) with playwright-core (tests/dashboard).
packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
install_npm_packages() {
  # Official Kubernetes and Gateway API schemas (kubernetes-models, @kubernetes-models/gateway-api)
  # for the rendered-manifest and HTTPRoute tests; the lockfile pins them, the npm registry
  # serves them.
  local dir=tests/workspace/k8s-schema
  if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules/@kubernetes-models/gateway-api" ]; then
    echo "install-deps: npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
  # The dashboard (/ui): esbuild bundles it with uPlot at build time; playwright-core and
  # axe-core drive and check it in Chromium. All pinned by dashboard/package-lock.json.
  dir=dashboard
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in $dir"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  install_npm_packages
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_npm_packages
