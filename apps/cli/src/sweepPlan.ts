import { Rng, RxrlUsageError } from '@rxrl/core/base';

/** One `--grid key.path=a,b,c`: a key path and the values it takes, as typed. */
export interface GridAxis {
  key: string;
  values: string[];
}

/** One run of a sweep: the value of each axis, in axis order. */
export type SweepPoint = { key: string; value: string }[];

/** Split at top-level commas: `[1,2],3` is two values, `[1,2]` and `3`. */
function splitValues(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '[' || ch === '{') depth++;
    else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((v) => v.trim());
}

/** `key.path=a,b,c` → an axis; a usage error for anything else. */
export function parseGridAxis(text: string): GridAxis {
  const eq = text.indexOf('=');
  const key = eq < 0 ? '' : text.slice(0, eq).trim();
  if (eq < 0 || key === '' || key.split('.').some((s) => s === ''))
    throw new RxrlUsageError(`--grid ${text}: expected key.path=value1,value2,...`);
  const values = splitValues(text.slice(eq + 1));
  if (values.some((v) => v === ''))
    throw new RxrlUsageError(
      `--grid ${text}: an empty value (two commas in a row, or one at the end)`,
    );
  if (new Set(values).size !== values.length)
    throw new RxrlUsageError(`--grid ${text}: a value is listed twice`);
  return { key, values };
}

/** The axes of every `--grid`; the same key twice is a usage error. */
export function parseGrid(texts: readonly string[]): GridAxis[] {
  const axes = texts.map(parseGridAxis);
  const seen = new Set<string>();
  for (const a of axes) {
    if (seen.has(a.key)) throw new RxrlUsageError(`--grid ${a.key} is given twice`);
    seen.add(a.key);
  }
  return axes;
}

/** Every combination, the first axis varying slowest. */
export function gridPoints(axes: readonly GridAxis[]): SweepPoint[] {
  let points: SweepPoint[] = [[]];
  for (const axis of axes)
    points = points.flatMap((p) => axis.values.map((value) => [...p, { key: axis.key, value }]));
  return points;
}

/**
 * `count` distinct combinations drawn uniformly from the grid with the seeded
 * generator, in the grid's order (the same seed draws the same runs).
 */
export function randomPoints(axes: readonly GridAxis[], count: number, seed: number): SweepPoint[] {
  const all = gridPoints(axes);
  if (!(Number.isInteger(count) && count > 0))
    throw new RxrlUsageError(`--random ${count}: expected a positive whole number`);
  if (count > all.length)
    throw new RxrlUsageError(
      `--random ${count}: the grid has only ${all.length} combinations; drop --random to run them all`,
    );
  const order = new Rng(seed).fork('sweep').permutation(all.length);
  return Array.from(order.subarray(0, count))
    .sort((a, b) => a - b)
    .map((i) => all[i]!);
}

/**
 * A run directory name for a point: `key=value` joined by `,`, each key by its last
 * segment where that is unambiguous among the axes, characters a shell or file
 * system would trip on replaced by `_`.
 */
export function pointName(point: SweepPoint): string {
  const lasts = point.map((p) => p.key.split('.').pop()!);
  const name = point
    .map((p, i) => {
      const short = lasts.filter((l) => l === lasts[i]).length === 1 ? lasts[i]! : p.key;
      return `${short}=${p.value}`;
    })
    .join(',');
  return name.replace(/[^A-Za-z0-9._=,+-]/g, '_') || 'run';
}
