import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import {
  applyOverrides,
  formatResolvedConfig,
  loadRecipe,
  saveResolvedConfig,
  type ConfigSections,
  type SectionsOutput,
} from '@rxrl/config';
import type { BackendChoice } from '@rxrl/core';
import type { CliIo } from './io';
import { displayPath } from './displayPath';

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
  /** the clock for the default run directory name */
  now?: Date;
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
 * (configuration errors surface before any TensorFlow.js work), select the backend
 * and print the one line saying which and why, create the run directory, save and
 * print the resolved config.
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
  const backend = await selectBackend(options.backend ?? null);
  io.out(describeBackend(backend));

  const runDir = createRunDir(options, config);
  const configFile = saveResolvedConfig(runDir, config);
  io.out(`rxrl: run directory ${displayPath(io.cwd, runDir)}`);
  io.out(`rxrl: resolved config (saved to ${displayPath(io.cwd, configFile)}):`);
  io.out(formatResolvedConfig(config).trimEnd());
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
    fs.mkdirSync(dir, { recursive: true });
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
