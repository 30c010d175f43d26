import { closestMatch } from '@rxrl/config';
import { RxrlConfigError, type StageDefinition } from '@rxrl/core/base';

const NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/**
 * Stage definitions by dotted name, built explicitly from the definitions each
 * stage library exports (`rewardStageDefinitions()`, `groupingStageDefinitions()`,
 * `rolloutStageDefinitions()`, ...); nothing registers itself on import.
 * `@rxrl/algorithms`' `builtinStageRegistry()` is the one a run uses.
 */
export class StageRegistry {
  private readonly stages = new Map<string, StageDefinition>();

  constructor(definitions: Iterable<StageDefinition> = []) {
    for (const d of definitions) this.register(d);
  }

  /**
   * Adds a definition. Names are dotted lower_snake (`reward.math`); registering a
   * taken name throws unless `replace` is set (how a user swaps a built-in stage).
   */
  register(definition: StageDefinition, options: { replace?: boolean } = {}): this {
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
    this.stages.set(definition.name, definition);
    return this;
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
