#!/usr/bin/env bash
# On the development machine, in the project's root: fills .device/ for a CUDA machine that has no Node (see
# ../shared/device/README.md for the base pack: Node, N-API headers, production npm packages, dist/) and adds the
# TypeScript runner the tests and benchmarks use (tsx and its esbuild), so scripts/cuda-check.sh can run them there.
# Usage: bash scripts/cuda-pack.sh [path/to/pack.sh]   (default ../shared/device/pack.sh)
set -euo pipefail
pack=${1:-../shared/device/pack.sh}
[ -f "$pack" ] || { echo "cuda-pack: no base pack script at $pack; give its path as the first argument" >&2; exit 1; }
npx tsc -p tsconfig.build.json          # dist/ must match the sources being checked
bash "$pack"
tar -cJf .device/dev-tools.tar.xz node_modules/tsx node_modules/esbuild node_modules/@esbuild
du -sh .device/dev-tools.tar.xz | sed 's/^/  /'
echo "then, on the GPU machine in the project root: OUT=/some/folder bash scripts/cuda-check.sh"
