import * as path from 'node:path';
import { applyOverrides, formatSource, loadRecipe, sourceAt } from '@rxrl/config';
import { RxrlConfigError } from '@rxrl/core/base';
import type { Command } from '../command';
import { runEnding } from '../runEnding';
import { setupRun } from '../runSetup';
import { exitCodeOf, runArgs, runOptions } from './trainingCommand';

const BUILTIN = ['sft', 'dpo', 'grpo', 'gkd'];

/** `rxrl train`: a custom algorithm plugin that the recipe names (`algorithm: ./my_algo.ts#MyAlgo`). */
export const command: Command = {
  name: 'train',
  summary:
    'Train with a custom algorithm plugin the recipe names (algorithm: ./my_algo.ts#MyAlgo, relative to the recipe)',
  usage:
    'rxrl train --config <recipe.yaml> [key.path=value ...] [--run-dir <dir>] [--export <dir>] [--resume | --no-resume] [--print-config]',
  options: runOptions(
    "the recipe (sections algorithm, seed, logger, policy, checkpointing and the plugin's own)",
    'run directory (default logger.log_dir, else runs/<plugin name>-<timestamp>)',
  ),
  async run({ values, positionals, global, io }) {
    const { config, resume } = runArgs(values, positionals);
    const recipe = path.resolve(io.cwd, config);
    const loaded = applyOverrides(loadRecipe(recipe, { displayRoot: io.cwd }), positionals);
    const ref = loaded.value['algorithm'];
    const source = sourceAt(loaded.sources, ['algorithm']);
    const where = formatSource(source) || config;
    if (typeof ref !== 'string' || ref === '')
      throw new RxrlConfigError(
        `${where}: algorithm: ${ref === undefined ? 'missing' : JSON.stringify(ref)}; name the plugin as algorithm: ./my_algo.ts#MyAlgo (relative to the recipe)`,
      );
    if (BUILTIN.includes(ref))
      throw new RxrlConfigError(
        `${where} algorithm: ${ref} is built in: run it with rxrl ${ref} --config ${config} (a ${ref}: section, no algorithm: key)`,
      );
    // relative to the file that says it (a recipe it extends may), else to the working directory
    const base =
      source?.kind === 'file'
        ? path.resolve(io.cwd, source.file)
        : path.join(io.cwd, 'command-line');
    const { loadAlgorithmPlugin, pluginSections, runAlgorithmPlugin } =
      await import('@rxrl/algorithms');
    const plugin = await loadAlgorithmPlugin(ref, base, where);
    const ctx = await setupRun({
      algorithm: plugin.name,
      resume,
      printConfig: values['print-config'] === true,
      recipe: config,
      overrides: positionals,
      sections: pluginSections(plugin),
      backend: global.backend,
      runDir: typeof values['run-dir'] === 'string' ? values['run-dir'] : undefined,
      io,
    });
    const r = await runAlgorithmPlugin(
      plugin,
      ctx.config as Parameters<typeof runAlgorithmPlugin>[1],
      {
        runDir: ctx.runDir,
        exportDir:
          typeof values['export'] === 'string' ? path.resolve(io.cwd, values['export']) : null,
        log: (l) => io.out(l),
        progress: process.stdout.isTTY === true,
        resume,
        cwd: io.cwd,
      },
    );
    const headline = Object.keys(r.last ?? {})
      .filter((k) => k.startsWith('validation/') && !k.startsWith('validation/timing'))
      .map((k) => [k.slice('validation/'.length), k] as [string, string]);
    for (const line of runEnding(ctx.runDir, io.cwd, headline, r.modelDir)) io.out(line);
    return exitCodeOf(r.signal);
  },
};
