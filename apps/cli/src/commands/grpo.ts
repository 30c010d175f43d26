import * as path from 'node:path';
import { RxrlUsageError } from '@rxrl/core/base';
import type { Command } from '../command';
import { runEnding } from '../runEnding';
import { setupRun } from '../runSetup';

/** `rxrl grpo`: GRPO from a YAML recipe, on the pipeline runner. */
export const command: Command = {
  name: 'grpo',
  summary: 'GRPO (group relative policy optimisation) with verifiable rewards from a YAML recipe',
  usage:
    'rxrl grpo --config <recipe.yaml> [key.path=value ...] [--run-dir <dir>] [--export <dir>] [--resume | --no-resume] [--print-config]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      valueName: 'recipe.yaml',
      description:
        'the recipe (sections seed, logger, policy, grpo, loss_fn, env, data, checkpointing, graph)',
    },
    'run-dir': {
      type: 'string',
      valueName: 'dir',
      description: 'run directory (default logger.log_dir, else runs/grpo-<timestamp>)',
    },
    export: {
      type: 'string',
      valueName: 'dir',
      description:
        'also write the trained policy as a Hugging Face model directory here (it is always in <run-dir>/policy)',
    },
    resume: {
      type: 'boolean',
      description: "continue from the run directory's latest checkpoint; an error if there is none",
    },
    'no-resume': {
      type: 'boolean',
      description:
        'start fresh even if the run directory has a checkpoint (default: resume from it)',
    },
    'print-config': {
      type: 'boolean',
      description: 'print the resolved config (it is always saved to <run-dir>/config.yaml)',
    },
  },
  async run({ values, positionals, global, io }) {
    if (typeof values['config'] !== 'string')
      throw new RxrlUsageError('missing --config <recipe.yaml>');
    if (values['resume'] === true && values['no-resume'] === true)
      throw new RxrlUsageError('--resume and --no-resume contradict each other');
    const bad = positionals.find((p) => !p.includes('='));
    if (bad !== undefined)
      throw new RxrlUsageError(`unexpected argument '${bad}'; overrides look like key.path=value`);
    // loaded here: `rxrl --help` should not pay for TensorFlow.js
    const { grpoSections, runGrpo, checkTrainingMemory, samplesPerPrompt } =
      await import('@rxrl/algorithms');
    const resume = values['resume'] === true ? true : values['no-resume'] === true ? false : 'auto';
    const ctx = await setupRun({
      algorithm: 'grpo',
      resume,
      printConfig: values['print-config'] === true,
      recipe: values['config'],
      overrides: positionals,
      sections: grpoSections,
      backend: global.backend,
      runDir: typeof values['run-dir'] === 'string' ? values['run-dir'] : undefined,
      io,
      // the samples the resolved graph generates (its rollout node's group size wins over the key)
      checkMemory: (config, backend) =>
        checkTrainingMemory(
          'grpo',
          {
            ...config,
            grpo: { ...config.grpo, num_generations_per_prompt: samplesPerPrompt(config) },
          },
          backend,
          io.cwd,
          io.env,
        ),
    });
    const t0 = performance.now();
    const r = await runGrpo(ctx.config, {
      runDir: ctx.runDir,
      resume,
      log: (l) => io.out(l),
      cwd: io.cwd,
      exportDir:
        typeof values['export'] === 'string' ? path.resolve(io.cwd, values['export']) : null,
    });
    io.out(
      `rxrl: ${r.reason} after step ${r.step} in ${((performance.now() - t0) / 60000).toFixed(1)} min`,
    );
    for (const line of runEnding(
      ctx.runDir,
      io.cwd,
      [['accuracy', 'validation/accuracy']],
      r.policyDir,
    ))
      io.out(line);
    // 130: stopped by SIGINT/SIGTERM after checkpointing, as shells expect of an interrupted command
    return r.reason === 'signal' ? 130 : 0;
  },
};
