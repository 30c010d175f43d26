import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import type { PolicyOptions } from '@rxrl/algorithms';
import {
  applyOverrides,
  formatResolvedConfig,
  loadRecipe,
  type ConfigSections,
  type SectionsOutput,
} from '@rxrl/config';
import type { BackendChoice } from '@rxrl/core';
import { RxrlUsageError } from '@rxrl/core/base';
import type { CliIo } from './io';
import { displayPath } from './displayPath';
import { writeRunConfig } from './runConfigFile';
import { runSummary } from './runSummary';

export interface RunSetupOptions<S extends Record<string, z.ZodType>> {
  /** the algorithm, used in the default run directory name: `runs/<algorithm>-<timestamp>` */
  algorithm: string;
  /** the YAML recipe */
  recipe: string;
  /** `key.path=value` overrides, applied in order */
  overrides: readonly string[];
  /** the sections the recipe may contain */
  sections: ConfigSections<S>;
  /** `--backend`; undefined: RXRL_BACKEND, else auto */
  backend: string | undefined;
  /** `--run-dir`; wins over `logger.log_dir` */
  runDir?: string | undefined;
  io: CliIo;
  /** how the run will treat a checkpoint in the run directory: a changed config is refused when it resumes */
  resume?: boolean | 'auto';
  /** print the resolved config too (it is always saved to `<run>/config.yaml`) */
  printConfig?: boolean;
  /** the clock for the default run directory name */
  now?: Date;
  /**
   * Estimate the run's memory for the selected backend before anything is
   * loaded or written: returns the line to print, or throws (exit 2) when it cannot fit.
   */
  checkMemory?: (config: SectionsOutput<S>, backend: string) => Promise<string>;
}

/** What a run starts with. */
export interface RunContext<S extends Record<string, z.ZodType>> {
  /** the validated config, defaults applied */
  config: SectionsOutput<S>;
  /** the backend selected (already initialised) */
  backend: BackendChoice;
  /** the run directory (created) */
  runDir: string;
  /** `<runDir>/config.yaml` */
  configFile: string;
}

/** `20261122-044620` in UTC: sortable, no characters that need quoting in a shell. */
export function runStamp(now: Date): string {
  return now
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/-/g, '')
    .replace('T', '-')
    .replace(/:/g, '');
}

/**
 * The start of every algorithm run: load the recipe, apply overrides and validate
 * (configuration errors surface before any TensorFlow.js work), then the lines that
 * say what runs — algorithm, task, start model and steps; the backend and why; when
 * the duration will be known; the run directory — and the resolved config saved to
 * `<run>/config.yaml` (printed only with `printConfig`: on a terminal its hundred
 * lines would push the others off screen).
 * The run's memory is estimated first: a run that cannot fit is refused before
 * anything is written.
 */
export async function setupRun<S extends Record<string, z.ZodType>>(
  options: RunSetupOptions<S>,
): Promise<RunContext<S>> {
  const { io } = options;
  const loaded = applyOverrides(
    loadRecipe(path.resolve(options.io.cwd, options.recipe), { displayRoot: io.cwd }),
    options.overrides,
  );
  const config = options.sections.validate(loaded);

  const { selectBackend, describeBackend } = await import('@rxrl/core');
  // auto weighs the policy's size: small models step faster on wasm, large ones need native
  const policy = (config as { policy?: PolicyOptions }).policy;
  const { backendHint } = await import('@rxrl/algorithms');
  const backend = await selectBackend(
    options.backend ?? null,
    policy ? await backendHint(policy, io.cwd) : {},
  );
  const memoryLine = options.checkMemory
    ? await options.checkMemory(config, backend.backend)
    : null;
  const runDir = createRunDir(options, config);
  const { file: configFile, note } = writeRunConfig(
    runDir,
    config,
    options.resume ?? 'auto',
    io.cwd,
  );
  io.out(runSummary(options.algorithm, config));
  io.out(describeBackend(backend));
  if (memoryLine !== null) io.out(memoryLine);
  io.out('rxrl: expected duration: estimated once the first 10 steps are timed');
  io.out(`rxrl: run directory ${displayPath(io.cwd, runDir)}`);
  if (note !== null) io.out(note);
  if (options.printConfig) {
    io.out(`rxrl: resolved config (saved to ${displayPath(io.cwd, configFile)}):`);
    io.out(formatResolvedConfig(config).trimEnd());
  } else {
    io.out(
      `rxrl: resolved config saved to ${displayPath(io.cwd, configFile)} (--print-config prints it)`,
    );
  }
  return { config, backend, runDir, configFile };
}

function createRunDir<S extends Record<string, z.ZodType>>(
  options: RunSetupOptions<S>,
  config: SectionsOutput<S>,
): string {
  const fromConfig = (config as { logger?: { log_dir?: unknown } }).logger?.log_dir;
  const explicit = options.runDir ?? (typeof fromConfig === 'string' ? fromConfig : undefined);
  if (explicit !== undefined) {
    const dir = path.resolve(options.io.cwd, explicit);
    const flag = options.runDir !== undefined ? '--run-dir' : 'logger.log_dir';
    try {
      fs.mkdirSync(dir, { recursive: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTDIR') throw err;
    }
    // a file where the directory (or one above it) should be: say so, not EEXIST
    if (kindOf(dir) !== 'directory')
      throw new RxrlUsageError(
        `${flag} ${explicit}: ${firstFile(dir) ?? dir} is a file, not a directory; choose another run directory`,
      );
    return dir;
  }
  const base = path.resolve(
    options.io.cwd,
    'runs',
    `${options.algorithm}-${runStamp(options.now ?? new Date())}`,
  );
  fs.mkdirSync(path.dirname(base), { recursive: true });
  // two runs started in the same second get -2, -3, ... rather than sharing a directory
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    try {
      fs.mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** The first path on the way to `dir` that exists and is not a directory, or null. */
function firstFile(dir: string): string | null {
  const parts: string[] = [];
  for (let p = dir; p !== path.dirname(p); p = path.dirname(p)) parts.unshift(p);
  return parts.find((p) => kindOf(p) === 'file') ?? null;
}

function kindOf(p: string): 'directory' | 'file' | null {
  try {
    return fs.statSync(p).isDirectory() ? 'directory' : 'file';
  } catch {
    return null; // absent, or under a file (ENOTDIR)
  }
}
