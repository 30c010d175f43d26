import * as tf from '@tensorflow/tfjs-core';
import { attention, linear, tokenLogProbs } from '@rxrl/core';
import { timeIt, type BenchCase, type BenchRecord } from '../benchCase';
import { BENCH_SHAPE, BENCH_VOCAB, QUICK_SHAPE, benchConfig, tokenBatch } from '../benchModel';
import { lossGrads, nllLoss, trainStep } from '../trainStep';
import { trainRig } from './trainStep';

/** Median ms of a synchronous tensor computation, including reading one result back. */
function timeSync(fn: () => tf.Tensor[], iters: number, warmup = 2): Promise<number> {
  return timeIt(
    async () => {
      const ts = fn();
      await ts[0]!.data();
      tf.dispose(ts);
    },
    iters,
    warmup,
  );
}

/**
 * Where the `small` training step's time goes, two ways:
 *
 * - phases by wall time: forward (+ NLL), backward (= forward+backward − forward),
 *   AdamW (= full step − forward+backward);
 * - kernels by tf.profile over forward+backward: matMuls split into the linear
 *   layers / head (a dimension equals B·T) and attention (the per-head
 *   [T,Dh]×[Dh,T] products), the other kernels by name, and the time outside
 *   any kernel (JS, tape, tensor bookkeeping) = wall − Σ kernel times;
 * - components in isolation at the step's shapes: the fused log-prob op
 *   (forward+backward on [B·T, V] logits), the head matMul, attention (×layers).
 *
 * Values: phases and isolated components as a share of the full step time
 * (phases: the median of per-round shares, measured interleaved); kernels as
 * a share of the profiled forward+backward kernel time.
 */
