import * as path from 'node:path';
import { applyOverrides, formatResolvedConfig, loadRecipe, saveResolvedConfig } from '@rxrl/config';
import { RxrlUsageError } from '@rxrl/core/base';
import type { Command } from '../command';
import { configSections } from '../sections';

/** `rxrl config`: print a recipe fully resolved (defaults, overrides, schema defaults) and validated. */
export const command: Command = {
  name: 'config',
  summary: 'Print the fully resolved, validated config of a recipe',
  usage: 'rxrl config <recipe.yaml> [key.path=value ...] [--save <dir>]',
  options: {
    save: {
      type: 'string',
      valueName: 'dir',
      description: 'also write the resolved config to <dir>/config.yaml',
    },
  },
  run({ positionals, values, io }) {
    const [recipe, ...overrides] = positionals;
    if (recipe === undefined) throw new RxrlUsageError('missing the recipe file');
    if (recipe.includes('=') && !recipe.endsWith('.yaml') && !recipe.endsWith('.yml')) {
      throw new RxrlUsageError(
        `the first argument must be the recipe file, got the override '${recipe}'`,
      );
    }
    const loaded = loadRecipe(path.resolve(io.cwd, recipe), { displayRoot: io.cwd });
    const config = configSections.validate(applyOverrides(loaded, overrides));
    io.out(formatResolvedConfig(config).trimEnd());
    if (typeof values['save'] === 'string') {
      const file = saveResolvedConfig(path.resolve(io.cwd, values['save']), config);
      io.err(`rxrl: saved ${path.relative(io.cwd, file)}`);
    }
  },
};
