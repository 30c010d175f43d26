import { defineSections } from '@rxrl/config';
import { loggerSchema, seedSchema } from './runSections';

/**
 * The sections every algorithm's recipe shares. A recipe for an algorithm is
 * validated with that algorithm's sections (`sftSections`, `dpoSections`,
 * `grpoSections` from @rxrl/algorithms); these alone check a recipe that holds
 * nothing else, such as configs/base.yaml, which the algorithm recipes extend.
 */
export const configSections = defineSections({
  seed: seedSchema,
  logger: loggerSchema,
});
