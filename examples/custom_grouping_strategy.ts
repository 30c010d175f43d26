/**
 * A custom group formation strategy in a few lines: group completions by length
 * bucket, register it by name, and run it as the `grouping.form_groups` stage over
 * an Arrow batch, printing the groups and their quality metrics.
 *
 *   node --import tsx examples/custom_grouping_strategy.ts
 */
import { firstValueFrom, of } from 'rxjs';
import { z } from 'zod';
import { listVectorFromRows, makeRecordBatch, readInt32Column } from '@rxrl/core/base';
import {
  groupQualityMetrics,
  groupingStage,
  readGroupingInput,
  registerGroupingStrategy,
} from '@rxrl/grouping';

// 1. The strategy: one group id per sample. Sizes are fitted to min/max_group_size afterwards.
registerGroupingStrategy(
  'length_bucket',
  (samples, options) =>
    Int32Array.from(samples.completionLengths!, (len) =>
      Math.min(Math.floor(len / options.bucket), 9),
    ),
  z.strictObject({ bucket: z.int().min(1).default(8) }),
);

// 2. A batch as the rollout and reward stages leave it: 2 prompts x 4 completions.
const completions = [
  [1, 2, 3],
  [4, 5, 6, 7, 8, 9, 10, 11, 12],
  [13, 14],
  [15, 16, 17, 18, 19, 20, 21, 22, 23, 24],
  [25, 26, 27, 28],
  [29, 30, 31, 32, 33, 34, 35, 36, 37],
  [38],
  [39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49],
];
const batch = makeRecordBatch({
  prompt_id: Int32Array.of(0, 0, 0, 0, 1, 1, 1, 1),
  reward: Float32Array.of(1, 0, 1, 0, 1, 1, 0, 0),
  completion_tokens: listVectorFromRows(completions.map((c) => Int32Array.from(c))),
});

// 3. Run it as a stage, as a recipe would name it: { strategy: length_bucket, options: { bucket: 8 } }.
const stage = groupingStage({
  strategy: 'length_bucket',
  options: { bucket: 8 },
  min_group_size: 2,
});
const out = await firstValueFrom(of(batch).pipe(stage));
const groupIds = readInt32Column(out, 'group_id');
const lengths = readGroupingInput(out).completionLengths!;

console.log('length  reward  prompt  group');
for (let i = 0; i < out.numRows; i++) {
  const row = [
    lengths[i],
    batch.getChild('reward')!.get(i),
    batch.getChild('prompt_id')!.get(i),
    groupIds[i],
  ];
  console.log(row.map((v) => String(v).padStart(6)).join('  '));
}
console.log(groupQualityMetrics({ groupIds, rewards: readGroupingInput(out).rewards }));
