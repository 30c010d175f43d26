import * as tf from '@tensorflow/tfjs-core';
import { timeIt, type BenchCase, type BenchRecord } from '../benchCase';
import {
  BENCH_SHAPE,
  BENCH_VOCAB,
  QUICK_SHAPE,
  benchConfig,
  benchModel,
  tokenBatch,
} from '../benchModel';
import { forwardFlops } from '../flops';

/**
 * Reference log-prob pass: a frozen copy of the model computes per-token
 * log-probs of a batch (what DPO/GRPO run for the reference policy), no
 * gradients. Forward FLOPs as a fraction of the matMul peak.
 */
export const refLogProbsCase: BenchCase = {
  name: 'ref_logprobs',
  async run(ctx) {
    const { batch, seq } = ctx.quick ? QUICK_SHAPE : BENCH_SHAPE;
    const out: BenchRecord[] = [];
    for (const preset of ['tiny', 'small'] as const) {
      const policy = benchModel(preset);
      const ref = policy.frozenCopy();
      policy.dispose();
      const ids = tokenBatch(batch, seq, BENCH_VOCAB, 1);
      const targets = tokenBatch(batch, seq, BENCH_VOCAB, 2);
      const before = tf.memory().numTensors;
      const ms = await timeIt(
        async () => {
          const lp = ref.tokenLogProbs(ids, null, targets);
          await lp.data();
          lp.dispose();
        },
        ctx.quick ? 3 : 8,
      );
      const leaked = tf.memory().numTensors - before;
      ref.dispose();
      ids.dispose();
      targets.dispose();
      if (leaked !== 0) throw new Error(`ref_logprobs ${preset}: ${leaked} tensors leaked`);
      const gflops = forwardFlops(benchConfig(preset), batch, seq) / (ms * 1e6);
      out.push({
        name: 'ref_logprobs',
        backend: ctx.backend,
        preset,
        batch,
        seqLen: seq,
        value: (batch * seq) / (ms / 1000),
        unit: 'tokens/s',
        fractionOfPeak: gflops / ctx.peakGflops,
        torch: { mode: 'logprob', preset, vocab: BENCH_VOCAB, batch, seq },
        notes: `${ms.toFixed(0)} ms/pass, ${gflops.toFixed(1)} GFLOP/s`,
      });
    }
    return out;
  },
};
