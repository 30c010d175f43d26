import { defineSections, type CrossSectionIssue } from '@rxrl/config';
import { graphSchema, type GraphSpec, type ValidatedNode } from '@rxrl/pipeline';
import { stepGraphCheck } from '../shared/stepGraph';
import { PREFERENCE_SOURCE_COLUMNS } from './pairBatch';
import { pairShiftProblems } from './pairShifts';
import { dpoGraphSpec } from './dpoGraph';
import { checkpointingSchema } from '@rxrl/checkpoint';
import { policySchema } from '../shared/policyOptions';
import { loggerSchema, seedSchema } from '../shared/runSections';
import { dpoDataSchema, dpoSchema } from './dpoOptions';

/**
 * The bonus and margin checks (`pairShiftProblems`) at the recipe keys that set what
 * they fault: a node of `graph:`, or `dpo.loss_type` when the loss node takes it from there.
 */
function pairShiftIssues(
  config: { graph: GraphSpec | null },
  nodes: readonly ValidatedNode[],
): CrossSectionIssue[] {
  return pairShiftProblems(nodes).map((p) => {
    const node = config.graph?.[p.node];
    const own = node && 'options' in node && node.options?.['loss_type'] !== undefined;
    const path =
      p.key === 'stage'
        ? ['graph', p.node, 'stage']
        : own
          ? ['graph', p.node, 'options', 'loss_type']
          : ['dpo', 'loss_type'];
    return { path, message: p.message };
  });
}

/** The sections of a DPO recipe; `dpoSections.validate(recipe)` gives the config `runDpo` takes. */
export const dpoSections = defineSections(
  {
    seed: seedSchema,
    logger: loggerSchema,
    policy: policySchema,
    dpo: dpoSchema.prefault({}),
    data: dpoDataSchema.prefault({}),
    checkpointing: checkpointingSchema.prefault({}),
    /**
     * the per-step graph; null: [policy.reference_logprobs] → loss.dpo (or
     * loss.<dpo.objective.name>) → optimizer.step from the keys above. A `reward.pair`
     * node before the loss writes bonus / margin columns that loss.dpo adds to the pair logit.
     */
    graph: graphSchema.nullable().default(null),
  },
  // the cross-checks, once, on the resolved graph
  stepGraphCheck(dpoGraphSpec, PREFERENCE_SOURCE_COLUMNS, pairShiftIssues),
);
