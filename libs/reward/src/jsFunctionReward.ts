import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { RxrlDataError } from '@rxrl/core/base';
import {
  RewardFatalError,
  type RewardContext,
  type RewardFn,
  type RewardSample,
  type RewardValue,
} from './sample';

/** Options of `reward.js`: a user function loaded from a module, run in this thread. */
export const jsFunctionOptions = z.strictObject({
  /** Path (relative to the working directory) or URL of the module. */
  module: z.string().min(1),
  /** Name of the exported function. */
  export: z.string().min(1).default('default'),
});

/** A module specifier as an importable URL (paths relative to the working directory). */
export function moduleUrl(module: string): string {
  if (/^(?:file|data|node):/.test(module)) return module;
  return pathToFileURL(isAbsolute(module) ? module : resolve(process.cwd(), module)).href;
}

/** Checks what a user function returned: a finite number or null, nothing else. */
export function checkRewardValue(v: unknown, who: string): RewardValue {
  if (v === null) return null;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new RxrlDataError(
    `${who} returned ${typeof v === 'number' ? v : (JSON.stringify(v) ?? typeof v)}; expected a finite number or null`,
  );
}

/**
 * Wraps a user JavaScript function (sync or async, may return null) as a reward: its
 * return value is checked, so `undefined` or NaN from a bug is an error, not a silent reward.
 */
export function jsFunctionReward(
  fn: (sample: RewardSample) => unknown,
  name = fn.name || 'reward function',
): RewardFn {
  return async (sample: RewardSample, _ctx?: RewardContext) =>
    checkRewardValue(await fn(sample), name);
}

/** A user function loaded from `module` on first use. A missing module or export stops the run. */
export function jsModuleReward(options: z.input<typeof jsFunctionOptions>): RewardFn {
  const o = jsFunctionOptions.parse(options);
  let loaded: Promise<(s: RewardSample) => unknown> | undefined;
  const load = async () => {
    let mod: Record<string, unknown>;
    try {
      mod = await import(moduleUrl(o.module));
    } catch (e) {
      throw new RewardFatalError(
        `reward.js: cannot import module '${o.module}': ${(e as Error).message}`,
        { cause: e },
      );
    }
    const f = mod[o.export];
    if (typeof f !== 'function')
      throw new RewardFatalError(
        `reward.js: module '${o.module}' has no exported function '${o.export}'`,
      );
    return f as (s: RewardSample) => unknown;
  };
  return async (sample: RewardSample) => {
    loaded ??= load();
    const f = await loaded;
    return checkRewardValue(await f(sample), `${o.module}#${o.export}`);
  };
}