export const trainProfileCase: BenchCase = {
  name: 'train_profile',
  async run(ctx) {
    const preset = 'small';
    const { batch, seq } = ctx.quick ? QUICK_SHAPE : BENCH_SHAPE;
    const cfg = benchConfig(preset);
    const iters = ctx.quick ? 2 : 4;
    const rig = trainRig(preset, batch, seq);
    await trainStep(rig);
    // Phases measured interleaved, round by round, so load swings on a shared
    // machine hit all three alike; shares are per-round, then the median.
    const rounds = ctx.quick ? 2 : 4;
    const shares: { fwd: number; bwd: number; adam: number; step: number; fwdBwd: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      const fwdMs = await timeSync(
        () => [tf.tidy(() => nllLoss(rig.model, rig.ids, rig.targets))],
        1,
        0,
      );
      const fbMs = await timeSync(() => Object.values(lossGrads(rig)), 1, 0);
      const stepMs = await timeIt(() => trainStep(rig), 1, 0);
      shares.push({
        fwd: fwdMs / stepMs,
        bwd: (fbMs - fwdMs) / stepMs,
        adam: (stepMs - fbMs) / stepMs,
        step: stepMs,
        fwdBwd: fbMs,
      });
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const step = med(shares.map((x) => x.step));
    const fwdBwd = med(shares.map((x) => x.fwdBwd));

    // Kernel profile of forward + backward (profiling adds per-kernel overhead,
    // so shares are taken against the profiled kernels' own sum and the
    // unprofiled wall time above).
    const info = await tf.profile(() => {
      tf.dispose(Object.values(lossGrads(rig)));
    });
    const tokens = batch * seq;
    const byCat = new Map<string, number>();
    for (const k of info.kernels) {
      // custom-gradient ops show up as 'unnamed scope' around kernels that are
      // themselves recorded; counting both would count their time twice
      if (k.name === 'unnamed scope') continue;
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      let cat = k.name;
      if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul') {
        cat = k.inputShapes.some((s) => s?.includes(tokens))
          ? 'matMul (linear + head)'
          : 'matMul (attention)';
      }
      byCat.set(cat, (byCat.get(cat) ?? 0) + ms);
    }
    const kernelSum = [...byCat.values()].reduce((a, b) => a + b, 0);
    rig.dispose();

    // Components in isolation, forward + backward, at the step's shapes.
    const n = tokens;
    const logits = tf.variable(tf.randomNormal([n, BENCH_VOCAB]), true);
    const h = tf.variable(tf.randomNormal([n, cfg.hiddenSize]), true);
    const head = tf.variable(tf.randomNormal([cfg.hiddenSize, BENCH_VOCAB], 0, 0.02), true);
    const tgt2 = tokenBatch(1, n, BENCH_VOCAB, 3);
    const tgt = tf.reshape(tgt2, [n]) as tf.Tensor1D;
    tgt2.dispose();
    const logProbOp = await timeSync(
      () =>
        Object.values(
          tf.variableGrads(
            () => tf.sum(tokenLogProbs(logits as tf.Tensor as tf.Tensor2D, tgt)) as tf.Scalar,
            [logits],
          ).grads,
        ),
      iters,
    );
    const headMatMul = await timeSync(
      () =>
        Object.values(
          tf.variableGrads(
            () =>
              tf.sum(
                linear(h as tf.Tensor as tf.Tensor2D, head as tf.Tensor as tf.Tensor2D),
              ) as tf.Scalar,
            [h, head],
          ).grads,
        ),
      iters,
    );
    const q = tf.variable(tf.randomNormal([batch, seq, cfg.numHeads, cfg.headDim]), true);
    const k = tf.variable(tf.randomNormal([batch, seq, cfg.numKvHeads, cfg.headDim]), true);
    const v = tf.variable(tf.randomNormal([batch, seq, cfg.numKvHeads, cfg.headDim]), true);
    const attn = await timeSync(
      () =>
        Object.values(
          tf.variableGrads(
            () =>
              tf.sum(
                attention(
                  q as tf.Tensor as tf.Tensor4D,
                  k as tf.Tensor as tf.Tensor4D,
                  v as tf.Tensor as tf.Tensor4D,
                ),
              ) as tf.Scalar,
            [q, k, v],
          ).grads,
        ),
      iters,
    );
    tf.dispose([logits, h, head, tgt, q, k, v]);

    const rec = (name: string, ms: number, notes: string): BenchRecord => ({
      name: `train_profile/${name}`,
      backend: ctx.backend,
      preset,
      batch,
      seqLen: seq,
      value: ms / step,
      unit: 'fraction',
      notes: `${ms.toFixed(1)} ms of ${step.toFixed(0)} ms step; ${notes}`,
    });
    const phase = (name: string, share: number, notes: string): BenchRecord => ({
      ...rec(name, share * step, notes),
      value: share,
    });
    const out: BenchRecord[] = [
      phase('phase_forward', med(shares.map((x) => x.fwd)), 'forward + NLL'),
      phase('phase_backward', med(shares.map((x) => x.bwd)), 'fwd+bwd − fwd'),
      phase('phase_adamw', med(shares.map((x) => x.adam)), 'step − fwd+bwd'),
    ];
    const sorted = [...byCat].sort((a, b) => b[1] - a[1]);
    const shown = sorted.slice(0, 8);
    const rest = sorted.slice(8).reduce((a, [, ms]) => a + ms, 0);
    // Kernel shares are of the profiled kernels' own sum (robust to load swings);
    // the ms shown are that share of the median unprofiled fwd+bwd wall time.
    const kernel = (name: string, ms: number): BenchRecord => ({
      ...rec(
        name,
        (ms / kernelSum) * fwdBwd,
        `${((100 * ms) / kernelSum).toFixed(1)}% of fwd+bwd kernel time`,
      ),
      value: ms / kernelSum,
    });
    for (const [cat, ms] of shown) out.push(kernel(`kernel ${cat}`, ms));
    out.push(kernel('kernel (other kernels)', rest));
    out.push(
      rec(
        'outside kernels (fwd+bwd)',
        Math.max(0, fwdBwd - kernelSum),
        `fwd+bwd wall ${fwdBwd.toFixed(0)} ms − Σ kernels ${kernelSum.toFixed(0)} ms (profiled)`,
      ),
    );
    out.push(
      rec(
        'isolated log-prob op',
        logProbOp,
        `tokenLogProbs fwd+bwd on [${n}, ${BENCH_VOCAB}] logits`,
      ),
    );
    out.push(
      rec(
        'isolated head matMul',
        headMatMul,
        `linear fwd+bwd [${n}, ${cfg.hiddenSize}]×[${cfg.hiddenSize}, ${BENCH_VOCAB}]`,
      ),
    );
    out.push(
      rec(
        'isolated attention',
        attn * cfg.numLayers,
        `attention fwd+bwd × ${cfg.numLayers} layers (${attn.toFixed(1)} ms each)`,
      ),
    );
    return out;
  },
};
