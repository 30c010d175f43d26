import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RxrlConfigError } from '@rxrl/core/base';
import type { TrainingAlgorithm } from './trainingAlgorithm';

/** `./my_algo.ts#MyAlgo` → the file and the export name (`default` without `#`). */
export function parsePluginReference(ref: string): { file: string; exportName: string } {
  const hash = ref.lastIndexOf('#');
  return hash < 0
    ? { file: ref, exportName: 'default' }
    : { file: ref.slice(0, hash), exportName: ref.slice(hash + 1) || 'default' };
}

/** What is wrong with `value` as a {@link TrainingAlgorithm}: one phrase per missing piece. */
export function pluginShapeProblems(value: unknown): string[] {
  if (value === null || typeof value !== 'object')
    return [`it is ${value === null ? 'null' : typeof value}, not an object`];
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof v['name'] !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v['name']))
    problems.push('`name` (its recipe section, a plain identifier) is missing');
  const options = v['options'] as { shape?: unknown; parse?: unknown } | undefined;
  if (!options || typeof options.parse !== 'function' || typeof options.shape !== 'object')
    problems.push('`options` is not a zod object schema (z.object({...}))');
  if (typeof v['build'] !== 'function') problems.push('`build(context)` is missing');
  return problems;
}

/**
 * Imports the plugin a recipe names: `ref` is `./file.ts#Export` relative to the
 * recipe's directory; the export is a {@link TrainingAlgorithm} object or a class
 * with a no-argument constructor. Every failure is an `RxrlConfigError` (exit 2)
 * that begins with `where` (the recipe's `file:line`) and names the key.
 */
export async function loadAlgorithmPlugin(
  ref: string,
  recipeFile: string,
  where = recipeFile,
): Promise<TrainingAlgorithm> {
  const { file, exportName } = parsePluginReference(ref);
  const at = `${where} algorithm: ${ref}`;
  if (file === '' || !/[\\/]/.test(file))
    throw new RxrlConfigError(
      `${at}: expected a module path such as ./my_algo.ts#MyAlgo (relative to the recipe); the built-in algorithms run as rxrl sft|dpo|grpo|gkd`,
    );
  const abs = path.resolve(path.dirname(recipeFile), file);
  if (!existsSync(abs)) throw new RxrlConfigError(`${at}: no such file ${abs}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(abs).href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint =
      e.code === 'ERR_UNKNOWN_FILE_EXTENSION'
        ? ' (a TypeScript plugin needs tsx: run rxrl with NODE_OPTIONS="--import tsx", or compile it to .js)'
        : '';
    throw new RxrlConfigError(`${at}: cannot import ${abs}: ${e.message.split('\n')[0]}${hint}`);
  }
  if (!(exportName in mod)) {
    const names = Object.keys(mod);
    throw new RxrlConfigError(
      `${at}: ${file} has no export '${exportName}' (it exports ${names.length > 0 ? names.join(', ') : 'nothing'})`,
    );
  }
  let value = mod[exportName];
  if (
    typeof value === 'function' &&
    typeof (value.prototype as { build?: unknown })?.build === 'function'
  ) {
    try {
      value = new (value as new () => unknown)();
    } catch (err) {
      throw new RxrlConfigError(`${at}: new ${exportName}() failed: ${(err as Error).message}`);
    }
  }
  const problems = pluginShapeProblems(value);
  if (problems.length > 0)
    throw new RxrlConfigError(
      `${at}: '${exportName}' is not a TrainingAlgorithm: ${problems.join('; ')}`,
    );
  return value as TrainingAlgorithm;
}
