import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core';

/** torch.optim.AdamW / Adam keyword arguments (NeMo RL `policy.optimizer.kwargs`). */
export const AdamOptionsSchema = z
  .object({
    /** base learning rate */
    lr: z.number().positive().default(1e-3),
    /** (beta1, beta2): decay rates of the first and second moment estimates */
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
    /** added to the bias-corrected sqrt of the second moment */
    eps: z.number().nonnegative().default(1e-8),
    /** AdamW: decoupled decay p *= 1 - lr * weight_decay (torch default 0.01); Adam: L2 term added to the gradient (torch default 0) */
    weight_decay: z.number().nonnegative().optional(),
    /** accepted so NeMo RL configs load as they are; no effect here */
    foreach: z.boolean().optional(),
    /** accepted so NeMo RL configs load as they are; no effect here */
    fused: z.boolean().optional(),
  })
  .strict();

/** torch.optim.SGD keyword arguments. */
export const SgdOptionsSchema = z
  .object({
    /** base learning rate */
    lr: z.number().positive().default(1e-3),
    /** momentum factor (0 = plain SGD) */
    momentum: z.number().min(0).default(0),
    /** dampening of the gradient added to the momentum buffer (not applied on the first step, as torch) */
    dampening: z.number().min(0).max(1).default(0),
    /** L2 term added to the gradient */
    weight_decay: z.number().nonnegative().default(0),
    /** Nesterov momentum (needs momentum > 0 and dampening 0, as torch) */
    nesterov: z.boolean().default(false),
  })
  .strict()
  .refine((o) => !o.nesterov || (o.momentum > 0 && o.dampening === 0), {
    message: 'nesterov needs momentum > 0 and dampening 0',
    path: ['nesterov'],
  });

/** Validated Adam / AdamW options (weight_decay defaulted by the class). */
export type AdamOptions = z.infer<typeof AdamOptionsSchema>;
/** Validated SGD options. */
export type SgdOptions = z.infer<typeof SgdOptionsSchema>;

/** Parses options with `schema`, throwing an RxrlConfigError naming each bad key under `what`. */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  options: unknown,
  what: string,
): z.infer<S> {
  const parsed = schema.safeParse(options ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${[what, ...i.path].join('.')}: ${i.message}`)
      .join('; ');
    throw new RxrlConfigError(`invalid ${what} options: ${issues}`);
  }
  return parsed.data;
}
