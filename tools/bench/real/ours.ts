/**
 * rxrl's side of `npm run bench -- --only real`: one measurement on a Hugging
 * Face model directory, in a process of its own so its peak RSS is its own.
 * The same spec fields as torch_real.py; prints one JSON line.
 *
 *   npx tsx tools/bench/real/ours.ts DIR '{"mode":"generate","batch":1,"prompt":32,"new_tokens":32}'
 *   npx tsx tools/bench/real/ours.ts DIR '{"mode":"train","batch":1,"seq":512,"iters":2}'
 *   npx tsx tools/bench/real/ours.ts DIR '{"mode":"grpo","prompts":2,"generations":4,"prompt":32,"new_tokens":32,"kl":0.01}'
 *
 * Each also prints `estimate`: what estimateRunMemory (the check `rxrl` runs
 * before loading) predicts for the same shapes, next to the measured peak RSS.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, type Tokenizer } from '@rxrl/core/base';
import { describeBackend, selectBackend } from '@rxrl/core';
import {
  LoraAdapter,
  chooseActivationCheckpointing,
  estimateRunMemory,
  memoryLimit,
  loadPretrained,
  loraParameterCount,
  readModelConfig,
  type RunMemoryConfig,
} from '@rxrl/model';
import { AdamW } from '@rxrl/optimizer';
import { generate } from '@rxrl/rollout';
import { grpoStep, type GrpoSpec } from './grpoStep';

interface Spec extends Partial<Omit<GrpoSpec, 'checkpointing'>> {
  mode: 'generate' | 'train' | 'grpo';
  batch: number;
  prompt?: number;
  new_tokens?: number;
  seq?: number;
  iters?: number;
  backend?: string;
  /** train: recompute each layer in backward (policy.activation_checkpointing); auto as rxrl decides it */
  checkpointing?: boolean | 'auto';
  /** train: LoRA adapters (policy.lora's names) on the frozen base instead of a full fine-tune */
  lora?: { r: number; lora_alpha: number; target_modules: string | string[] };
}

const [dir, raw] = process.argv.slice(2);
if (!dir || !raw) throw new Error('usage: ours.ts MODEL_DIR SPEC_JSON');
const spec = JSON.parse(raw) as Spec;
const choice = await selectBackend(spec.backend ?? 'native');
const cfg = await readModelConfig(dir);

if (spec.mode === 'grpo') {
  const out = await grpoStep(path.resolve(dir), spec as GrpoSpec, choice.backend);
  console.log(
    JSON.stringify({
      side: 'rxrl',
      backend: describeBackend(choice),
      mode: spec.mode,
      ...out,
      peak_rss: process.resourceUsage().maxRSS * 1024,
    }),
  );
  process.exit(0);
}

// the shapes `rxrl generate` / `rxrl sft` would check before loading
const loraCounts = spec.lora ? loraParameterCount(cfg, spec.lora) : null;
const trainRun = (activationCheckpointing: boolean): RunMemoryConfig => ({
  backend: choice.backend,
  train: {
    microBatch: spec.batch,
    seqLen: spec.seq!,
    activationCheckpointing,
    ...(loraCounts ? { trainableParams: loraCounts.trainable } : {}),
  },
  ...(loraCounts ? { adapterParams: loraCounts.adapter } : {}),
});
// `auto`: what `rxrl sft` decides before loading (keep activations when they fit 80% of RAM)
const checkpointing =
  spec.mode === 'train' && spec.checkpointing === 'auto'
    ? chooseActivationCheckpointing(cfg, trainRun(false), memoryLimit(choice.backend)).checkpointing
    : spec.checkpointing === true;
const memoryRun: RunMemoryConfig =
  spec.mode === 'generate'
    ? {
        backend: choice.backend,
        train: null,
        generation: { batch: spec.batch, maxLen: spec.prompt! + spec.new_tokens! },
      }
    : trainRun(checkpointing);
const estimate = estimateRunMemory(cfg, memoryRun).totalBytes;
const t0 = performance.now();
const model = await loadPretrained(dir);
const loadS = (performance.now() - t0) / 1000;
model.activationCheckpointing = checkpointing;
if (spec.lora) model.attachAdapter(LoraAdapter.create(model, spec.lora, { seed: 0 }));
const vocab = model.config.vocabSize;
const rng = new Rng(0);
const ids = (b: number, t: number) =>
  Array.from({ length: b }, () => Array.from({ length: t }, () => rng.int(vocab)));
const iters = spec.iters ?? 2;
const times: number[] = [];
let tokens: number;

if (spec.mode === 'generate') {
  // ids only: no text is decoded that matters, and no stop string ends a row early
  const tokenizer: Tokenizer = {
    vocabSize: vocab,
    bosTokenId: null,
    eosTokenId: null,
    padTokenId: 0,
    encode: () => [],
    decode: (x) => `${x.length} tokens`,
    applyChatTemplate: () => '',
  };
  const prompts = ids(spec.batch, spec.prompt!);
  const opts = {
    max_new_tokens: spec.new_tokens!,
    ignore_eos: true,
    generation_batch_size: spec.batch,
    temperature: 0,
  };
  for (let i = 0; i <= iters; i++) {
    const t = performance.now();
    await generate(model, tokenizer, prompts, opts);
    times.push((performance.now() - t) / 1000);
  }
  tokens = spec.batch * spec.new_tokens!;
} else {
  const [b, t] = [spec.batch, spec.seq!];
  const input = tf.tensor2d(ids(b, t), [b, t], 'int32');
  const target = tf.tensor2d(ids(b, t), [b, t], 'int32');
  const optimizer = new AdamW(Object.fromEntries(model.trainableVariables()), {
    lr: 1e-5,
    weight_decay: 0.01,
  });
  for (let i = 0; i <= iters; i++) {
    const start = performance.now();
    const { value, grads } = model.variableGrads(
      () => tf.neg(tf.mean(model.tokenLogProbs(input, null, target))) as tf.Scalar,
    );
    optimizer.step(Object.fromEntries(grads));
    tf.dispose([value, ...grads.values()]);
    await model.variables().get('model.norm.weight')!.data();
    times.push((performance.now() - start) / 1000);
  }
  tokens = b * t;
}
const sorted = times.slice(1).sort((x, y) => x - y);
const seconds = sorted[Math.floor(sorted.length / 2)]!;
console.log(
  JSON.stringify({
    side: 'rxrl',
    backend: describeBackend(choice),
    mode: spec.mode,
    load_s: loadS,
    seconds,
    tokens_per_s: tokens / seconds,
    checkpointing: spec.mode === 'train' ? checkpointing : undefined,
    trainable: spec.mode === 'train' ? [...model.trainableVariables().values()].reduce((n, v) => n + v.size, 0) : undefined,
    peak_rss: process.resourceUsage().maxRSS * 1024,
    estimate,
  }),
);
