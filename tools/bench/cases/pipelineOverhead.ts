import * as tf from '@tensorflow/tfjs-core';
import {
  addColumns,
  listVector,
  makeRecordBatch,
  readFloat32Column,
  readListColumn,
} from '@rxrl/core/base';
import type { RecordBatch } from 'apache-arrow';
import { concatMap, from, lastValueFrom, map, reduce } from 'rxjs';
import type { BenchCase, BenchRecord } from '../benchCase';
import { BENCH_SHAPE, QUICK_SHAPE } from '../benchModel';
import { stepTimes } from '../stepTimes';
import { trainStep } from '../trainStep';
import { trainRig } from './trainStep';

/** Precomputed payloads, so the timing holds only the plumbing, not the work. */
function payloads(batch: number, promptLen: number, completionLen: number) {
  const off = (len: number) => Int32Array.from({ length: batch + 1 }, (_, i) => i * len);
  return {
    promptId: Int32Array.from({ length: batch }, (_, i) => i),
    prompt: Int32Array.from({ length: batch * promptLen }, (_, i) => i % 97),
    promptOffsets: off(promptLen),
    completion: Int32Array.from({ length: batch * completionLen }, (_, i) => i % 89),
    completionOffsets: off(completionLen),
    logprobs: new Float32Array(batch * completionLen).fill(-1),
    reward: Float32Array.from({ length: batch }, (_, i) => i % 2),
  };
}

/**
 * One step-shaped batch through the stages a GRPO step passes it through, with
 * the work itself taken out: build the prompt columns, add completion and
 * log-prob columns (rollout), a reward column, an advantage column computed
 * from it, then collate prompt+completion into `[B, T]` ids and build the
 * tensors the trainer would (and dispose them). Returns the mean ms per batch.
 */
async function plumbingMs(batch: number, seq: number, batches: number): Promise<number> {
  const promptLen = Math.floor(seq / 4);
  const p = payloads(batch, promptLen, seq - promptLen);
  const run = () =>
    lastValueFrom(
      from(Array.from({ length: batches }, (_, i) => i)).pipe(
        map(() =>
          makeRecordBatch({
            prompt_id: p.promptId,
            prompt_tokens: listVector(p.prompt, p.promptOffsets),
          }),
        ),
        concatMap(async (b: RecordBatch) =>
          addColumns(b, {
            completion_tokens: listVector(p.completion, p.completionOffsets),
            gen_logprobs: listVector(p.logprobs, p.completionOffsets),
          }),
        ),
        map((b) => addColumns(b, { reward: p.reward })),
        map((b) => {
          const r = readFloat32Column(b, 'reward');
          let mean = 0;
          for (const x of r) mean += x / r.length;
          return addColumns(b, { advantage: r.map((x) => x - mean) });
        }),
        concatMap(async (b) => {
          const prompt = readListColumn(b, 'prompt_tokens', 'int32');
          const completion = readListColumn(b, 'completion_tokens', 'int32');
          const logprobs = readListColumn(b, 'gen_logprobs', 'float32');
          const adv = readFloat32Column(b, 'advantage');
          const rows = b.numRows;
          const ids = new Int32Array(rows * seq);
          for (let r = 0; r < rows; r++) {
            const ps = prompt.values.subarray(prompt.offsets[r], prompt.offsets[r + 1]);
            const cs = completion.values.subarray(completion.offsets[r], completion.offsets[r + 1]);
            ids.set(ps, r * seq);
            ids.set(cs.subarray(0, seq - ps.length), r * seq + ps.length);
          }
          const tensors = [
            tf.tensor2d(ids, [rows, seq], 'int32'),
            tf.tensor2d(logprobs.values, [rows, logprobs.values.length / rows]),
            tf.tensor1d(adv),
          ];
          await tensors[0]!.data();
          tf.dispose(tensors);
          return 1;
        }),
        reduce((n, x) => n + x, 0),
      ),
    );
  await run(); // warm the JIT
  const t0 = performance.now();
  const n = await run();
  return (performance.now() - t0) / n;
}

/**
 * Pipeline overhead: time in RxJS + Arrow plumbing for a step-shaped batch, as
 * a fraction of the same-shaped training step measured earlier in the run
 * (train_step), or measured here when that case did not run.
 */
export const pipelineOverheadCase: BenchCase = {
  name: 'pipeline_overhead',
  async run(ctx) {
    const { batch, seq } = ctx.quick ? QUICK_SHAPE : BENCH_SHAPE;
    const ms = await plumbingMs(batch, seq, ctx.quick ? 200 : 1000);
    const out: BenchRecord[] = [];
    for (const preset of ['tiny', 'small'] as const) {
      let step = stepTimes.get(preset);
      if (!step || step.batch !== batch || step.seq !== seq) {
        const rig = trainRig(preset, batch, seq);
        await trainStep(rig);
        const t0 = performance.now();
        await trainStep(rig);
        step = { ms: performance.now() - t0, batch, seq };
        rig.dispose();
      }
      out.push({
        name: 'pipeline_overhead',
        backend: ctx.backend,
        preset,
        batch,
        seqLen: seq,
        value: ms / step.ms,
        unit: 'fraction',
        notes: `${(ms * 1000).toFixed(0)} µs plumbing per batch vs ${step.ms.toFixed(0)} ms train step`,
      });
    }
    return out;
  },
};
