#!/usr/bin/env bash
# End to end at real size: SFT, DPO and the GSM8K-format GRPO recipe, full
# fine-tune, on the Qwen2.5-0.5B-Instruct layout (random weights, real shapes
# and tokenizer), each for 2 steps: chat template, generation, verifier, loss,
# update, checkpoint; then a resume to step 3, export, and the exported GRPO
# policy served and asked one question. Slow (minutes per algorithm) and
# opt-in: `npm run e2e:real`, or RXRL_SLOW_TESTS=1 in the test suite (apps/cli/test/realSize.test.ts).
#
#   bash tools/real/e2e.sh [WORK_DIR] [ALGORITHMS]   # default runs/e2e-real (replaced), "sft dpo grpo grpo-lora"
#
# grpo-lora: the same GRPO recipe training LoRA adapters (r 16, all-linear) on
# the frozen base, which is also the KL reference with the adapters off; the
# adapter is exported in PEFT's format and generated from with --adapter.
#
# On the 2-core, 24 GB machine: SFT 2 steps + resume + export 485 s, DPO 132 s
# (README, "Real checkpoints").
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${RXRL_REAL_MODEL:-runs/real-layouts/qwen2.5-0.5b}
work=${1:-runs/e2e-real}
algorithms=${2:-sft dpo grpo grpo-lora}
want() { [[ " $algorithms " == *" $1 "* ]]; }
rxrl() { node apps/cli/bin/rxrl.js "$@"; }
stamp() { date +%s; }

if [ ! -f "$model/config.json" ]; then
  echo "e2e: making $model"
  node --import tsx tools/models/make-real-layouts.ts --only qwen2.5-0.5b --out "$(dirname "$model")"
fi
rm -rf "$work" && mkdir -p "$work/data"

# GSM8K-format problems made here: {"question", "answer": "... #### n"}
node -e '
const fs = require("fs");
const w = (f, rows) => fs.writeFileSync(f, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
const q = Array.from({ length: 24 }, (_, i) => {
  const a = 3 + i, b = 2 * i + 5;
  return { question: `Tom has ${a} apples and buys ${b} more. How many apples does he have?`, answer: `${a} + ${b} = ${a + b}\n#### ${a + b}` };
});
w(process.argv[1] + "/gsm8k.jsonl", q);
w(process.argv[1] + "/sft.jsonl", q.map((r) => ({ prompt: r.question, completion: r.answer.replace("####", "The answer is") })));
w(process.argv[1] + "/dpo.jsonl", q.map((r) => {
  const n = Number(r.answer.split("#### ")[1]);
  return { prompt: r.question, chosen: `The answer is ${n}.`, rejected: `The answer is ${n + 1}.` };
}));
' "$work/data"

common=(policy.model_name="$model" policy.train_global_batch_size=2 policy.train_micro_batch_size=1
  policy.max_total_sequence_length=128 checkpointing.save_period=1 --backend native)

if want sft; then
t=$(stamp)
rxrl sft --config configs/sft_qwen2.5-0.5b.yaml --run-dir "$work/sft" "${common[@]}" \
  data.dataset_name="$work/data/sft.jsonl" data.val_fraction=0.1 sft.max_num_steps=2 sft.val_period=0 \
  sft.val_at_start=false
rxrl sft --config configs/sft_qwen2.5-0.5b.yaml --run-dir "$work/sft" "${common[@]}" \
  data.dataset_name="$work/data/sft.jsonl" data.val_fraction=0.1 sft.max_num_steps=3 sft.val_period=0 \
  sft.val_at_start=false --export "$work/sft-policy"
echo "e2e: sft 2 steps + resume to 3 + export in $(( $(stamp) - t )) s"
fi

if want dpo; then
t=$(stamp)
rxrl dpo --config configs/dpo_qwen2.5-0.5b.yaml --run-dir "$work/dpo" "${common[@]}" \
  data.dataset_name="$work/data/dpo.jsonl" data.val_fraction=0.1 dpo.max_num_steps=2 dpo.val_period=0 \
  dpo.val_at_start=false
echo "e2e: dpo 2 steps in $(( $(stamp) - t )) s"
fi

if want grpo; then
t=$(stamp)
# the run exports its final policy to <run-dir>/policy
rxrl grpo --config configs/grpo_qwen2.5-0.5b_gsm8k.yaml --run-dir "$work/grpo" "${common[@]}" \
  data.train_data_path="$work/data/gsm8k.jsonl" data.val_data_path="$work/data/gsm8k.jsonl" \
  grpo.num_prompts_per_step=2 grpo.num_generations_per_prompt=2 grpo.max_num_steps=2 \
  grpo.val_at_start=false grpo.val_period=0 grpo.max_val_samples=4 policy.generation.max_new_tokens=16 \
  data.max_input_seq_length=96
echo "e2e: grpo 2 steps + export in $(( $(stamp) - t )) s"

rxrl generate --model "$work/grpo/policy" --backend native --chat --max-new-tokens 8 \
  --prompt "Tom has 3 apples and buys 5 more. How many apples does he have?"

# serve the trained policy on loopback and ask it once
port=$(( 20000 + RANDOM % 20000 ))
# node itself in the background, not the rxrl function: $! must be the server, or the kill below
# stops a subshell and leaves the server running
node apps/cli/bin/rxrl.js serve --model "$work/grpo/policy" --backend native --port "$port" --served-model-name e2e &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do
  curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
  sleep 1
done
curl -sf "http://127.0.0.1:$port/v1/completions" -H 'content-type: application/json' \
  -d '{"model":"e2e","prompt":"Tom has 3 apples","max_tokens":4}'
echo
kill $server
fi
if want grpo-lora; then
t=$(stamp)
rxrl grpo --config configs/grpo_qwen2.5-0.5b_gsm8k.yaml --run-dir "$work/grpo-lora" "${common[@]}" \
  'policy.lora={r: 16, lora_alpha: 32, target_modules: all-linear}' policy.optimizer.kwargs.lr=1e-4 \
  data.train_data_path="$work/data/gsm8k.jsonl" data.val_data_path="$work/data/gsm8k.jsonl" \
  grpo.num_prompts_per_step=2 grpo.num_generations_per_prompt=2 grpo.max_num_steps=2 \
  grpo.val_at_start=false grpo.val_period=0 grpo.max_val_samples=4 policy.generation.max_new_tokens=16 \
  data.max_input_seq_length=96
echo "e2e: grpo-lora 2 steps + adapter export in $(( $(stamp) - t )) s"
rxrl generate --model "$model" --adapter "$work/grpo-lora/policy_adapter" --backend native --chat \
  --max-new-tokens 8 --prompt "Tom has 3 apples and buys 5 more. How many apples does he have?"
fi
echo "e2e: done"
