import type { CausalLM } from '@rxrl/model';
import { sftNllLoss } from '../sftNllLoss';
import type { TrainBatch } from '../trainBatch';

/** Test fixture: the SFT loss, except that a shard whose globals set `fail_on_rows` to its row count throws. */
export function failingLoss(model: CausalLM, shard: TrainBatch) {
  if (shard.globals?.['fail_on_rows'] === shard.rows)
    throw new Error(`injected failure on a shard of ${shard.rows} rows`);
  return sftNllLoss(model, shard);
}
