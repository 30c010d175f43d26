import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyOverrides, loadRecipe } from '@rxrl/config';
import { RxrlConfigError, RxrlUsageError } from '@rxrl/core/base';
import { readMetricsJsonl } from '@rxrl/logging';
import type { Command } from '../command';
import { displayPath } from '../displayPath';
import { gridPoints, parseGrid, pointName, randomPoints, type SweepPoint } from '../sweepPlan';
import { command as dpo } from './dpo';
import { command as gkd } from './gkd';
import { command as grpo } from './grpo';
import { command as sft } from './sft';
import { command as train } from './train';

const RUNNERS: Record<string, Command> = { sft, dpo, grpo, gkd, train };

/** The command a recipe runs with: `train` for a plugin (`algorithm:`), else its one sft/dpo/grpo/gkd section. */
export function recipeCommand(recipe: Record<string, unknown>, file: string): string {
  if (typeof recipe['algorithm'] === 'string') return 'train';
  const found = ['sft', 'dpo', 'grpo', 'gkd'].filter((k) => k in recipe);
  if (found.length !== 1)
    throw new RxrlUsageError(
      `${file}: ${found.length === 0 ? 'no sft, dpo, grpo or gkd section and no algorithm: plugin' : `sections ${found.join(' and ')}`}: cannot tell which algorithm to sweep`,
    );
  return found[0]!;
}

