#!/usr/bin/env bash
# Everything bfpo checks on a CUDA machine, in one go and within one time budget: the machine and its PyTorch, the
# addon built against that PyTorch's libtorch (2.x, CUDA), a smoke test, the CUDA tests, and the GPU training
# benchmark next to PyTorch eager. Each stage writes $OUT/<stage>.log; $OUT/summary.txt lists every stage with its
# exit status and time; a failing stage does not stop the next one. The shell trace goes to $OUT/xtrace.log.
#
# On the development machine: bash scripts/cuda-pack.sh   (fills .device/: Node, npm packages, dist/, tsx)
# On the GPU machine, in the project root (Node is unpacked from .device/ when it is not on PATH):
#   OUT=/some/folder bash scripts/cuda-check.sh
# Settings (environment): CHECK_BUDGET_S (default 560: the whole run), CHECK_BENCH_SIZES (default 0.5b,1.5b,7b),
# CHECK_BENCH_STEPS (default 1,3: warm-up and timed steps), CHECK_REBUILD=1 (rebuild the addon even when built).
set -u -o pipefail
OUT=${OUT:-/tmp/bfpo-cuda-check}
mkdir -p "$OUT"
exec 9>>"$OUT/xtrace.log"
BASH_XTRACEFD=9
set -x
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
T0=$(date +%s)
BUDGET=${CHECK_BUDGET_S:-560}
export PYTHON=${PYTHON:-python3} OUT

remaining() { echo $(( BUDGET - ($(date +%s) - T0) )); }

# stage NAME LIMIT_S COMMAND...: runs COMMAND (a bash snippet) with its output in $OUT/NAME.log, for at most LIMIT_S
# seconds or what is left of the budget (minus a reserve for the stages after it), and records the outcome.
stage() {
  local name=$1 limit=$2 reserve=${RESERVE:-0}
  shift 2
  local left=$(( $(remaining) - reserve ))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -lt 10 ]; then
    echo "$name SKIPPED (time budget spent)" | tee -a "$SUMMARY"
    return 0
  fi
  local start=$(date +%s)
  echo "== $name (limit ${limit}s): $*" | tee "$OUT/$name.log"
  timeout --kill-after=15 "$limit" bash -c "$*" >> "$OUT/$name.log" 2>&1
  local rc=$?
  local note=""
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && note=" (timed out)"
  echo "$name rc=$rc$note $(( $(date +%s) - start ))s" | tee -a "$SUMMARY"
  tail -n 8 "$OUT/$name.log" | sed 's/^/    /'
  return 0
}

# ---- the machine
stage 00-machine 60 '
  date -u; uname -a; nproc; free -g; df -h . | tail -1
  nvidia-smi || echo "nvidia-smi failed"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv || true
  "$PYTHON" -c "import torch, json; print(json.dumps({\"torch\": torch.__version__, \"cuda\": torch.version.cuda, \"available\": torch.cuda.is_available(), \"devices\": torch.cuda.device_count(), \"name\": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, \"cxx11_abi\": torch._C._GLIBCXX_USE_CXX11_ABI, \"cmake_prefix_path\": torch.utils.cmake_prefix_path}))"
'

# ---- Node, npm packages, dist/ (from .device/) and the TypeScript runner
if ! command -v node >/dev/null 2>&1; then
  if [ -f .device/unpack.sh ]; then
    # unpack.sh also builds the addon against this machine's PyTorch (its log: $OUT/build.log).
    stage 01-unpack 300 'source .device/unpack.sh'
  else
    echo "01-unpack rc=1 (no node on PATH and no .device/unpack.sh; run scripts/cuda-pack.sh on the development machine)" | tee -a "$SUMMARY"
  fi
  export PATH=/tmp/node/bin:$PATH
fi
if [ ! -d node_modules/tsx ] && [ -f .device/dev-tools.tar.xz ]; then
  tar -xJf .device/dev-tools.tar.xz
fi
[ -d node_modules/tsx ] || echo "note: node_modules/tsx is missing (pack with scripts/cuda-pack.sh): the test and benchmark stages will fail" | tee -a "$SUMMARY"

# ---- the addon against this machine's PyTorch (libtorch 2.x with CUDA)
stage 02-build 300 '
  set -e
  node --version
  if [ "${CHECK_REBUILD:-0}" != 1 ] && [ -f build/Release/bfpo.node ] && grep -q "\"source\": \"PyTorch" build/libtorch.json 2>/dev/null && grep -q "\"cuda\": true" build/libtorch.json; then
    echo "addon already built against this PyTorch (CHECK_REBUILD=1 rebuilds it)"
  else
    LIBTORCH_USE_PYTORCH=1 BFPO_BUILD_JOBS=$(nproc) node scripts/build-native.mjs --force
  fi
  cat build/libtorch.json
'

# ---- smoke: the addon loads, sees the GPU, and one product on it matches the CPU's
cat > "$OUT/smoke.mjs" <<'EOF'
const b = await import(process.cwd() + '/dist/index.js');
const t = await import(process.cwd() + '/dist/tensor/index.js');
console.log(JSON.stringify({ build: b.buildInfo().torchVersion, cudaBuilt: b.cuda.isBuilt(), available: b.cuda.isAvailable(),
  devices: b.cuda.deviceCount(), fastPaths: t.fastPaths(), memory: b.cuda.memoryInfo(0) }));
b.manualSeed(0);
const x = b.randn([256, 256]);
const cpu = x.matmul(x);
const gpu = x.to('cuda').matmul(x.to('cuda')).cpu();
const d = cpu.sub(gpu).abs().max().item();
console.log(`max |cpu - cuda| of a 256x256 product: ${d}`);
if (!(d < 1e-3)) process.exit(1);
EOF
stage 03-smoke 60 'node "$OUT/smoke.mjs" && node bin/bfpo.js env'

# ---- the CUDA tests (each file skips with its reason where CUDA is missing, so a skip here means a problem)
RESERVE=240 stage 04-tests-cuda 200 'node scripts/run-tests.mjs test/cuda/ test/train/fast-paths test/tensor/device-setting'
RESERVE=200 stage 05-tests-devices 120 'node scripts/run-tests.mjs test/tensor/devices test/models/llama.test'

# ---- the GPU training benchmark next to PyTorch eager (per-size lines go to the log as each size finishes)
stage 06-bench-train-cuda 400 "node --conditions=bfpo-source --import tsx bench/index.ts train --device cuda --gpu-sizes=${CHECK_BENCH_SIZES:-0.5b,1.5b,7b} --train-steps=${CHECK_BENCH_STEPS:-1,3}"

stage 07-after 20 'nvidia-smi --query-gpu=memory.used,memory.total --format=csv || true'
echo "total $(( $(date +%s) - T0 ))s" | tee -a "$SUMMARY"
grep -hE "^(# (pass|fail|skipped)|not ok)" "$OUT"/04-tests-cuda.log "$OUT"/05-tests-devices.log 2>/dev/null | sort | uniq -c >> "$SUMMARY" || true
exit 0
