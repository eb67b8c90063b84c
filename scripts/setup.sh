#!/usr/bin/env bash
# Installs what bfpo needs on this machine, then the npm dependencies and the native addon.
# On Debian/Ubuntu as root it installs libtorch and OpenBLAS with apt when libtorch is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

have_libtorch() {
  [ -n "${LIBTORCH:-}" ] || [ "${LIBTORCH_USE_PYTORCH:-}" = "1" ] || [ -f /usr/include/ATen/ATen.h ] || [ -f /usr/local/include/ATen/ATen.h ]
}

apt_install() {
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "[bfpo setup] apt-get install $*" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    echo "[bfpo setup] please install: $* (for example: sudo apt-get install $*)" >&2
    exit 1
  fi
}

need=()
command -v node >/dev/null || need+=(nodejs npm)
command -v g++ >/dev/null || need+=(g++ make)
have_libtorch || need+=(libtorch-dev)
if ! ls /usr/lib/*/openblas-pthread/libblas.so.3 >/dev/null 2>&1 && [ -z "${LIBTORCH:-}" ] && [ "${LIBTORCH_USE_PYTORCH:-}" != "1" ]; then
  need+=(libopenblas0-pthread)
fi
# Gloo's headers let the addon compile libtorch's distributed backend (multi-process training); optional.
if [ -z "${LIBTORCH:-}" ] && [ "${LIBTORCH_USE_PYTORCH:-}" != "1" ] && [ ! -f /usr/include/gloo/config.h ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    need+=(libgloo-dev)
  else
    echo "[bfpo setup] note: without libgloo-dev (sudo apt-get install libgloo-dev) multi-process training (--nproc_per_node) is left out" >&2
  fi
fi
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "[bfpo setup] bfpo needs Node.js 20 or newer; this is $(node --version). Install a current Node.js first." >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  node scripts/build-native.mjs --quiet
  npx tsc -p tsconfig.build.json
fi
