import * as path from 'node:path';
import {
  applyOverrides,
  formatResolvedConfig,
  loadRecipe,
  saveResolvedConfig,
  type ConfigSections,
} from '@rxrl/config';
import { RxrlUsageError } from '@rxrl/core/base';
import type { z } from 'zod';
import type { DpoConfig, GkdConfig, GrpoConfig, SftConfig } from '@rxrl/algorithms';
import type { Command } from '../command';
import { configSections } from '../sections';
import { displayPath } from '../displayPath';

/** The algorithms with a recipe of their own: `rxrl sft|dpo|grpo|gkd --config <recipe>`. */
const ALGORITHMS = ['sft', 'dpo', 'grpo', 'gkd'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

const isAlgorithm = (name: string): name is Algorithm =>
  (ALGORITHMS as readonly string[]).includes(name);

/** The sections of `rxrl sft|dpo|grpo|gkd`, imported on use: `rxrl --help` should not pay for TensorFlow.js. */
async function algorithmSections(): Promise<
  Record<Algorithm, ConfigSections<Record<string, z.ZodType>>>
> {
  const { sftSections, dpoSections, grpoSections, gkdSections } = await import('@rxrl/algorithms');
  return { sft: sftSections, dpo: dpoSections, grpo: grpoSections, gkd: gkdSections };
}

/**
 * The sections to validate a recipe with, so `rxrl config` accepts exactly what
 * the run would: `--algorithm`'s if given, else those of the one algorithm section
 * (`sft:`, `dpo:`, `grpo:`, `gkd:`) at the top of the resolved recipe. A recipe with no
 * algorithm section is checked against the shared sections (seed, logger), as
 * configs/base.yaml is, so a typo there is still reported at its file:line; but
 * one holding sections only an algorithm reads (`policy:`, `data:`, …) cannot be
 * checked without knowing which, and is a usage error naming --algorithm.
 */
async function recipeSections(
  recipe: Record<string, unknown>,
  forced: unknown,
  file: string,
): Promise<{ algorithm: Algorithm | null; sections: ConfigSections<Record<string, z.ZodType>> }> {
  const choose = `--algorithm ${ALGORITHMS.join('|')}`;
  if (typeof forced === 'string') {
    if (!isAlgorithm(forced))
      throw new RxrlUsageError(
        `--algorithm must be one of ${ALGORITHMS.join(', ')}, got '${forced}'`,
      );
    return { algorithm: forced, sections: (await algorithmSections())[forced] };
  }
  const keys = Object.keys(recipe);
  const found = keys.filter(isAlgorithm);
  if (found.length > 1)
    throw new RxrlUsageError(
      `${file} has sections ${found.join(' and ')}; choose one with ${choose}`,
    );
  const shared = Object.keys(configSections.sections);
  const own = keys.filter((k) => !shared.includes(k));
  // shared sections only (configs/base.yaml): no need to load the algorithms
  if (found.length === 0 && own.length === 0) return { algorithm: null, sections: configSections };
  const all = await algorithmSections();
  if (found.length === 1) return { algorithm: found[0]!, sections: all[found[0]!] };
  const algorithmOnly = own.filter((k) =>
    ALGORITHMS.some((a) => Object.hasOwn(all[a].sections, k)),
  );
  if (algorithmOnly.length === 0) return { algorithm: null, sections: configSections };
  throw new RxrlUsageError(
    `cannot tell the algorithm of ${file}: it has ${algorithmOnly.join(', ')} but no ${ALGORITHMS.join(', ')} section; pass ${choose}`,
  );
}

/** `rxrl config`: print a recipe fully resolved (defaults, overrides, schema defaults) and validated. */
export const command: Command = {
  name: 'config',
  summary: "Print the fully resolved config of a recipe, validated as its algorithm's command does",
  usage:
    'rxrl config <recipe.yaml> [key.path=value ...] [--save <dir>] [--algorithm sft|dpo|grpo|gkd] [--graph]',
  options: {
    graph: {
      type: 'boolean',
      description:
        'print the resolved training graph instead: every node a batch goes through (stages, loss, optimizer step) with its options',
    },
    save: {
      type: 'string',
      valueName: 'dir',
      description: 'also write the resolved config to <dir>/config.yaml',
    },
    algorithm: {
      type: 'string',
      valueName: 'sft|dpo|grpo|gkd',
      description:
        "validate as this algorithm's recipe (default: the recipe's sft, dpo, grpo or gkd section says)",
    },
  },
  async run({ positionals, values, io }) {
    const [recipe, ...overrides] = positionals;
    if (recipe === undefined) throw new RxrlUsageError('missing the recipe file');
    if (recipe.includes('=') && !recipe.endsWith('.yaml') && !recipe.endsWith('.yml')) {
      throw new RxrlUsageError(
        `the first argument must be the recipe file, got the override '${recipe}'`,
      );
    }
    // defaults: are merged by loadRecipe, so a recipe inherits its algorithm section too
    const loaded = loadRecipe(path.resolve(io.cwd, recipe), { displayRoot: io.cwd });
    const { algorithm, sections } = await recipeSections(loaded.value, values['algorithm'], recipe);
    const config = sections.validate(applyOverrides(loaded, overrides));
    if (values['graph'] === true) {
      if (algorithm === null)
        throw new RxrlUsageError(
          `--graph: ${recipe} is not an algorithm's recipe (no sft, dpo, grpo or gkd section); pass --algorithm`,
        );
      io.out(await formatGraph(algorithm, config));
      return;
    }
    io.out(formatResolvedConfig(config).trimEnd());
    if (typeof values['save'] === 'string') {
      const file = saveResolvedConfig(path.resolve(io.cwd, values['save']), config);
      io.err(`rxrl: saved ${displayPath(io.cwd, file)}`);
    }
  },
};

/** The resolved training graph as YAML: `graph:` with one `{ node, kind, options }` per node. */
async function formatGraph(algorithm: Algorithm, config: unknown): Promise<string> {
  const a = await import('@rxrl/algorithms');
  // `config` was validated by this algorithm's sections just before
  const graph =
    algorithm === 'grpo'
      ? a.grpoTrainingGraph(config as GrpoConfig, a.builtinStageRegistry())
      : algorithm === 'sft'
        ? a.sftTrainingGraph(config as SftConfig)
        : algorithm === 'gkd'
          ? a.gkdTrainingGraph(config as GkdConfig)
          : a.dpoTrainingGraph(config as DpoConfig, a.builtinStageRegistry());
  return formatResolvedConfig({ algorithm: graph.algorithm, graph: graph.nodes }).trimEnd();
}
