import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core';
import { Adam, AdamW, type OptimizerExtras } from './adam';
import type { NamedOptimizer } from './namedOptimizer';
import type { NamedVariables } from './namedVariables';
import { SGD } from './sgd';

/** NeMo RL `policy.optimizer`: `{ name: torch.optim.AdamW, kwargs: { lr, weight_decay, betas, eps } }`. */
export const OptimizerConfigSchema = z
  .object({
    /** torch optimizer class: AdamW, Adam or SGD (the `torch.optim.` prefix is optional) */
    name: z.string(),
    /** the optimizer's torch keyword arguments */
    kwargs: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** Builds an optimizer from a NeMo RL-style `policy.optimizer` section. */
export function createOptimizer(
  variables: NamedVariables,
  config: z.input<typeof OptimizerConfigSchema>,
  extras: OptimizerExtras = {},
): NamedOptimizer {
  const c = OptimizerConfigSchema.parse(config);
  const name = c.name.replace(/^torch\.optim\./, '');
  switch (name) {
    case 'AdamW':
      return new AdamW(variables, c.kwargs, extras);
    case 'Adam':
      return new Adam(variables, c.kwargs, extras);
    case 'SGD':
      return new SGD(variables, c.kwargs, extras);
    default:
      throw new RxrlConfigError(
        `policy.optimizer.name: '${c.name}' is not supported; expected torch.optim.AdamW, Adam or SGD`,
      );
  }
}
