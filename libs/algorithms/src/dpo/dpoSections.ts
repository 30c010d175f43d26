import { defineSections } from '@rxrl/config';
import { checkpointingSchema } from '@rxrl/checkpoint';
import { DPO_SHIFTABLE_LOSS_TYPES } from '@rxrl/loss';
import { graphSchema } from '@rxrl/pipeline';
import { policySchema } from '../shared/policyOptions';
import { loggerSchema, seedSchema } from '../shared/runSections';
import { dpoDataSchema, dpoSchema } from './dpoOptions';

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
     * stages run once over the preference pairs before training, e.g. `reward.pair`, whose
     * `bonus/<name>/chosen|rejected` and `margin/<name>` columns the DPO loss adds to the
     * pair's logit; null: none
     */
    graph: graphSchema.nullable().default(null),
  },
  (c) => {
    if (c.graph === null || c.graph.length === 0) return [];
    const issues: { path: (string | number)[]; message: string }[] = [];
    if (c.dpo.objective !== null)
      issues.push({
        path: ['dpo', 'objective'],
        message: `the graph's bonus and margin columns enter the DPO loss (dpo.loss_type); dpo.objective ${c.dpo.objective.name} does not read them`,
      });
    const types = Array.isArray(c.dpo.loss_type) ? c.dpo.loss_type : [c.dpo.loss_type];
    const other = types.filter((t) => t !== 'sft' && !DPO_SHIFTABLE_LOSS_TYPES.includes(t));
    if (other.length > 0 || types.every((t) => t === 'sft'))
      issues.push({
        path: ['dpo', 'loss_type'],
        message: `the graph's bonuses and margins shift the pair logit β·Δ, which ${(other.length > 0 ? other : types).join(', ')} does not use; use ${DPO_SHIFTABLE_LOSS_TYPES.join(', ')}`,
      });
    return issues;
  },
);
