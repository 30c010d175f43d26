#!/bin/sh
# Rebuild models/arith-sft/ (the SFT policy the GRPO and DPO recipes start from) from
# configs/sft_arithmetic.yaml. About 10 minutes on 2 CPU cores (wasm backend).
set -e
cd "$(dirname "$0")/.."
rm -rf runs/sft-arith
node apps/cli/bin/rxrl.js sft --config configs/sft_arithmetic.yaml --run-dir runs/sft-arith --export models/arith-sft "$@"
