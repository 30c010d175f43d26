import { createOptimizer, isNormOrBias, LrScheduler, type NamedOptimizer } from '@rxrl/optimizer';
import { RxrlConfigError } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import type { PolicyOptions } from './policyOptions';

/** The optimizer of `policy.optimizer` + `policy.scheduler` over the model's trainable variables (no decay on norms and biases). */
export function buildOptimizer(
  model: CausalLM,
  policy: Pick<PolicyOptions, 'optimizer' | 'scheduler'>,
): NamedOptimizer {
  const lr = policy.optimizer.kwargs['lr'];
  if (typeof lr !== 'number' || !(lr > 0)) {
    throw new RxrlConfigError(
      `policy.optimizer.kwargs.lr = ${JSON.stringify(lr)}; expected a positive number`,
    );
  }
  return createOptimizer(Object.fromEntries(model.trainableVariables()), policy.optimizer, {
    scheduler: new LrScheduler(lr, policy.scheduler),
    paramGroups: [{ match: isNormOrBias, weight_decay: 0 }],
  });
}
