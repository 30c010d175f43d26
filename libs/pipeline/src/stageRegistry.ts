import { closestMatch } from '@rxrl/config';
import { RxrlConfigError } from '@rxrl/core/base';
import type { z } from 'zod';
import type { StageDefinition } from './stageDefinition';
import { registerBuiltinStages } from './builtinStages';

const NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/** Stage definitions by dotted name. The default instance is {@link stageRegistry}. */
export class StageRegistry {
  private readonly stages = new Map<string, StageDefinition>();

  /**
   * Adds a definition. Names are dotted lower_snake (`reward.math`); registering a
   * taken name throws unless `replace` is set (how a user swaps a built-in stage).
   */
  register<S extends z.ZodType>(
    definition: StageDefinition<S>,
    options: { replace?: boolean } = {},
  ): void {
    if (!NAME.test(definition.name)) {
      throw new RxrlConfigError(
        `stage name '${definition.name}' must be dotted lower_snake_case, e.g. 'grouping.my_strategy'`,
      );
    }
    if (this.stages.has(definition.name) && !options.replace) {
      throw new RxrlConfigError(
        `stage '${definition.name}' is already registered; pass { replace: true } to replace it`,
      );
    }
    this.stages.set(definition.name, definition as unknown as StageDefinition);
  }

  has(name: string): boolean {
    return this.stages.has(name);
  }

  /** The definition, or undefined. */
  find(name: string): StageDefinition | undefined {
    return this.stages.get(name);
  }

  /** The definition; an unknown name throws naming the closest registered one. */
  get(name: string): StageDefinition {
    const found = this.stages.get(name);
    if (found) return found;
    throw new RxrlConfigError(`unknown stage '${name}'${this.hint(name)}`);
  }

  /** `; did you mean 'reward.math'?` or the empty string. */
  hint(name: string): string {
    const close = closestMatch(name, this.stages.keys());
    return close ? `; did you mean '${close}'?` : '';
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.stages.keys()].sort();
  }

  /** Names of stages that produce `column` with default options. */
  producersOf(column: string): string[] {
    return this.names().filter((n) => {
      const def = this.stages.get(n)!;
      if (typeof def.produces !== 'function') return def.produces.includes(column);
      const parsed = def.schema.safeParse({});
      return parsed.success && def.produces(parsed.data).includes(column);
    });
  }
}

/** The process-wide registry the built-in stages register into. */
export const stageRegistry = new StageRegistry();
registerBuiltinStages(stageRegistry);

/** Registers a stage in the default registry. */
export function registerStage<S extends z.ZodType>(
  definition: StageDefinition<S>,
  options: { replace?: boolean } = {},
): void {
  stageRegistry.register(definition, options);
}

/** A stage of the default registry; unknown names throw with a "did you mean". */
export function getStage(name: string): StageDefinition {
  return stageRegistry.get(name);
}
