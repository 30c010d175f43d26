/**
 * A training algorithm as a plugin: unlikelihood training (Welleck et al. 2019,
 * https://arxiv.org/abs/1908.04319) on preference pairs. Each step lowers the NLL
 * of the chosen answer and adds α·−log(1 − p) for every token of the rejected
 * answer where it departs from the chosen one (a shared prefix is not penalised:
 * it is also the chosen answer's). A recipe names it —
 *
 *   algorithm: ./unlikelihood_plugin.ts#UnlikelihoodSft
 *
 * — and `rxrl train --config examples/unlikelihood_plugin.yaml` loads the policy and
 * optimizer, builds it, runs it (validation, checkpoints, resume, metrics, report)
 * and exports the policy. `unlikelihood:` in the recipe holds its options below,
 * next to the loop keys rxrl adds (max_num_steps, val_period, …).
 */
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import type { LossResult } from '@rxrl/loss';
import {
  accumulatedStep,
  countLossTokens,
  datasetRows,
  dpoDataSchema,
  EpochSampler,
  lmBatchArrays,
  lmBatchTensors,
  microBatches,
  preferencePairs,
  type AlgorithmBuildContext,
  type AlgorithmSteps,
  type LmSequence,
  type PreferencePair,
  type TrainingAlgorithm,
} from '@rxrl/algorithms';

const unlikelihoodOptions = z.object({
  /** weight α of the unlikelihood term */
  alpha: z.number().nonnegative().default(0.5),
  /** the built-in arithmetic task's options (operators, digits, seed) */
  arithmetic: z.record(z.string(), z.unknown()).default({ operators: ['+', '-'], max_digits: 2 }),
  /** training pairs drawn */
  num_train_examples: z.int().positive().default(512),
  /** held-out pairs drawn */
  num_val_examples: z.int().positive().default(64),
});
type UnlikelihoodOptions = z.infer<typeof unlikelihoodOptions>;

/** Prompt + chosen (NLL on the answer) and prompt + rejected (masked to where it departs from chosen). */
function sequences(pairs: readonly PreferencePair[]): {
  chosen: LmSequence[];
  rejected: LmSequence[];
} {
  const side = (p: PreferencePair, c: Int32Array, departs: boolean): LmSequence => {
    const tokens = Int32Array.from([...p.prompt, ...c]);
    const mask = new Uint8Array(tokens.length);
    for (let i = 0; i < c.length; i++)
      mask[p.prompt.length + i] = !departs || c[i] !== p.chosen[i] ? 1 : 0;
    return { tokens, mask };
  };
  return {
    chosen: pairs.map((p) => side(p, p.chosen, false)),
    rejected: pairs.map((p) => side(p, p.rejected, true)),
  };
}

const weighted = (pairs: readonly PreferencePair[], seqs: readonly LmSequence[]) =>
  seqs.reduce((n, s, i) => n + pairs[i]!.weight * countLossTokens([s]), 0);

export class UnlikelihoodSft implements TrainingAlgorithm<UnlikelihoodOptions, number[]> {
  readonly name = 'unlikelihood';
  readonly options = unlikelihoodOptions;

