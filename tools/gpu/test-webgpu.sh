#!/usr/bin/env bash
# Runs the model and loss suites — and the ops layer's, the webgpu backend's
# own checks against cpu, and whole SFT and GRPO runs (apps/cli) — on the
# webgpu backend
# (RXRL_TEST_BACKEND=webgpu: every suite written for the default backend runs
# there with the same tolerances). Opt-in: not part of `npm test`.
#
#   bash tools/gpu/test-webgpu.sh [LIB ...]      # default: core model loss cli
#
# Needs a WebGPU adapter: a GPU with its Vulkan driver, or lavapipe on the CPU
# (tools/gpu/setup-lavapipe.sh). Without one it prints why and exits 0, or 1
# when RXRL_REQUIRE_WEBGPU=1. On lavapipe (2 cores) they take about 4 minutes.
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ $# -gt 0 ]; then libs=("$@"); else libs=(core model loss cli); fi
# JSON reports are moved out of dist/test-results: `npm test`'s summary sums that tree
reports=${RXRL_WEBGPU_REPORTS:-dist/webgpu-test-results}
mkdir -p "$reports"
reports=$(cd "$reports" && pwd)

if ! line=$(node --import tsx tools/gpu/adapter.ts 2>/dev/null); then
  echo "test-webgpu: skipped — ${line#webgpu: no adapter — }"
  [ "${RXRL_REQUIRE_WEBGPU:-0}" = 1 ] && exit 1
  exit 0
fi
echo "test-webgpu: $line"

status=0
for lib in "${libs[@]}"; do
  dir=libs/$lib
  files=()
  # core: the ops layer and the backend's own checks; its other suites test the CPU backends
  [ "$lib" = core ] && files=(src/ops src/backend/webgpuBackend.test.ts src/backend/webgpuSyncRead.test.ts)
  # cli: whole SFT and GRPO runs on webgpu against wasm
  [ "$lib" = cli ] && dir=apps/cli && files=(test/webgpuRun.test.ts)
  echo "test-webgpu: $dir ${files[*]}"
  # Dawn's lavapipe limit warnings go to stderr once per process; they are noise here
  (cd "$dir" && RXRL_TEST_BACKEND=webgpu node ../../node_modules/vitest/vitest.mjs run "${files[@]}" \
    2> >(grep -v '^Warning: max' >&2)) || status=1
  mv -f "dist/test-results/$dir-webgpu/results.json" "$reports/$lib.json" 2>/dev/null &&
    rmdir "dist/test-results/$dir-webgpu"
  echo "test-webgpu: report $reports/$lib.json"
done
exit $status
