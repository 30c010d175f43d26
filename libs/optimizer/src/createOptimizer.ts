import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core';
import { Adam, AdamW, type OptimizerExtras } from './adam';
import type { NamedOptimizer } from './namedOptimizer';
import type { NamedVariables } from './namedVariables';
import { SGD } from './sgd';
import { AdamOptionsSchema, SgdOptionsSchema } from './optimizerOptions';

/** NeMo RL `policy.optimizer`: `{ name: torch.optim.AdamW, kwargs: { lr, weight_decay, betas, eps } }`. */
export const OptimizerConfigSchema = z
  .object({
    /** torch optimizer class: AdamW, Adam or SGD (the `torch.optim.` prefix is optional) */
    name: z.string(),
    /** the optimizer's torch keyword arguments */
    kwargs: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  // kwargs checked against the named optimizer here, so a bad lr is a config error before any work
  .superRefine((c, ctx) => {
    const name = c.name.replace(/^torch\.optim\./, '');
    const schema =
      name === 'SGD'
        ? SgdOptionsSchema
        : name === 'AdamW' || name === 'Adam'
          ? AdamOptionsSchema
          : null;
    if (schema === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['name'],
        message: 'expected torch.optim.AdamW, Adam or SGD',
      });
      return;
    }
    const r = schema.safeParse(c.kwargs);
    if (!r.success) {
      for (const issue of r.error.issues) {
        if (issue.code === 'unrecognized_keys') {
          for (const key of issue.keys)
            ctx.addIssue({
              code: 'custom',
              path: ['kwargs', key],
              message: `not a keyword argument of torch.optim.${name}`,
            });
        } else ctx.addIssue({ ...issue, path: ['kwargs', ...issue.path] } as never);
      }
    }
  });

/** Builds an optimizer from a NeMo RL-style `policy.optimizer` section. */
export function createOptimizer(
  variables: NamedVariables,
  config: z.input<typeof OptimizerConfigSchema>,
  extras: OptimizerExtras = {},
): NamedOptimizer {
  const parsed = OptimizerConfigSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RxrlConfigError(`policy.optimizer.${issue.path.join('.')}: ${issue.message}`);
  }
  const c = parsed.data;
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
