#!/usr/bin/env bash
# ctest entry: validate rendered manifests with the official Kubernetes schemas.
# Exit 77 (ctest SKIP) only when node/npm are not installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node and npm are not installed; the Kubernetes schema check needs them (apt-get install nodejs npm)"
  exit 77
fi
if [ ! -d "$here/node_modules/kubernetes-models" ] || [ ! -d "$here/node_modules/yaml" ] ||
   [ ! -d "$here/node_modules/@kubernetes-models/gateway-api" ]; then
  echo "FAIL: kubernetes-models is not installed; run: npm ci --prefix tests/workspace/k8s-schema" >&2
  exit 1
fi
exec node "$here/validate.mjs" "$@"
