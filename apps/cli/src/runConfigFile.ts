import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { formatResolvedConfig } from '@rxrl/config';
import { RxrlUsageError } from '@rxrl/core/base';
import { displayPath } from './displayPath';

/** `a.b.c: value` for every leaf of a plain object (arrays are leaves, compared whole). */
function leaves(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value))
      leaves(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else {
    out.set(prefix, JSON.stringify(value) ?? 'undefined');
  }
  return out;
}

/** The key paths whose values differ between two resolved configs, as `key: old -> new`. */
export function changedKeys(earlier: unknown, now: unknown): string[] {
  const a = leaves(earlier);
  const b = leaves(now);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => `${k}: ${a.get(k) ?? '(absent)'} -> ${b.get(k) ?? '(absent)'}`);
}

/**
 * Keys a resumed run may change: how long it runs, how often it validates and saves,
 * what it logs, and what it does on a NaN (resuming past one with skip_step is the
 * recovery `on_nonfinite: stop` points to). Anything else (a learning rate, the data, the model) would make
 * the checkpoint's run and the rest of it two different experiments.
 */
const RESUMABLE =
  /(^logger\.|^policy\.on_nonfinite$|\.(max_num_steps|max_num_epochs|val_period|val_at_end|save_period|keep_top_k)$)/;

/** Whether the run directory holds checkpoints a resume would continue from. */
function hasCheckpoints(runDir: string, config: unknown): boolean {
  const dirName =
    (config as { checkpointing?: { checkpoint_dir?: unknown } }).checkpointing?.checkpoint_dir ??
    'checkpoints';
  const dir = path.resolve(runDir, typeof dirName === 'string' ? dirName : 'checkpoints');
  return fs.existsSync(dir) && fs.statSync(dir).isDirectory() && fs.readdirSync(dir).length > 0;
}

/**
 * Writes `<runDir>/config.yaml` without losing the one an earlier run left there.
 * The same config: kept as it is. A run that would resume from a checkpoint with a
 * changed key other than its length, cadence or logging: refused (a usage error naming
 * each such key), since the checkpoint was made under the earlier config. Otherwise
 * (a fresh start, or a resume that only runs longer) the earlier file is kept as
 * `config.<n>.yaml`. Returns the file and a line to print, if any.
 */
export function writeRunConfig(
  runDir: string,
  config: unknown,
  resume: boolean | 'auto',
  cwd: string,
): { file: string; note: string | null } {
  const file = path.join(runDir, 'config.yaml');
  const text = formatResolvedConfig(config);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(file, text);
    return { file, note: null };
  }
  const earlier: unknown = parse(fs.readFileSync(file, 'utf8'));
  const changed = changedKeys(earlier, parse(text));
  if (changed.length === 0) return { file, note: null };
  // A key the earlier config lacks inside an object it had is an option a newer rxrl
  // added (with its default), not a change of the experiment; a key whose object was
  // itself a value before (e.g. `policy.lora: null` -> `{r: 8}`) still shows as that change.
  const fixed = changed.filter((c) => {
    const key = c.slice(0, c.indexOf(':'));
    return !RESUMABLE.test(key) && !c.startsWith(`${key}: (absent) -> `);
  });
  if (resume !== false && fixed.length > 0 && hasCheckpoints(runDir, config)) {
    throw new RxrlUsageError(
      `${displayPath(cwd, runDir)} holds checkpoints of a run with a different config; resuming would mix the two. Changed:\n` +
        fixed.map((c) => `  ${c}`).join('\n') +
        `\nRerun with the earlier settings to resume, pass --no-resume to start fresh there (the earlier config.yaml is kept), or choose another --run-dir.`,
    );
  }
  let n = 1;
  while (fs.existsSync(path.join(runDir, `config.${n}.yaml`))) n++;
  const kept = path.join(runDir, `config.${n}.yaml`);
  fs.renameSync(file, kept);
  fs.writeFileSync(file, text);
  return {
    file,
    note: `rxrl: config changed since the earlier run here (${changed.join('; ')}); its config.yaml is kept as ${displayPath(cwd, kept)}`,
  };
}