  async build(ctx: AlgorithmBuildContext<UnlikelihoodOptions>): Promise<AlgorithmSteps<number[]>> {
    const { model, tokenizer, optimizer, policy, options } = ctx;
    const data = dpoDataSchema.parse({
      arithmetic: options.arithmetic,
      num_train_examples: options.num_train_examples,
      num_val_examples: options.num_val_examples,
    });
    const rows = await datasetRows(data, 'preference', ctx.cwd);
    const maxLen = policy.max_total_sequence_length;
    const train = preferencePairs(tokenizer, rows.train, data, maxLen).pairs;
    const val = preferencePairs(tokenizer, rows.val, data, maxLen).pairs;
    const pad = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
    ctx.log(`rxrl: unlikelihood training on ${train.length} pairs, alpha ${options.alpha}`);

    /** Per-token log-probs of sequences (inside the gradient tape or a tidy). */
    const logps = (seqs: LmSequence[]) => {
      const t = lmBatchTensors(lmBatchArrays(seqs, pad));
      return { logp: model.tokenLogProbs(t.ids, t.attention, t.targets), mask: t.tokenMask };
    };
    /** One micro-batch's terms, each normalised by the global batch's token counts. */
    const loss = (
      mb: readonly PreferencePair[],
      nChosen: number,
      nRejected: number,
    ): LossResult => {
      const s = sequences(mb);
      const w = tf.tensor2d(
        mb.map((p) => p.weight),
        [mb.length, 1],
      );
      const c = logps(s.chosen);
      const r = logps(s.rejected);
      const nll = tf.div(tf.neg(tf.sum(tf.mul(tf.mul(c.logp, c.mask), w))), nChosen) as tf.Scalar;
      // −log(1 − p), p kept below 1 so a token the policy is sure of gives a large finite penalty
      const p = tf.minimum(tf.exp(r.logp), 1 - 1e-6);
      const ul = tf.div(
        tf.neg(tf.sum(tf.mul(tf.mul(tf.log1p(tf.neg(p)), r.mask), w))),
        Math.max(1, nRejected),
      ) as tf.Scalar;
      const total = tf.add(nll, tf.mul(ul, options.alpha)) as tf.Scalar;
      return { loss: total, metrics: { loss: tf.clone(total), nll, unlikelihood: ul } };
    };

    return {
      data: new EpochSampler(train.length, policy.train_global_batch_size, ctx.seed, true),
      trainStep(indices) {
        const batch = indices.map((i) => train[i]!);
        const s = sequences(batch);
        const nChosen = weighted(batch, s.chosen);
        const nRejected = weighted(batch, s.rejected);
        const m = accumulatedStep({
          model,
          optimizer,
          microBatches: microBatches(batch, policy.train_micro_batch_size),
          loss: (mb) => loss(mb, nChosen, nRejected),
          maxGradNorm: policy.max_grad_norm,
        });
        return {
          metrics: {
            'train/loss': m['loss']!,
            'train/nll': m['nll']!,
            'train/unlikelihood': m['unlikelihood']!,
            'train/grad_norm': m['grad_norm']!,
            'train/lr': m['lr']!,
          },
        };
      },
      validate() {
        // held-out: NLL of the chosen answers, and how often the chosen answer is the likelier one
        let nll = 0;
        let tokens = 0;
        let wins = 0;
        let margin = 0;
        const answer = (p: PreferencePair, c: Int32Array): LmSequence => {
          const mask = new Uint8Array(p.prompt.length + c.length);
          mask.fill(1, p.prompt.length);
          return { tokens: Int32Array.from([...p.prompt, ...c]), mask };
        };
        for (const mb of microBatches(val, 32)) {
          const chosen = mb.map((p) => answer(p, p.chosen));
          const [margins, chosenNll] = tf.tidy(() => {
            const sum = (x: { logp: tf.Tensor; mask: tf.Tensor }) =>
              tf.sum(tf.mul(x.logp, x.mask), 1);
            const c = sum(logps(chosen));
            const r = sum(logps(mb.map((p) => answer(p, p.rejected))));
            return [tf.sub(c, r).dataSync(), -tf.sum(c).dataSync()[0]!] as const;
          });
          wins += Array.from(margins).filter((d) => d > 0).length;
          margin += Array.from(margins).reduce((a, d) => a + d, 0);
          nll += chosenNll;
          tokens += countLossTokens(chosen);
        }
        return {
          metrics: {
            'validation/loss': nll / Math.max(1, tokens),
            'validation/preference_accuracy': wins / Math.max(1, val.length),
            // mean log π(chosen) − log π(rejected): what the unlikelihood term pushes up
            'validation/logp_margin': margin / Math.max(1, val.length),
          },
        };
      },
    };
  }
}
