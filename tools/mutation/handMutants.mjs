// Hand-made mutants: the bugs Stryker cannot make. It does not change numeric
// constants, drop a mask argument or swap one tf.* call for another (min/max,
// sum/mean), yet those are the slips numerical code is made of. Each mutant is
// a one-place patch (`from` must occur exactly once in `file`); the script
// applies it, runs the test files named in `tests` and restores the file,
// whatever happens. Killed: the tests failed. Survived: they passed, so no
// test would notice that bug.
//
//   node tools/mutation/handMutants.mjs [target ...]   (or `npm run mutation -- hand [target]`)
//
// Writes reports/mutation/hand.json; exits 1 when a mutant survives.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { targets } from './targets.mjs';

const L = 'libs/loss/src/';
const G = 'libs/grouping/src/advantages/';
const O = 'libs/optimizer/src/';
const C = 'libs/core/src/ops/';

/** @type {Array<{ id: string; target: string; file: string; from: string; to: string; tests: string[] }>} */
export const handMutants = [
  // ---- loss: masked reductions
  {
    id: 'norm-eps-0',
    target: 'loss',
    file: `${L}masked.ts`,
    from: 'export const NORM_EPS = 1e-8;',
    to: 'export const NORM_EPS = 0;',
    tests: [`${L}masked.test.ts`],
  },
  {
    id: 'norm-eps-1e-6',
    target: 'loss',
    file: `${L}masked.ts`,
    from: 'export const NORM_EPS = 1e-8;',
    to: 'export const NORM_EPS = 1e-6;',
    tests: [`${L}masked.test.ts`],
  },
  {
    id: 'nan-to-one',
    target: 'loss',
    file: `${L}masked.ts`,
    from: 'tf.where(tf.isFinite(v), v, tf.zerosLike(v))',
    to: 'tf.where(tf.isFinite(v), v, tf.onesLike(v))',
    tests: [`${L}masked.test.ts`],
  },
  {
    id: 'masked-mean-drops-mask',
    target: 'loss',
    file: `${L}masked.ts`,
    from: 'const num = tf.sum(tf.mul(values, mask));',
    to: 'const num = tf.sum(values);',
    tests: [`${L}masked.test.ts`],
  },
  {
    id: 'row-masked-mean-sum-to-mean',
    target: 'loss',
    file: `${L}masked.ts`,
    from: '    tf.sum(tf.mul(values, mask), -1),',
    to: '    tf.mean(tf.mul(values, mask), -1),',
    tests: [`${L}masked.test.ts`],
  },
  // ---- loss: KL estimators
  {
    id: 'k2-half-dropped',
    target: 'loss',
    file: `${L}klEstimators.ts`,
    from: 'tf.div(tf.square(logr), 2)',
    to: 'tf.div(tf.square(logr), 1)',
    tests: [`${L}klEstimators.test.ts`],
  },
  {
    id: 'k3-minus-half',
    target: 'loss',
    file: `${L}klEstimators.ts`,
    from: 'tf.sub(tf.sub(tf.exp(logr), 1), logr)',
    to: 'tf.sub(tf.sub(tf.exp(logr), 0.5), logr)',
    tests: [`${L}klEstimators.test.ts`],
  },
  // ---- loss: clipped policy gradient
  {
    id: 'pg-clip-max-to-min',
    target: 'loss',
    file: `${L}clippedPgLoss.ts`,
    from: 'clipLoss = tf.maximum(tf.mul(tf.neg(adv), unclipped), tf.mul(tf.neg(adv), clamped));',
    to: 'clipLoss = tf.minimum(tf.mul(tf.neg(adv), unclipped), tf.mul(tf.neg(adv), clamped));',
    tests: [`${L}clippedPgLoss.metrics.test.ts`],
  },
  {
    id: 'pg-ratio-min-fill',
    target: 'loss',
    file: `${L}clippedPgLoss.ts`,
    from: "const fill = fn === 'min' ? Infinity : -Infinity;",
    to: 'const fill = Infinity;',
    tests: [`${L}clippedPgLoss.metrics.test.ts`],
  },
  {
    id: 'pg-ratio-extremes-unmasked',
    target: 'loss',
    file: `${L}clippedPgLoss.ts`,
    from: 'const vv = tf.where(validIdx(), v, tf.fill(v.shape, fill));',
    to: 'const vv = v;',
    tests: [`${L}clippedPgLoss.metrics.test.ts`],
  },
  {
    id: 'pg-positive-nll-local-count',
    target: 'loss',
    file: `${L}clippedPgLoss.ts`,
    from: 'const den = inputs.globalPositiveToks ?? tf.sum(posMask);',
    to: 'const den = tf.sum(posMask);',
    tests: [`${L}clippedPgLoss.metrics.test.ts`],
  },
  {
    id: 'pg-dr-grpo-local-seqs',
    target: 'loss',
    file: `${L}clippedPgLoss.ts`,
    from: '(nSeqs ?? B) * o.max_completion_length! + NORM_EPS',
    to: 'B * o.max_completion_length! + NORM_EPS',
    tests: [`${L}clippedPgLoss.metrics.test.ts`],
  },
  {
    id: 'pg-seq-mask-tis-inverted',
    target: 'loss',
    file: `${L}clippedPgLoss.ts`,
    from: '() => tf.exp(rowMaskedMean(nanToZero(tf.sub(prev, gen)), tokenMask)),',
    to: '() => tf.exp(rowMaskedMean(nanToZero(tf.sub(gen, prev)), tokenMask)),',
    tests: [`${L}clippedPgLoss.metrics.test.ts`],
  },
  {
    id: 'pg-policy-kl-swapped',
    target: 'loss',
    file: `${L}clippedPgLoss.ts`,
    from: 'policy_kl_error: metric(() => tokMean(klSchulman(prev, gen)), gen, prev),',
    to: 'policy_kl_error: metric(() => tokMean(klSchulman(gen, prev)), gen, prev),',
    tests: [`${L}clippedPgLoss.metrics.test.ts`],
  },
  {
    id: 'pg-js-mixture-weight',
    target: 'loss',
    file: `${L}clippedPgLoss.ts`,
    from: 'tf.log(tf.add(tf.mul(tf.exp(prev), 0.5), tf.mul(tf.exp(gen), 0.5)))',
    to: 'tf.log(tf.add(tf.mul(tf.exp(prev), 0.4), tf.mul(tf.exp(gen), 0.6)))',
    tests: [`${L}clippedPgLoss.metrics.test.ts`],
  },
  {
    id: 'pg-approx-entropy-unweighted',
    target: 'loss',
    file: `${L}clippedPgLoss.ts`,
    from: '() => tf.neg(tokMean(tf.mul(tf.exp(tf.sub(cur, gen)), cur))),',
    to: '() => tf.neg(tokMean(cur)),',
    tests: [`${L}clippedPgLoss.metrics.test.ts`],
  },
  {
    id: 'pg-entropy-quantile-flipped',
    target: 'loss',
    file: `${L}clippedPgLoss.ts`,
    from: 'highEntropyMask(h, m, 1 - o.top_entropy_quantile)',
    to: 'highEntropyMask(h, m, o.top_entropy_quantile)',
    tests: [`${L}clippedPgLoss.test.ts`],
  },
  // ---- loss: DPO family
  {
    id: 'dpo-alpha-shortcut-removed',
    target: 'loss',
    file: `${L}dpoLoss.ts`,
    from: 'if (Math.abs(a - 1) < 1e-6) return lr;',
    to: 'if (Math.abs(a - 1) < 0) return lr;',
    tests: [`${L}dpoLoss.branches.test.ts`],
  },
  {
    id: 'dpo-alpha-cap-800',
    target: 'loss',
    file: `${L}dpoLoss.ts`,
    from: 'tf.exp(tf.minimum(tf.mul(lr, a - 1), 80))',
    to: 'tf.exp(tf.minimum(tf.mul(lr, a - 1), 800))',
    tests: [`${L}dpoLoss.branches.test.ts`],
  },
  {
    id: 'dpo-sft-type-drops-sample-mask',
    target: 'loss',
    file: `${L}dpoLoss.ts`,
    from: 'maskedMean(inputs.policyChosenLogps, m, inputs.globalChosenToks),',
    to: 'maskedMean(inputs.policyChosenLogps, inputs.chosenMask, inputs.globalChosenToks),',
    tests: [`${L}dpoLoss.branches.test.ts`],
  },
  {
    id: 'dpo-ipo-margin',
    target: 'loss',
    file: `${L}dpoLoss.ts`,
    from: 'tf.square(tf.sub(d, 1 / (2 * beta)))',
    to: 'tf.square(tf.sub(d, 1 / beta))',
    tests: [`${L}dpoLoss.test.ts`],
  },
  {
    id: 'dpo-sppo-target',
    target: 'loss',
    file: `${L}dpoLoss.ts`,
    from: 'tf.square(tf.sub(cs, 0.5 / beta))',
    to: 'tf.square(tf.sub(cs, 1 / beta))',
    tests: [`${L}dpoLoss.test.ts`],
  },
  {
    id: 'dpo-nca-half',
    target: 'loss',
    file: `${L}dpoLoss.ts`,
    from: 'tf.sub(tf.neg(logSigmoid(c)), tf.mul(logSigmoid(tf.neg(c)), 0.5)),',
    to: 'tf.sub(tf.neg(logSigmoid(c)), tf.mul(logSigmoid(tf.neg(c)), 1)),',
    tests: [`${L}dpoLoss.test.ts`],
  },
  // ---- loss: schedules
  {
    id: 'schedule-cosine-half',
    target: 'loss',
    file: `${L}schedules.ts`,
    from: 'return spec.end + ((spec.start - spec.end) * (1 + Math.cos(Math.PI * f))) / 2;',
    to: 'return spec.end + ((spec.start - spec.end) * (1 + Math.cos(Math.PI * f))) / 4;',
    tests: [`${L}schedules.test.ts`],
  },
  {
    id: 'schedule-controller-zero-target-scale',
    target: 'loss',
    file: `${L}schedules.ts`,
    from: 'const scale = Math.abs(spec.target) > 0 ? Math.abs(spec.target) : 1;\n  return {',
    to: 'const scale = Math.abs(spec.target) > 0 ? Math.abs(spec.target) : 10;\n  return {',
    tests: [`${L}schedules.test.ts`],
  },
  {
    id: 'schedule-controller-clip-one-sided',
    target: 'loss',
    file: `${L}schedules.ts`,
    from: 'Math.min(spec.clip, Math.max(-spec.clip, (m - spec.target) / scale))',
    to: 'Math.min(spec.clip, (m - spec.target) / scale)',
    tests: [`${L}schedules.test.ts`],
  },
  // ---- loss: mutants Stryker reports as surviving although the tests kill them (module-level
  // schemas built once in loss's shared module cache, and runs it reused from an earlier pass)
  {
    id: 'schedule-constant-schema-empty',
    target: 'loss',
    file: `${L}schedules.ts`,
    from: "      type: z.literal('constant'),\n      /** the coefficient */\n      value: z.number(),",
    to: "      type: z.literal('constant'),",
    tests: [`${L}schedules.test.ts`],
  },
  {
    id: 'schedule-band-min-bound',
    target: 'loss',
    file: `${L}schedules.ts`,
    from: '      factor: z.number().gt(1).default(1.1),\n      direction: z.union([z.literal(1), z.literal(-1)]).default(1),\n      min: z.number().min(0).default(0),',
    to: '      factor: z.number().gt(1).default(1.1),\n      direction: z.union([z.literal(1), z.literal(-1)]).default(1),\n      min: z.number().default(0),',
    tests: [`${L}schedules.test.ts`],
  },
  {
    id: 'key-path-regex-unanchored',
    target: 'loss',
    file: `${L}coefficientSchedules.ts`,
    from: 'z.string().regex(/^[A-Za-z_]\\w*(\\.\\w+)+$/,',
    to: 'z.string().regex(/[A-Za-z_]\\w*(\\.\\w+)+/,',
    tests: [`${L}coefficientSchedules.test.ts`],
  },
  {
    id: 'compose-spec-taken-for-schedule',
    target: 'loss',
    file: `${L}composeLosses.ts`,
    from: "return typeof w === 'object' && w !== null && typeof (w as Schedule).value === 'function';",
    to: "return typeof w === 'object' && w !== null;",
    tests: [`${L}composeLosses.test.ts`],
  },
  {
    id: 'coefficient-set-state-ignored',
    target: 'loss',
    file: `${L}coefficientSchedules.ts`,
    from: 'for (const [p, s] of this.schedules) if (state[p] !== undefined) s.setState(state[p]);',
    to: 'void state;',
    tests: [`${L}coefficientSchedules.test.ts`],
  },
  // ---- grouping: advantages
  {
    id: 'bessel-dropped',
    target: 'grouping',
    file: `${G}groupStats.ts`,
    from: 'const std = count > 1 ? Math.sqrt(ss / (count - 1)) : 0;',
    to: 'const std = count > 1 ? Math.sqrt(ss / count) : 0;',
    tests: [`${G}estimators.test.ts`],
  },
  {
    id: 'whiten-var-floor-1e-6',
    target: 'grouping',
    file: `${G}whiten.ts`,
    from: 'export const WHITEN_VAR_FLOOR = 1e-8;',
    to: 'export const WHITEN_VAR_FLOOR = 1e-6;',
    tests: [`${G}estimators.test.ts`],
  },
  {
    id: 'whiten-weighted-unbiased',
    target: 'grouping',
    file: `${G}whiten.ts`,
    from: 'const std = wSum > 0 ? Math.sqrt(ss / wSum) : 0;',
    to: 'const std = wSum > 1 ? Math.sqrt(ss / (wSum - 1)) : 0;',
    tests: [`${G}estimators.test.ts`],
  },
  {
    id: 'reinforce-token-weights-dropped',
    target: 'grouping',
    file: `${G}reinforcePlusPlusAdvantages.ts`,
    from: '    p.tokenCounts,',
    to: '    undefined,',
    tests: [`${G}estimators.test.ts`],
  },
  {
    id: 'reward-scaling-source-min-dropped',
    target: 'grouping',
    file: `${G}rewardScaling.ts`,
    from: 'out[i] = o.target_min + (c - o.source_min) * k;',
    to: 'out[i] = o.target_min + c * k;',
    tests: [`${G}estimators.test.ts`],
  },
  {
    id: 'advantage-abs-max-signed',
    target: 'grouping',
    file: `${G}computeAdvantages.ts`,
    from: 'absMax = Math.max(absMax, Math.abs(a));',
    to: 'absMax = Math.max(absMax, a);',
    tests: [`${G}estimators.test.ts`],
  },
  {
    id: 'overlong-cap-min-to-max',
    target: 'grouping',
    file: `${G}rewardShaping.ts`,
    from: 'Math.min(exceed / bufferLength, 1)',
    to: 'Math.max(exceed / bufferLength, 1)',
    tests: [`${G}rewardShaping.test.ts`],
  },
  {
    id: 'gdpo-batch-whitening-dropped',
    target: 'grouping',
    file: `${G}gdpoAdvantages.ts`,
    from: '  whitenInPlace(sum, p.stdEpsilon ?? 0, rtol);',
    to: '  for (let i = 0; i < n; i++) if (Number.isNaN(sum[i]!)) sum[i] = 0;',
    tests: [`${G}computeAdvantages.test.ts`],
  },
  // ---- grouping: survivors of a Stryker run, kept here as hand mutants with the tests that
  // kill them (see libs/grouping/README.md)
  {
    id: 'reward-column-always-in-place',
    target: 'grouping',
    file: `${G}advantageColumns.ts`,
    from: 'if (chunks.length === 1 && column.nullCount === 0) {',
    to: 'if (true) {',
    tests: [`${G}advantageEdges.test.ts`],
  },
  {
    id: 'reward-column-first-chunk-only',
    target: 'grouping',
    file: `${G}advantageColumns.ts`,
    from: 'if (chunks.length === 1 && column.nullCount === 0) {',
    to: 'if (column.nullCount === 0) {',
    tests: [`${G}advantageEdges.test.ts`],
  },
  {
    id: 'finish-reason-any-dictionary',
    target: 'grouping',
    file: `${G}advantageColumns.ts`,
    from: '(DataType.isDictionary(t) && DataType.isUtf8(t.dictionary))',
    to: 'DataType.isDictionary(t)',
    tests: [`${G}advantageEdges.test.ts`],
  },
  {
    id: 'missing-reward-gets-a-baseline',
    target: 'grouping',
    file: `${G}groupStats.ts`,
    from: '      if (Number.isNaN(r)) {\n        baseline[i] = Number.NaN;',
    to: '      if (false) {\n        baseline[i] = Number.NaN;',
    tests: [`${G}advantageEdges.test.ts`],
  },
  {
    id: 'gdpo-rtol-ignored',
    target: 'grouping',
    file: `${G}gdpoAdvantages.ts`,
    from: 'const rtol = p.zeroStdRtol ?? DEFAULT_ZERO_STD_RTOL;',
    to: 'const rtol = p.zeroStdRtol && DEFAULT_ZERO_STD_RTOL;',
    tests: [`${G}advantageEdges.test.ts`],
  },
  // ---- optimizer
  {
    id: 'adam-bias-correction-2-unsquared',
    target: 'optimizer',
    file: `${O}adam.ts`,
    from: 'const bc2 = Math.sqrt(1 - b2 ** t);',
    to: 'const bc2 = 1 - b2 ** t;',
    tests: [`${O}adamInPlace.test.ts`, 'libs/optimizer/test/torchParity.test.ts'],
  },
  {
    id: 'adam-eps-inside-sqrt',
    target: 'optimizer',
    file: `${O}adam.ts`,
    from: 'const denom = tf.add(tf.div(tf.sqrt(s2), bc2), this.eps);',
    to: 'const denom = tf.div(tf.sqrt(tf.add(s2, this.eps)), bc2);',
    tests: ['libs/optimizer/test/torchParity.test.ts'],
  },
  {
    id: 'clip-grad-eps-1e-2',
    target: 'optimizer',
    file: `${O}clipGradNorm.ts`,
    from: 'return Math.min(1, maxNorm / (gradNorm + 1e-6));',
    to: 'return Math.min(1, maxNorm / (gradNorm + 1e-2));',
    tests: [`${O}clipGradNorm.test.ts`],
  },
  {
    id: 'lr-cosine-half',
    target: 'optimizer',
    file: `${O}lrSchedule.ts`,
    from: 'return floor + ((1 - floor) * (1 + Math.cos(Math.PI * progress))) / 2;',
    to: 'return floor + ((1 - floor) * (1 + Math.cos(Math.PI * progress))) / 4;',
    tests: [`${O}lrSchedule.test.ts`],
  },
  {
    id: 'sgd-nesterov-with-dampening',
    target: 'optimizer',
    file: `${O}optimizerOptions.ts`,
    from: '.refine((o) => !o.nesterov || (o.momentum > 0 && o.dampening === 0), {',
    to: '.refine((o) => !o.nesterov || o.momentum > 0, {',
    tests: [`${O}optimizerEdges.test.ts`],
  },
  // ---- core ops
  {
    id: 'rmsnorm-mean-to-sum',
    target: 'core',
    file: `${C}rmsNorm.ts`,
    from: 'const ms = tf.mean(tf.square(x), -1, true);',
    to: 'const ms = tf.sum(tf.square(x), -1, true);',
    tests: [`${C}rmsNorm.test.ts`],
  },
  {
    id: 'rmsnorm-eps-dropped',
    target: 'core',
    file: `${C}rmsNorm.ts`,
    from: 'tf.rsqrt(tf.add(ms, eps))',
    to: 'tf.rsqrt(ms)',
    tests: [`${C}rmsNorm.test.ts`],
  },
  {
    id: 'layernorm-variance-unsquared',
    target: 'core',
    file: `${C}layerNorm.ts`,
    from: 'const variance = tf.mean(tf.square(centred), -1, true);',
    to: 'const variance = tf.mean(tf.abs(centred), -1, true);',
    tests: [`${C}layerNorm.test.ts`],
  },
  {
    id: 'gelu-cubic-constant',
    target: 'core',
    file: `${C}activations.ts`,
    from: 'tf.mul(tf.mul(tf.square(x), x), 0.044715)',
    to: 'tf.mul(tf.mul(tf.square(x), x), 0.05)',
    tests: [`${C}activations.test.ts`],
  },
  {
    id: 'logsumexp-max-shift-dropped',
    target: 'core',
    file: `${C}logSoftmax.ts`,
    from: 'const m = tf.max(x, -1, true);',
    to: 'const m = tf.zerosLike(tf.max(x, -1, true));',
    tests: [`${C}logSoftmax.test.ts`],
  },
  {
    id: 'attention-scale-unsquared',
    target: 'core',
    file: `${C}attention.ts`,
    from: 'const scale = 1 / Math.sqrt(dh);',
    to: 'const scale = 1 / dh;',
    tests: [`${C}attention.test.ts`],
  },
  {
    id: 'rope-theta-exponent',
    target: 'core',
    file: `${C}rope.ts`,
    from: 'inv[i] = 1 / Math.pow(ropeTheta, (2 * i) / headDim);',
    to: 'inv[i] = 1 / Math.pow(ropeTheta, i / headDim);',
    tests: [`${C}rope.test.ts`],
  },
  {
    id: 'llama3-low-wavelen-product',
    target: 'core',
    file: `${C}rope.ts`,
    from: 'const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;',
    to: 'const lowWavelen = s.original_max_position_embeddings * s.low_freq_factor;',
    tests: [`${C}rope.test.ts`],
  },
  {
    id: 'token-log-probs-targets-any-rank',
    target: 'core',
    file: `${C}tokenLogProbs.ts`,
    from: "if (targets.rank !== 1 || targets.dtype !== 'int32'",
    to: "if (targets.dtype !== 'int32'",
    tests: [`${C}opsInputErrors.test.ts`],
  },
  {
    id: 'log-softmax-backward-axis-1',
    target: 'core',
    file: `${C}logSoftmax.ts`,
    from: 'tf.sum(dy as tf.Tensor, -1, true)))];',
    to: 'tf.sum(dy as tf.Tensor, 1, true)))];',
    tests: [`${C}logSoftmax.test.ts`],
  },
  {
    id: 'direct-matmul-fast-needs-native',
    target: 'core',
    file: `${C}matMulRouting.ts`,
    from: "return tf.getBackend() !== 'wasm' || isNativeMatmulEnabled();",
    to: "return tf.getBackend() !== 'wasm' && isNativeMatmulEnabled();",
    tests: [`${C}matMulRouting.paths.test.ts`],
  },
];

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const vitest = join(root, 'node_modules/vitest/vitest.mjs');

