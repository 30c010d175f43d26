import type { CausalLM } from '@rxrl/model';
import type { MoreBatches, StepResult, TrainingAlgorithm } from '@rxrl/pipeline';
import type { WorkerGenerator } from './workerGenerator';

/**
 * `algorithm` with its generation on `generator`'s thread: after every step (and
 * after a checkpoint is loaded) the policy's new weights are published to the
 * worker, and the step's metrics gain the worker's counters:
 * `train/generation_worker/{prefetch_hits,prefetch_misses,prefetch_dropped,mean_staleness,busy_s}`.
 */
export function withGenerationWorker<B>(
  algorithm: TrainingAlgorithm<B>,
  generator: WorkerGenerator,
  model: CausalLM,
): TrainingAlgorithm<B> {
  let last = { ...generator.counters };
  return {
    trainStep: async (batch: B, step: number, more: MoreBatches<B>): Promise<StepResult> => {
      const r = await algorithm.trainStep(batch, step, more);
      generator.publish(model);
      const c = generator.counters;
      const hits = c.hits - last.hits;
      const metrics = {
        ...r.metrics,
        'train/generation_worker/prefetch_hits': hits,
        'train/generation_worker/prefetch_misses': c.misses - last.misses,
        'train/generation_worker/prefetch_dropped': c.dropped - last.dropped,
        'train/generation_worker/mean_staleness':
          hits === 0 ? 0 : (c.staleness - last.staleness) / hits,
        'train/generation_worker/busy_s': c.workerSeconds - last.workerSeconds,
      };
      last = { ...c };
      return { ...r, metrics };
    },
    ...(algorithm.validate ? { validate: (step: number) => algorithm.validate!(step) } : {}),
    saveState: () => algorithm.saveState(),
    loadState: async (files: Record<string, Uint8Array>) => {
      await algorithm.loadState(files);
      generator.publish(model);
    },
  };
}
