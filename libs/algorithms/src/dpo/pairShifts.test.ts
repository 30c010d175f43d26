import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigValidationError } from '@rxrl/config';
import { makeRecordBatch } from '@rxrl/core/base';
import { useBackend } from '@rxrl/core';
import { validateStepGraph } from '../shared/stepGraph';
import { builtinStageRegistry } from '../builtinStages';
import { dpoSections } from './dpoSections';
import { PREFERENCE_SOURCE_COLUMNS } from './pairBatch';
import { pairShiftProblems, pairShiftsOf } from './pairShifts';

const registry = builtinStageRegistry();
const nodes = (spec: { stage: string; options?: Record<string, unknown> }[]) =>
  validateStepGraph(spec, { registry, sourceColumns: PREFERENCE_SOURCE_COLUMNS });
const bonus = { stage: 'reward.pair', options: { name: 'math', type: 'math', sides: ['chosen'] } };
const step = { stage: 'optimizer.step' };

/** The recipe's issue lines (`key.path: message`), or [] when it validates. */
function issues(recipe: Record<string, unknown>): string[] {
  const policy = { init: { preset: 'tiny' }, tokenizer: { name: 'builtin' } };
  try {
    dpoSections.validate({ policy, ...recipe });
    return [];
  } catch (e) {
    if (!(e instanceof ConfigValidationError)) throw e;
    return e.issues.map((i) => `${i.keyPath.join('.')}: ${i.problem}`);
  }
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('DPO bonuses and margins from the batch', () => {
  it("pairShiftsOf: the micro-batch's rows of each bonus side and margin; a missing side counts 0", () => {
    const batch = makeRecordBatch({
      'bonus/a/chosen': Float32Array.from([1, 2, 3, 4]),
      'bonus/a/rejected': Float32Array.from([0.5, 0, 0, 1]),
      'bonus/b/chosen': Float32Array.from([7, 8, 9, 10]),
      'margin/m': Float32Array.from([0.1, 0.2, 0.3, 0.4]),
      other: Float32Array.from([9, 9, 9, 9]),
    });
    const before = tf.memory().numTensors;
    const s = pairShiftsOf(batch, [1, 3]);
    const read = (t: tf.Tensor | undefined) => Array.from(t!.dataSync());
    expect(Object.keys(s.bonuses!)).toEqual(['a', 'b']);
    expect(read(s.bonuses!['a']!.chosen)).toEqual([2, 4]);
    expect(read(s.bonuses!['a']!.rejected)).toEqual([0, 1]);
    expect(read(s.bonuses!['b']!.chosen)).toEqual([8, 10]);
    expect(read(s.bonuses!['b']!.rejected)).toEqual([0, 0]);
    expect(read(s.margins!['m'])).toEqual([Math.fround(0.2), Math.fround(0.4)]);
    tf.dispose([
      ...Object.values(s.bonuses!).flatMap((b) => [b.chosen, b.rejected]),
      ...Object.values(s.margins!),
    ]);
    expect(tf.memory().numTensors).toBe(before);
    // a batch without them: the plain loss's inputs
    expect(pairShiftsOf(makeRecordBatch({ other: Float32Array.from([1]) }), [0])).toEqual({});
  });

  it('pairShiftProblems: a scoring node after the loss, a named objective, a loss type without β·Δ', () => {
    const ref = { stage: 'policy.reference_logprobs' };
    expect(pairShiftProblems(nodes([ref, bonus, { stage: 'loss.dpo' }, step]))).toEqual([]);
    // the default graph has none to check
    expect(pairShiftProblems(nodes([ref, { stage: 'loss.dpo' }, step]))).toEqual([]);
    expect(pairShiftProblems(nodes([ref, { stage: 'loss.dpo' }, bonus, step]))).toEqual([
      { node: 2, key: 'stage', message: expect.stringMatching(/after the loss node loss\.dpo/) },
    ]);
    expect(pairShiftProblems(nodes([bonus, { stage: 'loss.orpo' }, step]))).toEqual([
      { node: 1, key: 'stage', message: expect.stringMatching(/loss\.orpo does not read them/) },
    ]);
    expect(
      pairShiftProblems(
        nodes([ref, bonus, { stage: 'loss.dpo', options: { loss_type: ['ipo', 'sft'] } }, step]),
      ),
    ).toEqual([
      { node: 2, key: 'loss_type', message: expect.stringMatching(/which ipo does not use/) },
    ]);
    // sft beside a loss type of β·Δ is fine; sft alone has no pair logit
    expect(
      pairShiftProblems(
        nodes([
          ref,
          bonus,
          { stage: 'loss.dpo', options: { loss_type: ['sigmoid', 'sft'], loss_weights: [1, 1] } },
          step,
        ]),
      ),
    ).toEqual([]);
    expect(
      pairShiftProblems(
        nodes([ref, bonus, { stage: 'loss.dpo', options: { loss_type: 'sft' } }, step]),
      ),
    ).toHaveLength(1);
  });

  it('the recipe check runs once on the resolved graph and names the key that sets the fault', () => {
    const graph = [{ stage: 'policy.reference_logprobs' }, bonus, { stage: 'loss.dpo' }, step];
    expect(issues({ graph })).toEqual([]);
    // loss.dpo takes loss_type from the dpo keys, or from its own options
    expect(issues({ graph, dpo: { loss_type: 'ipo' } })).toEqual([
      expect.stringMatching(/^dpo\.loss_type: .*which ipo does not use/),
    ]);
    const own = [graph[0]!, bonus, { stage: 'loss.dpo', options: { loss_type: 'ipo' } }, step];
    expect(issues({ graph: own })).toEqual([
      expect.stringMatching(/^graph\.2\.options\.loss_type: .*which ipo does not use/),
    ]);
    expect(issues({ graph: [graph[0]!, graph[2]!, bonus, step] })).toEqual([
      expect.stringMatching(/^graph\.2\.stage: reward\.pair writes bonus \/ margin columns after/),
    ]);
    expect(issues({ graph: [bonus, { stage: 'loss.orpo' }, step] })).toEqual([
      expect.stringMatching(/^graph\.1\.stage: .*loss\.orpo does not read them/),
    ]);
    // a graph of the scoring stage alone (the one-off pass over the pairs of before) is no training graph
    expect(issues({ graph: [bonus] })).toEqual([
      expect.stringMatching(/^graph: a training graph has one loss node/),
    ]);
  });
});