/** A directory under `out` named `name` that does not exist yet: `name`, else `name-2`, `name-3`, … */
function freshDir(out: string, name: string): string {
  for (let n = 1; ; n++) {
    const dir = path.join(out, n === 1 ? name : `${name}-${n}`);
    try {
      fs.mkdirSync(dir);
      return dir;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/** A file path under `out` that does not exist yet (`name.ext`, else `name-2.ext`, …). */
function freshFile(out: string, name: string, ext: string): string {
  for (let n = 1; ; n++) {
    const file = path.join(out, `${n === 1 ? name : `${name}-${n}`}${ext}`);
    if (!fs.existsSync(file)) return file;
  }
}

/** What one run of the sweep came to. */
interface SweepRow {
  point: SweepPoint;
  dir: string;
  exit: number;
  /** the last value of each validation metric, and of train/loss and train/reward */
  finals: Record<string, number>;
}

function finals(runDir: string): Record<string, number> {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!fs.existsSync(file)) return {};
  const out: Record<string, number> = {};
  for (const row of readMetricsJsonl(file))
    for (const [k, v] of Object.entries(row))
      if (
        Number.isFinite(v) &&
        (/^validation\/(?!timing)/.test(k) ||
          k === 'train/loss' ||
          k === 'train/reward' ||
          k === 'train/accuracy')
      )
        out[k] = v;
  return out;
}

const num = (v: number | undefined) =>
  v === undefined ? '–' : Math.abs(v) < 1e4 ? v.toFixed(4) : Number(v.toPrecision(4)).toString();

/** The summary as aligned text columns: the swept keys, the run directory, exit status, final metrics. */
export function summaryTable(rows: readonly SweepRow[], cwd: string): string {
  const keys = rows[0]?.point.map((p) => p.key) ?? [];
  const metrics = [...new Set(rows.flatMap((r) => Object.keys(r.finals)))].sort();
  const header = [...keys, 'run', 'exit', ...metrics];
  const body = rows.map((r) => [
    ...r.point.map((p) => p.value),
    displayPath(cwd, r.dir),
    String(r.exit),
    ...metrics.map((m) => num(r.finals[m])),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** `rxrl sweep`: a grid or random search over recipe key paths, one run directory each. */
export const command: Command = {
  name: 'sweep',
  summary:
    'Grid or random search over recipe keys: one run directory per setting, then a table of final metrics',
  usage:
    'rxrl sweep --config <recipe.yaml> --grid key.path=a,b,c [--grid ...] [--random N --seed S] --out <dir> [key.path=value ...]',
  options: {
    config: {
      type: 'string',
      short: 'c',
      valueName: 'recipe.yaml',
      description:
        'the recipe (any rxrl sft|dpo|grpo|gkd recipe, or a plugin recipe with algorithm:)',
    },
    grid: {
      type: 'string',
      multiple: true,
      valueName: 'key.path=a,b,c',
      description:
        'a key path and its values (commas inside [..] or {..} stay in one value); the runs are every combination',
    },
    random: {
      type: 'string',
      valueName: 'N',
      description: 'run N combinations drawn at random from the grid instead of all of them',
    },
    seed: {
      type: 'string',
      valueName: 'S',
      description: 'seed of the --random draw (default 0); the recipe keeps its own seed',
    },
    out: {
      type: 'string',
      valueName: 'dir',
      description:
        'the sweep directory: one run directory per setting (an existing one is never reused) and sweep_summary.{md,json}',
    },
  },
  async run({ values, positionals, global, io }) {
    if (typeof values['config'] !== 'string')
      throw new RxrlUsageError('missing --config <recipe.yaml>');
    if (typeof values['out'] !== 'string') throw new RxrlUsageError('missing --out <dir>');
    const gridTexts = (values['grid'] as string[] | undefined) ?? [];
    if (gridTexts.length === 0) throw new RxrlUsageError('missing --grid key.path=a,b,c');
    const bad = positionals.find((p) => !p.includes('='));
    if (bad !== undefined)
      throw new RxrlUsageError(`unexpected argument '${bad}'; overrides look like key.path=value`);
    if (values['seed'] !== undefined && values['random'] === undefined)
      throw new RxrlUsageError('--seed draws the --random runs; it needs --random N');
    if (values['seed'] !== undefined && !Number.isInteger(Number(values['seed'])))
      throw new RxrlUsageError(`--seed ${String(values['seed'])}: expected a whole number`);
    const axes = parseGrid(gridTexts);
    const points =
      values['random'] !== undefined
        ? randomPoints(axes, Number(values['random']), Number(values['seed'] ?? 0))
        : gridPoints(axes);

    // check the recipe and every setting before the first run: a typo fails now, not in run 5
    const recipeFile = path.resolve(io.cwd, values['config']);
    const loaded = loadRecipe(recipeFile, { displayRoot: io.cwd });
    const name = recipeCommand(loaded.value, values['config']);
    const a = await import('@rxrl/algorithms');
    const sections = {
      sft: a.sftSections,
      dpo: a.dpoSections,
      grpo: a.grpoSections,
      gkd: a.gkdSections,
    }[name];
    for (const p of points) {
      const config = applyOverrides(loaded, [
        ...positionals,
        ...p.map((x) => `${x.key}=${x.value}`),
      ]);
      // a plugin's sections are known once its module loads: its first run checks them
      sections?.validate(config);
    }
    const runner = RUNNERS[name]!;

    const out = path.resolve(io.cwd, values['out']);
    fs.mkdirSync(out, { recursive: true });
    io.out(
      `rxrl sweep: ${points.length} run${points.length === 1 ? '' : 's'} of rxrl ${name} over ${axes.map((a) => a.key).join(', ')} into ${displayPath(io.cwd, out)}`,
    );
    const rows: SweepRow[] = [];
    for (const [i, point] of points.entries()) {
      const dir = freshDir(out, pointName(point));
      const settings = point.map((a) => `${a.key}=${a.value}`);
      io.out(
        `rxrl sweep: [${i + 1}/${points.length}] ${settings.join(' ')} -> ${displayPath(io.cwd, dir)}`,
      );
      let exit: number;
      try {
        const code = await runner.run({
          values: { config: values['config'], 'run-dir': dir, 'no-resume': true },
          positionals: [...positionals, ...settings],
          global,
          io,
        });
        exit = typeof code === 'number' ? code : 0;
      } catch (err) {
        // a setting the recipe's schema rejects stops the sweep (the next ones would fail alike)
        if (err instanceof RxrlConfigError || err instanceof RxrlUsageError) throw err;
        io.err(`rxrl sweep: run ${i + 1} failed: ${(err as Error).message}`);
        exit = 1;
      }
      rows.push({ point, dir, exit, finals: finals(dir) });
    }
    const table = summaryTable(rows, io.cwd);
    const md = freshFile(out, 'sweep_summary', '.md');
    fs.writeFileSync(
      md,
      `# rxrl sweep of ${values['config']}\n\n${points.length} runs of rxrl ${name}; final values are each run's last logged value.\n\n\`\`\`\n${table}\n\`\`\`\n`,
    );
    const json = freshFile(out, 'sweep_summary', '.json');
    fs.writeFileSync(
      json,
      JSON.stringify(
        {
          recipe: values['config'],
          command: name,
          overrides: positionals,
          runs: rows.map((r) => ({
            settings: Object.fromEntries(r.point.map((p) => [p.key, p.value])),
            run_dir: path.relative(out, r.dir),
            exit: r.exit,
            final: r.finals,
          })),
        },
        null,
        2,
      ) + '\n',
    );
    io.out(table);
    io.out(
      `rxrl sweep: summary written to ${displayPath(io.cwd, md)} and ${displayPath(io.cwd, json)}`,
    );
    return rows.some((r) => r.exit !== 0) ? 1 : 0;
  },
};
