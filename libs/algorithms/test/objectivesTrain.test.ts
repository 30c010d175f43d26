// The newer objectives train, each through its real trainer on a tiny model over a few
// steps: DFT (sft.loss_type dft), SimPO (dpo.objective cpo / simpo) and SAPO
// (loss_fn.use_sapo in GRPO). Loss values and gradients are checked against float64
// references in @rxrl/loss; this checks that each, wired into its trainer, learns.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { ArithmeticTask, BuiltinTokenizer } from '@rxrl/data';
import { readMetricsJsonl } from '@rxrl/logging';
import { preferenceObjectiveLoss } from '@rxrl/loss';
import { CausalLM, presetConfig } from '@rxrl/model';
import { AdamW } from '@rxrl/optimizer';
import {
  DpoTrainer,
  SftTrainer,
  dpoSchema,
  grpoSections,
  runGrpo,
  sftDataSchema,
  sftExamples,
  sftSchema,
  type PreferencePair,
} from '../src/index';
import { TINY_POLICY_INIT } from '../src/grpo/testing/tinyPolicyInit';

const tok = new BuiltinTokenizer();
const tinyConfig = () => ({
  ...presetConfig('llama', 'tiny', tok.vocabSize),
  hiddenSize: 32,
  intermediateSize: 64,
  numLayers: 1,
  numHeads: 2,
  numKvHeads: 2,
  headDim: 16,
  maxPositionEmbeddings: 32,
});
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

beforeAll(async () => {
  await useBackend('wasm');
});