/** Runs `tests` (paths from the repository root) from the target library's folder; true when they pass. */
function testsPass(target, tests) {
  // from the library's folder, as `npm test` runs it (its config's paths are relative to it)
  const dir = join(root, targets[target].dir);
  const r = spawnSync(
    process.execPath,
    [vitest, 'run', '--reporter=dot', ...tests.map((t) => relative(dir, join(root, t)))],
    { cwd: dir, encoding: 'utf8', timeout: 600_000, env: { ...process.env, CI: '1' } },
  );
  return r.status === 0;
}

function runOne(m) {
  const path = join(root, m.file);
  const original = readFileSync(path, 'utf8');
  const at = original.indexOf(m.from);
  if (at < 0 || original.indexOf(m.from, at + 1) >= 0) {
    return { status: 'stale', detail: `'from' occurs ${at < 0 ? 0 : 'more than 1'} times` };
  }
  const restore = () => writeFileSync(path, original);
  const onSignal = () => {
    restore();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    writeFileSync(path, original.slice(0, at) + m.to + original.slice(at + m.from.length));
    const killed = !testsPass(m.target, m.tests);
    return { status: killed ? 'killed' : 'survived', detail: killed ? '' : 'tests passed' };
  } finally {
    restore();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const want = process.argv.slice(2);
  const chosen = handMutants.filter(
    (m) => want.length === 0 || want.includes(m.target) || want.includes(m.id),
  );
  const results = [];
  // a mutant only counts as killed by tests that pass on the unmutated code
  const baseline = new Map();
  for (const m of chosen) {
    const key = `${m.target} ${m.tests.join(' ')}`;
    if (!baseline.has(key)) baseline.set(key, testsPass(m.target, m.tests));
    if (!baseline.get(key)) {
      results.push({
        id: m.id,
        target: m.target,
        file: m.file,
        status: 'stale',
        detail: 'tests fail unmutated',
      });
      console.log(`stale    ${m.id}: its tests fail on the unmutated code`);
      continue;
    }
    const t0 = Date.now();
    const r = runOne(m);
    results.push({ id: m.id, target: m.target, file: m.file, ...r });
    console.log(
      `${r.status.padEnd(8)} ${m.id} (${m.file}, ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
    );
  }
  const count = (s) => results.filter((r) => r.status === s).length;
  console.log(
    `\nhand mutants: ${count('killed')} killed, ${count('survived')} survived, ${count('stale')} stale of ${results.length}`,
  );
  mkdirSync(join(root, 'reports/mutation'), { recursive: true });
  writeFileSync(join(root, 'reports/mutation/hand.json'), JSON.stringify(results, null, 2));
  process.exit(count('survived') + count('stale') > 0 ? 1 : 0);
}
