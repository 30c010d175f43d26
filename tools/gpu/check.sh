#!/usr/bin/env bash
# The GPU check: on a machine with a GPU and no network, from a checkout whose
# `npm install` already ran (this script installs nothing), in five minutes:
#
#   1. the machine: GPU (nvidia-smi when present), Vulkan drivers, node;
#   2. the WebGPU adapter Dawn finds (tools/gpu/adapter.ts);
#   3. the parity tests on webgpu — model logits against the PyTorch reference,
#      KV-cache decoding against a full recompute, the loss functions against
#      PyTorch float64 autograd, the ops layer and the backend against cpu;
#   4. the bench's train_step and generation cases (--quick, no PyTorch) on webgpu;
#   5. steps 3–4 again on tfjs-node-gpu when it loads (libtensorflow present);
#
# and writes everything to a new directory (never over an earlier one):
#
#   bash tools/gpu/check.sh [OUT_DIR]    # default bench/gpu-check/<UTC time>
#
# OUT_DIR/summary.txt holds the figures; the other files are each step's full
# log, the tests' JSON reports and the bench's results JSON. Exit 0 when every
# step that ran passed, 1 otherwise, 2 when the checkout lacks node_modules.
# RXRL_GPU_CHECK_SECONDS (default 300) is the whole budget; each step gets its
# own cap within what is left, and a step cut short is reported as such.
set -uo pipefail
cd "$(dirname "$0")/../.."

budget=${RXRL_GPU_CHECK_SECONDS:-300}
start=$(date +%s)
out=${1:-bench/gpu-check/$(date -u +%Y%m%dT%H%M%SZ)}
if [ -e "$out" ]; then
  echo "gpu-check: $out already exists; give a new directory" >&2
  exit 2
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
summary="$out/summary.txt"
failed=0

say() { echo "$*" | tee -a "$summary"; }
elapsed() { echo $(($(date +%s) - start)); }

# step NAME CAP_SECONDS COMMAND...: runs COMMAND with its output in OUT/NAME.log,
# cut at CAP or at what is left of the budget, whichever comes first
step() {
  local name=$1 cap=$2
  shift 2
  local left=$((budget - $(elapsed) - 5))
  local limit=$((cap < left ? cap : left))
  if [ "$limit" -lt 10 ]; then
    say "  $name: not run, the ${budget} s budget is spent"
    failed=1
    return 1
  fi
  local t0=$(date +%s)
  timeout --kill-after=5 "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  local took=$(($(date +%s) - t0))
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    say "  $name: cut at ${limit} s (log: $out/$name.log)"
    failed=1
  elif [ $rc -ne 0 ]; then
    say "  $name: FAILED, exit $rc after ${took} s (log: $out/$name.log)"
    failed=1
  else
    say "  $name: passed in ${took} s"
  fi
  return $rc
}

# the vitest summary lines of a test log, and any measured differences it printed
test_figures() {
  sed -e 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^suite: |^ *(Test Files|Tests) |rel err|max \|Δ\|' | sed 's/^/    /' | tee -a "$summary"
}

# the bench's printed table, without the progress lines
bench_figures() {
  sed -e 's/\x1b\[[0-9;]*m//g' "$1" | grep -E '^\s*(train_step|generate|decode_step|recompute_step|sample_row|matmul)|GFLOP/s|tokens/s' | grep -v '^running' | sed 's/^/    /' | tee -a "$summary"
}

vitest() { node ../../node_modules/vitest/vitest.mjs run "$@"; }

# the parity files of library $2 (the rest of the arguments), run with
# RXRL_TEST_BACKEND=$1; the JSON report moves to OUT/tests-$1/$2.json (out of
# dist/test-results, which `npm test`'s summary sums)
suite() {
  local backend=$1 lib=$2
  shift 2
  mkdir -p "$out/tests-$backend"
  echo "suite: libs/$lib $*"
  (cd "libs/$lib" && RXRL_TEST_BACKEND=$backend vitest "$@")
  local rc=$?
  mv -f "dist/test-results/libs/$lib-$backend/results.json" "$out/tests-$backend/$lib.json" 2>/dev/null &&
    rmdir "dist/test-results/libs/$lib-$backend"
  return $rc
}

parity() {
  local b=$1
  suite "$b" core src/backend/webgpuBackend.test.ts src/ops/attention.test.ts \
    src/ops/lmHeadLogProbs.test.ts src/ops/tokenLogProbs.test.ts &&
    suite "$b" model test/parity.test.ts src/decode.test.ts src/kvCache.test.ts &&
    suite "$b" loss test/torchParity.test.ts test/preferenceParity.test.ts
}

# `timeout` runs programs, not functions: the steps reach these through bash -c
export out
export -f parity suite vitest

say "rxrl GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
for p in webgpu @tensorflow/tfjs-backend-webgpu vitest tsx; do
  if [ ! -d "node_modules/$p" ]; then
    say "gpu-check: node_modules/$p is missing. This script installs nothing: run \`npm install\` (npm registry only) first."
    exit 2
  fi
done

say "machine: $(uname -sm), $(nproc) cores, node $(node -v)"
if command -v nvidia-smi >/dev/null; then
  say "  GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | paste -sd ';')"
else
  say "  GPU: no nvidia-smi"
fi
icds=$(ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | grep '\.json$' | paste -sd ' ')
say "  Vulkan drivers (ICDs): ${icds:-none}"

say "webgpu:"
adapter=$(node --import tsx tools/gpu/adapter.ts 2>"$out/adapter.log")
have_adapter=$?
say "  $adapter"
case "$adapter" in
*"a CPU implementation"*) say "  note: a CPU implementation of WebGPU, not a GPU — figures below check correctness, not GPU speed" ;;
esac
node --import tsx tools/gpu/adapter.ts --json >"$out/adapter.json" 2>>"$out/adapter.log"
if [ $have_adapter -eq 0 ]; then
  step parity-webgpu 150 bash -c 'parity webgpu'
  test_figures "$out/parity-webgpu.log"
  # two steps, so a slow adapter (lavapipe) that runs out of time in generation keeps its train figures
  step bench-webgpu-train 60 node --import tsx tools/bench/run.ts --backend webgpu --quick \
    --only train_step --no-torch --out "$out/bench-webgpu-train.json"
  bench_figures "$out/bench-webgpu-train.log"
  step bench-webgpu-generation 90 node --import tsx tools/bench/run.ts --backend webgpu --quick \
    --only generation --no-torch --out "$out/bench-webgpu-generation.json"
  bench_figures "$out/bench-webgpu-generation.log"
else
  failed=1
  if [ -z "$icds" ]; then
    say "  no Vulkan driver is installed: Dawn reaches NVIDIA GPUs through the driver's Vulkan ICD"
    say "  (nvidia_icd.json; in containers, NVIDIA_DRIVER_CAPABILITIES must include graphics)"
  fi
fi

say "tfjs-node-gpu:"
if node -e "import('@tensorflow/tfjs-node-gpu').then(() => process.exit(0), () => process.exit(1))" >/dev/null 2>&1; then
  step parity-tensorflow 90 bash -c 'parity tensorflow'
  test_figures "$out/parity-tensorflow.log"
  step bench-tensorflow 60 node --import tsx tools/bench/run.ts --backend tensorflow --quick \
    --only train_step,generation --no-torch --out "$out/bench-tensorflow.json"
  bench_figures "$out/bench-tensorflow.log"
else
  say "  not run: @tensorflow/tfjs-node-gpu does not load here (not installed, or no libtensorflow/CUDA)"
fi

say "done in $(elapsed) s; results in $out"
exit $failed
