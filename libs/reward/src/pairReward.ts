import type { RecordBatch } from 'apache-arrow';
import { concatMap, lastValueFrom, of } from 'rxjs';
import { z } from 'zod';
import { COLUMNS, RxrlDataError, addColumns, defineStage, type Stage } from '@rxrl/core/base';
import { readStrings } from './columns';
import { rewardStage, rewardStageShape } from './rewardStage';
import {
  NEEDS_ANSWER,
  owning,
  rewardFunctions,
  type RewardFunctionEntry,
  type RewardFunctionName,
} from './rewardFunctions';

/** The two responses of a preference pair, as text (DPO's pair batches carry them). */
export const PAIR_TEXT_COLUMNS = { chosen: 'chosen_text', rejected: 'rejected_text' } as const;
export type PairSide = keyof typeof PAIR_TEXT_COLUMNS;

/** `bonus/<name>/<side>`: a pair's bonus on one side's implicit reward (Float32). */
export function pairBonusColumn(name: string, side: PairSide): string {
  return `bonus/${name}/${side}`;
}

/** `margin/<name>`: a pair's margin, subtracted from the reward gap (Float32). */
export function pairMarginColumn(name: string): string {
  return `margin/${name}`;
}

/** What a column a `reward.pair` stage writes is: a bonus of one side, or a margin; null for any other column. */
export function parsePairColumn(
  column: string,
): { kind: 'bonus'; name: string; side: PairSide } | { kind: 'margin'; name: string } | null {
  const bonus = /^bonus\/(.+)\/(chosen|rejected)$/.exec(column);
  if (bonus) return { kind: 'bonus', name: bonus[1]!, side: bonus[2] as PairSide };
  const margin = /^margin\/(.+)$/.exec(column);
  return margin ? { kind: 'margin', name: margin[1]! } : null;
}

const functionNames = Object.keys(rewardFunctions) as [RewardFunctionName, ...RewardFunctionName[]];
const { name: _named, ...scoringShape } = rewardStageShape;

export const pairRewardOptions = z
  .strictObject({
    /** Column name part: `bonus/<name>/chosen` and `bonus/<name>/rejected`, or `margin/<name>`. */
    name: z.string().regex(/^[\w.-]+$/, 'letters, digits, _ . -'),
    /** The reward function that scores each response (`math`, `exact_match`, `format`, `length`, `js`, …). */
    type: z.enum(functionNames),
    /** Options of that reward function. */
    options: z.record(z.string(), z.unknown()).default({}),
    /** Multiplies the score: the guide's `math_weight` (bonus), or the margin's scale. */
    weight: z.number().default(1),
    /** The responses that get a bonus (the other side's column is 0): the guide's MathDPOTrainer scores the chosen only. */
    sides: z
      .array(z.enum(['chosen', 'rejected']))
      .min(1)
      .default(['chosen', 'rejected']),
    /**
     * `bonus`: weight·score(side) added to that side's implicit reward; `margin`:
     * weight·(score(chosen) − score(rejected)), which the reward gap must exceed.
     */
    output: z.enum(['bonus', 'margin']).default('bonus'),
    ...scoringShape,
  })
  .superRefine((o, ctx) => {
    const entry = rewardFunctions[o.type] as RewardFunctionEntry;
    const parsed = entry.schema.safeParse(o.options);
    if (!parsed.success)
      for (const issue of parsed.error.issues)
        ctx.addIssue({ code: 'custom', path: ['options', ...issue.path], message: issue.message });
    if (o.output === 'margin' && o.sides.length !== 2)
      ctx.addIssue({
        code: 'custom',
        path: ['sides'],
        message: 'a margin compares both responses: leave sides at [chosen, rejected]',
      });
  });
export type PairRewardOptions = z.infer<typeof pairRewardOptions>;

/** The columns a `reward.pair` node writes. */
export function pairRewardColumns(o: { name: string; output?: 'bonus' | 'margin' }): string[] {
  return o.output === 'margin'
    ? [pairMarginColumn(o.name)]
    : [pairBonusColumn(o.name, 'chosen'), pairBonusColumn(o.name, 'rejected')];
}

