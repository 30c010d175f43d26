import * as path from 'node:path';
import { RxrlUsageError } from '@rxrl/core/base';
import type { Command } from '../command';
import { setupRun } from '../runSetup';

/** `rxrl sft`: supervised fine-tuning from a YAML recipe. */
export const command: Command = {
  name: 'sft',
  summary: 'Supervised fine-tuning (token-level NLL) from a YAML recipe',
  usage:
    'rxrl sft --config <recipe.yaml> [key.path=value ...] [--run-dir <dir>] [--export <dir>] [--no-resume]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      valueName: 'recipe.yaml',
      description: 'the recipe (sections seed, logger, policy, sft, data, checkpointing)',
    },
    'run-dir': {
      type: 'string',
      valueName: 'dir',
      description: 'run directory (default logger.log_dir, else runs/sft-<timestamp>)',
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
    const { sftSections, runSft } = await import('@rxrl/algorithms');
    const ctx = await setupRun({
      algorithm: 'sft',
      recipe: values['config'],
      overrides: positionals,
      sections: sftSections,
      backend: global.backend,
      runDir: typeof values['run-dir'] === 'string' ? values['run-dir'] : undefined,
      io,
    });
    const r = await runSft(ctx.config, {
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
      `rxrl: held-out loss ${fmt(r.first, 'validation/loss')} -> ${fmt(r.last, 'validation/loss')}, ` +
        `accuracy ${fmt(r.first, 'validation/accuracy')} -> ${fmt(r.last, 'validation/accuracy')} in ${(r.seconds / 60).toFixed(1)} min`,
    );
  },
};
