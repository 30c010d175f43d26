import { constants } from 'node:os';
import * as path from 'node:path';
import type { z } from 'zod';
import type { ConfigSections, SectionsOutput } from '@rxrl/config';
import { RxrlUsageError } from '@rxrl/core/base';
import type { Command } from '../command';
import { runEnding } from '../runEnding';
import { setupRun } from '../runSetup';

/** What a training run tells the command when it ends. */
export interface TrainingOutcome {
  /** where the trained policy is (the run directory's copy) */
  modelDir: string;
  /** a line on how and when it stopped, when the runner did not log one */
  summary?: string;
  /** the signal that stopped the run after its checkpoint (the command exits 128 + its number), else null */
  signal: NodeJS.Signals | null;
}

/** What `rxrl sft`, `rxrl dpo`, `rxrl gkd` and `rxrl grpo` differ in; everything else is this one command shape. */
export interface TrainingCommandSpec<S extends Record<string, z.ZodType>> {
  name: 'sft' | 'dpo' | 'gkd' | 'grpo';
  summary: string;
  /** the sections the recipe may have, for --help */
  sectionsHelp: string;
  /** the algorithm's sections and runner, imported on use so `rxrl --help` does not load TensorFlow.js */
  load(): Promise<{
    sections: ConfigSections<S>;
    run(
      config: SectionsOutput<S>,
      options: {
        runDir: string;
        exportDir: string | null;
        log: (line: string) => void;
        progress: boolean;
        resume: boolean | 'auto';
        cwd: string;
      },
    ): Promise<TrainingOutcome>;
    /** the memory estimate against the backend's limit (see setupRun) */
    checkMemory(
      config: SectionsOutput<S>,
      backend: string,
      cwd: string,
      env: Record<string, string | undefined>,
    ): Promise<string>;
  }>;
  /** the closing line: which held-out metrics moved, first -> last */
  headline: [label: string, key: string][];
}

/** A `rxrl <algorithm> --config <recipe> [key=value …]` command for a runner with export and resume. */
export function trainingCommand<S extends Record<string, z.ZodType>>(
  spec: TrainingCommandSpec<S>,
): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    usage: `rxrl ${spec.name} --config <recipe.yaml> [key.path=value ...] [--run-dir <dir>] [--export <dir>] [--resume | --no-resume] [--print-config]`,
    options: runOptions(
      `the recipe (sections ${spec.sectionsHelp})`,
      `run directory (default logger.log_dir, else runs/${spec.name}-<timestamp>)`,
    ),
    async run({ values, positionals, global, io }) {
      const { config: recipe, resume } = runArgs(values, positionals);
      const { sections, run, checkMemory } = await spec.load();
      const ctx = await setupRun({
        algorithm: spec.name,
        resume,
        printConfig: values['print-config'] === true,
        recipe,
        overrides: positionals,
        sections,
        backend: global.backend,
        runDir: typeof values['run-dir'] === 'string' ? values['run-dir'] : undefined,
        io,
        checkMemory: (config, backend) => checkMemory(config, backend, io.cwd, io.env),
      });
      const r = await run(ctx.config, {
        runDir: ctx.runDir,
        exportDir:
          typeof values['export'] === 'string' ? path.resolve(io.cwd, values['export']) : null,
        log: (l) => io.out(l),
        progress: process.stdout.isTTY === true,
        resume,
        cwd: io.cwd,
      });
      if (r.summary !== undefined) io.out(r.summary);
      // the runner has said how and when it stopped; what remains is what it came to
      for (const line of runEnding(ctx.runDir, io.cwd, spec.headline, r.modelDir)) io.out(line);
      return exitCodeOf(r.signal);
    },
  };
}

/**
 * The options every training command takes (`rxrl sft|dpo|gkd|grpo|train`), with the
 * recipe's and the run directory's help lines of the command.
 */
export function runOptions(configHelp: string, runDirHelp: string): Command['options'] {
  return {
    config: { type: 'string', short: 'c', valueName: 'recipe.yaml', description: configHelp },
    'run-dir': { type: 'string', valueName: 'dir', description: runDirHelp },
    export: {
      type: 'string',
      valueName: 'dir',
      description:
        'also write the trained policy as a Hugging Face model directory here (the run directory always has one)',
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
  };
}

/** The recipe path and resume mode of a training command's arguments, checked ({@link runOptions}). */
export function runArgs(
  values: Record<string, unknown>,
  positionals: readonly string[],
): { config: string; resume: boolean | 'auto' } {
  const config = values['config'];
  if (typeof config !== 'string') throw new RxrlUsageError('missing --config <recipe.yaml>');
  if (values['resume'] === true && values['no-resume'] === true)
    throw new RxrlUsageError('--resume and --no-resume contradict each other');
  const bad = positionals.find((p) => !p.includes('='));
  if (bad !== undefined)
    throw new RxrlUsageError(`unexpected argument '${bad}'; overrides look like key.path=value`);
  const resume = values['resume'] === true ? true : values['no-resume'] === true ? false : 'auto';
  return { config, resume };
}

/**
 * A training command's exit status: 0 when the run came to its end (steps, epochs,
 * early stopping), 128 + the signal's number when SIGINT (130) or SIGTERM (143)
 * stopped it after its checkpoint, as a shell reports a command a signal ended, so
 * `rxrl sft … && rxrl eval …` does not go on with an unfinished run (resume it instead).
 */
export function exitCodeOf(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : 128 + constants.signals[signal];
}
