#!/bin/sh
# Rebuild models/arith-sft-1200/ (the SFT policy the GRPO recipe starts from): the SFT
# recipe of tools/train_sft_policy.sh (configs/sft_arithmetic.yaml, seed 1, cosine schedule
# over 1500 steps) stopped after step 1200 — the same run's step-1200 point, where held-out
# greedy exact match is 43.0% (256 problems) and still climbing, so GRPO has room to show
# what it adds. 1200 steps x 136 ms alone is about 2.7 min (plus validation). Extra
# arguments go to `rxrl sft` (e.g. --backend wasm|native).
set -e
cd "$(dirname "$0")/.."
rm -rf runs/sft-arith-1200
node apps/cli/bin/rxrl.js sft --config configs/sft_arithmetic.yaml --run-dir runs/sft-arith-1200 --export models/arith-sft-1200 sft.max_num_steps=1200 "$@"