describe('objectives train on a tiny model', () => {
  it('DFT (sft.loss_type dft): after an NLL warm-up, DFT steps lower the DFT loss and the NLL of the trained tokens', async () => {
    const task = new ArithmeticTask({ operators: ['+', '-'], max_digits: 2, seed: 3 });
    const data = sftDataSchema.parse({ loss_mask: 'completion_only' });
    const train = sftExamples(tok, task.sftRows('train', 8), data, 32).examples;
    const model = CausalLM.create(tinyConfig(), { seed: 1 });
    const optimizer = new AdamW(Object.fromEntries(model.trainableVariables()), {
      lr: 1e-2,
      weight_decay: 0,
    });
    const trainer = (loss_type: 'nll' | 'dft') =>
      new SftTrainer({
        model,
        tokenizer: tok,
        optimizer,
        policy: { train_global_batch_size: 8, train_micro_batch_size: 4, max_grad_norm: 1 },
        sft: sftSchema.parse({
          loss_type,
          val_micro_batch_size: 8,
          val_generation: { num_prompts: 0 },
        }),
        train,
        // validation/loss is the NLL: here of the trained tokens themselves
        val: train,
        seed: 0,
      });
    const all = [0, 1, 2, 3, 4, 5, 6, 7];
    // from random weights every p ≈ 1/103, so DFT's p-weighted gradient is ~1% of NLL's and
    // −p·log p rises with p below 1/e: DFT is a fine-tuning loss, it needs a start
    const nllTrainer = trainer('nll');
    for (let step = 1; step <= 15; step++) await nllTrainer.trainStep(all, step);
    const dft = trainer('dft');
    const nll0 = (await dft.validate(15)).metrics['validation/loss']!;
    const losses: number[] = [];
    for (let step = 16; step <= 45; step++)
      losses.push((await dft.trainStep(all, step)).metrics['train/loss']!);
    const nll = (await dft.validate(45)).metrics['validation/loss']!;
    // measured (wasm): DFT loss 0.325 -> 0.003 over 30 steps, NLL of the tokens 0.79 -> 0.003
    expect(mean(losses.slice(-3))).toBeLessThan(mean(losses.slice(0, 3)) * 0.5);
    expect(nll).toBeLessThan(nll0 * 0.5);
    optimizer.dispose();
    model.dispose();
  });

  it('SimPO (dpo.objective cpo, loss_type simpo, cpo_alpha 0): loss falls and the margin grows, no reference model', async () => {
    const enc = (s: string) => Int32Array.from(tok.encode(s, { addSpecialTokens: false }));
    const pair = (prompt: string, chosen: string, rejected: string): PreferencePair => ({
      prompt: Int32Array.from([tok.bosTokenId, ...enc(prompt)]),
      chosen: Int32Array.from([...enc(chosen), tok.eosTokenId]),
      rejected: Int32Array.from([...enc(rejected), tok.eosTokenId]),
      weight: 1,
    });
    const pairs = [
      pair('1+2=', '3', '4'),
      pair('12+9=', '21', '12'),
      pair('7-9=', '-2', '2'),
      pair('40+5=', '45', '54'),
      pair('3+3=', '6', '7'),
      pair('9+9=', '18', '81'),
      pair('20-1=', '19', '91'),
      pair('6+7=', '13', '12'),
    ];
    const model = CausalLM.create(tinyConfig(), { seed: 3 });
    const optimizer = new AdamW(Object.fromEntries(model.trainableVariables()), {
      lr: 5e-3,
      weight_decay: 0,
    });
    const spec = dpoSchema.parse({
      objective: { name: 'cpo', loss_type: 'simpo', beta: 2, simpo_gamma: 0.5, cpo_alpha: 0 },
    }).objective!;
    const t = new DpoTrainer({
      model,
      reference: null,
      tokenizer: tok,
      optimizer,
      policy: { train_global_batch_size: 8, train_micro_batch_size: 4, max_grad_norm: null },
      val: { val_batches: null, val_global_batch_size: 64, val_micro_batch_size: 4 },
      loss: {},
      objective: (inputs) => preferenceObjectiveLoss(spec, inputs),
      trainPairs: pairs,
      valPairs: pairs,
      seed: 0,
    });
    const all = [0, 1, 2, 3, 4, 5, 6, 7];
    const steps: Record<string, number>[] = [];
    for (let i = 0; i < 15; i++) steps.push((await t.trainStep(all, i + 1)).metrics);
    const loss = steps.map((m) => m['train/loss']!);
    const margin = steps.map((m) => m['train/reward_margin']!);
    // β·(c̄ − r̄) − γ starts near −γ: loss ≈ log(1 + e^{0.5}) = 0.974
    expect(loss[0]).toBeCloseTo(Math.log1p(Math.exp(0.5)), 1);
    expect(mean(loss.slice(-3))).toBeLessThan(loss[0]! * 0.5);
    expect(margin.at(-1)!).toBeGreaterThan(margin[0]! + 1);
    optimizer.dispose();
    model.dispose();
  });

  it('SAPO (loss_fn.use_sapo, loss_aggregation grpo): GRPO with the soft gate raises the reward of a learnable task', async () => {
    const runDir = mkdtempSync(path.join(tmpdir(), 'grpo-sapo-'));
    const config = grpoSections.validate({
      seed: 5,
      grpo: {
        num_prompts_per_step: 8,
        num_generations_per_prompt: 8,
        max_num_steps: 12,
        val_period: 0,
        val_at_start: false,
        val_at_end: false,
        max_val_samples: 4,
        num_samples_logged: 0,
      },
      policy: {
        init: TINY_POLICY_INIT,
        train_global_batch_size: 64,
        train_micro_batch_size: 64,
        generation: { max_new_tokens: 1 },
        optimizer: { name: 'torch.optim.AdamW', kwargs: { lr: 3e-2, weight_decay: 0 } },
      },
      loss_fn: {
        reference_policy_kl_penalty: 0,
        use_sapo: true,
        sapo_temperature_pos: 1,
        sapo_temperature_neg: 1.05,
        loss_aggregation: 'grpo',
      },
      data: { arithmetic: { max_digits: 1, operators: ['+'] }, num_train_prompts: 96 },
      logger: { progress: false, tensorboard_enabled: false },
      checkpointing: { enabled: false },
      graph: [
        { stage: 'rollout.generate' },
        { stage: 'reward.regex_match', options: { pattern: '^[0-9]' } },
        { stage: 'grouping.advantages' },
      ],
    });
    const r = await runGrpo(config, { runDir, resume: false });
    expect(r).toMatchObject({ step: 12, reason: 'max_num_steps' });
    const rows = readMetricsJsonl(path.join(runDir, 'metrics.jsonl'));
    const rewards = rows.map((m) => m['train/reward']!);
    expect(mean(rewards.slice(0, 3))).toBeLessThan(0.35);
    expect(mean(rewards.slice(-3))).toBeGreaterThan(mean(rewards.slice(0, 3)) + 0.3);
  });
});