/**
 * `reward.pair`: scores both responses of each preference pair (`chosen_text`,
 * `rejected_text`, with `prompt_text`, `answer` and the row's other scalar columns) with
 * a reward function, and writes per-pair DPO terms as columns: bonuses
 * `bonus/<name>/chosen` = weight·score(chosen) and `bonus/<name>/rejected` =
 * weight·score(rejected) (0 on a side not in `sides`), or a margin `margin/<name>` =
 * weight·(score(chosen) − score(rejected)). A null score counts 0 and is counted
 * (`pair/<name>/nulls`); `pair/<name>/{chosen,rejected}_mean` are the mean scores.
 */
export function pairRewardStage(
  options: z.input<typeof pairRewardOptions>,
  onMetrics: (metrics: Record<string, number>) => void = () => {},
): Stage {
  const o = pairRewardOptions.parse(options);
  const fn = (rewardFunctions[o.type] as RewardFunctionEntry).create(
    (rewardFunctions[o.type] as RewardFunctionEntry).schema.parse(o.options),
  );
  const scorer = rewardStage(fn, { max_concurrency: o.max_concurrency, on_error: o.on_error });
  const scored: PairSide[] = o.output === 'margin' ? ['chosen', 'rejected'] : o.sides;

  const scoreSide = async (batch: RecordBatch, side: PairSide): Promise<Float32Array> => {
    const texts = readStrings(batch, PAIR_TEXT_COLUMNS[side]);
    if (!texts)
      throw new RxrlDataError(`reward.pair: the batch has no '${PAIR_TEXT_COLUMNS[side]}' column`, {
        field: PAIR_TEXT_COLUMNS[side],
      });
    if (batch.getChild(COLUMNS.completionText))
      throw new RxrlDataError(
        `reward.pair: the batch has a '${COLUMNS.completionText}' column; a pair batch scores '${PAIR_TEXT_COLUMNS.chosen}' and '${PAIR_TEXT_COLUMNS.rejected}'`,
        { field: COLUMNS.completionText },
      );
    const view = addColumns(batch, { [COLUMNS.completionText]: texts.map((t) => t ?? '') });
    const out = await lastValueFrom(of(view).pipe(scorer));
    return out.getChild(COLUMNS.reward)!.toArray() as Float32Array;
  };

  const scoreBatch = async (batch: RecordBatch): Promise<RecordBatch> => {
    const names = pairRewardColumns(o);
    for (const n of names)
      if (batch.getChild(n))
        throw new RxrlDataError(`reward.pair: the batch already has a '${n}' column`, { field: n });
    const scores: Partial<Record<PairSide, Float32Array>> = {};
    const metrics: Record<string, number> = {};
    let nulls = 0;
    for (const side of scored) {
      const values = await scoreSide(batch, side);
      let sum = 0;
      let count = 0;
      scores[side] = values.map((v) => {
        if (Number.isNaN(v)) {
          nulls++;
          return 0;
        }
        sum += v;
        count++;
        return v;
      });
      metrics[`pair/${o.name}/${side}_mean`] = count > 0 ? sum / count : NaN;
    }
    metrics[`pair/${o.name}/nulls`] = nulls;
    onMetrics(metrics);
    const n = batch.numRows;
    const weighted = (side: PairSide) =>
      scores[side] ? scores[side].map((v) => o.weight * v) : new Float32Array(n);
    const columns: Record<string, Float32Array> =
      o.output === 'margin'
        ? {
            [pairMarginColumn(o.name)]: Float32Array.from(
              { length: n },
              (_, i) => o.weight * (scores.chosen![i]! - scores.rejected![i]!),
            ),
          }
        : {
            [pairBonusColumn(o.name, 'chosen')]: weighted('chosen'),
            [pairBonusColumn(o.name, 'rejected')]: weighted('rejected'),
          };
    return addColumns(batch, columns);
  };

  return owning((source) => source.pipe(concatMap(scoreBatch)), [fn]);
}

/** `reward.pair` for a stage registry (DPO recipes name it in their `graph:`). */
export const pairRewardStageDefinition = defineStage({
  name: 'reward.pair',
  description:
    "scores each preference pair's chosen and rejected responses with a reward function; writes DPO bonus columns bonus/<name>/{chosen,rejected} or a margin column margin/<name>",
  schema: pairRewardOptions,
  requires: (o) => [
    PAIR_TEXT_COLUMNS.chosen,
    PAIR_TEXT_COLUMNS.rejected,
    ...(NEEDS_ANSWER.has(o.type) ? [COLUMNS.answer] : []),
  ],
  produces: pairRewardColumns,
  create(options, context) {
    return pairRewardStage(options, (m) => context.emit(m));
  },
});
