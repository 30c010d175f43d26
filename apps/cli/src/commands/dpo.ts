import * as path from 'node:path';
import { RxrlUsageError } from '@rxrl/core/base';
import type { Command } from '../command';
import { setupRun } from '../runSetup';

/** `rxrl dpo`: DPO from a YAML recipe. */
export const command: Command = {
  name: 'dpo',
  summary: 'Direct preference optimisation (DPO and TRL variants) from a YAML recipe',
  usage:
    'rxrl dpo --config <recipe.yaml> [key.path=value ...] [--run-dir <dir>] [--export <dir>] [--no-resume]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      valueName: 'recipe.yaml',
      description: 'the recipe (sections seed, logger, policy, dpo, data, checkpointing)',
    },
    'run-dir': {
      type: 'string',
      valueName: 'dir',
      description: 'run directory (default logger.log_dir, else runs/dpo-<timestamp>)',
    },
    export: {
      type: 'string',
      valueName: 'dir',
      description: 'also write the trained policy as a Hugging Face model directory here',
    },
    'no-resume': {
      type: 'boolean',
      description:
        'start fresh even if the run directory has a checkpoint (default: resume from it)',
    },
  },
  async run({ values, positionals, global, io }) {
    if (typeof values['config'] !== 'string')
      throw new RxrlUsageError('missing --config <recipe.yaml>');
    const bad = positionals.find((p) => !p.includes('='));
    if (bad !== undefined)
      throw new RxrlUsageError(`unexpected argument '${bad}'; overrides look like key.path=value`);
    // loaded here: `rxrl --help` should not pay for TensorFlow.js
    const { dpoSections, runDpo } = await import('@rxrl/algorithms');
    const ctx = await setupRun({
      algorithm: 'dpo',
      recipe: values['config'],
      overrides: positionals,
      sections: dpoSections,
      backend: global.backend,
      runDir: typeof values['run-dir'] === 'string' ? values['run-dir'] : undefined,
      io,
    });
    const r = await runDpo(ctx.config, {
      runDir: ctx.runDir,
      exportDir:
        typeof values['export'] === 'string' ? path.resolve(io.cwd, values['export']) : null,
      log: (l) => io.out(l),
      progress: process.stdout.isTTY === true,
      resume: values['no-resume'] === true ? false : 'auto',
      cwd: io.cwd,
    });
    const fmt = (m: Record<string, number> | null, k: string) =>
      m?.[k] === undefined ? 'n/a' : m[k]!.toFixed(4);
    io.out(
      `rxrl: held-out preference accuracy ${fmt(r.first, 'validation/accuracy')} -> ${fmt(r.last, 'validation/accuracy')}, ` +
        `reward margin ${fmt(r.first, 'validation/reward_margin')} -> ${fmt(r.last, 'validation/reward_margin')} in ${(r.seconds / 60).toFixed(1)} min`,
    );
  },
};
