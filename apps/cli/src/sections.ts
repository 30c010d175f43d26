import { defineSections } from '@rxrl/config';
import { loggerSchema, seedSchema } from './runSections';

/**
 * Every config section the CLI knows, each schema owned by the library that reads
 * it. A library adds its section with one line here (`grpo: grpoSchema,`); keys of
 * sections not listed are rejected as unknown.
 */
export const configSections = defineSections({
  seed: seedSchema,
  logger: loggerSchema,
});
