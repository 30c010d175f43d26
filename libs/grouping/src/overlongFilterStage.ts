import { map } from 'rxjs';
import { z } from 'zod';
import { COLUMNS, RxrlDataError, addColumns, defineStage } from '@rxrl/core/base';
import { readFinishReasons } from './advantages/advantageColumns';

/**
 * `filter.overlong` (DAPO overlong filtering, NeMo RL's `overlong_filtering`):
 * samples cut off at `max_new_tokens` (`finish_reason` `length`) get
 * `sample_mask` 0, so they leave the loss but still count in the batch's
 * reward metrics. Rows are kept; the mask is a new column (a batch that already
 * has one is an error: a stage never rewrites a column it did not make).
 */
export const overlongFilterStage = defineStage({
  name: 'filter.overlong',
  description: "sample_mask 0 for truncated samples (finish_reason 'length'), 1 otherwise",
  schema: z.strictObject({}),
  requires: [COLUMNS.finishReason],
  produces: [COLUMNS.sampleMask],
  create() {
    return map((batch) => {
      if (batch.getChild(COLUMNS.sampleMask)) {
        throw new RxrlDataError(
          `filter.overlong: the batch already has a '${COLUMNS.sampleMask}' column`,
          { field: COLUMNS.sampleMask },
        );
      }
      const finish = readFinishReasons(batch);
      const mask = Float32Array.from(finish, (f) => (f === 'length' ? 0 : 1));
      return addColumns(batch, { [COLUMNS.sampleMask]: mask });
    });
  },
});
