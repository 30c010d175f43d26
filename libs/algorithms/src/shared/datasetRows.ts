import * as path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { RxrlConfigError, RxrlDataError } from '@rxrl/core/base';
import {
  ArithmeticTask,
  readSource,
  SkipStats,
  type ArithmeticSplit,
  type Row,
  type RowGuard,
} from '@rxrl/data';

/** Which rows a dataset spec names. */
export interface DatasetSpec {
  /** `builtin:arithmetic` or a JSONL / Parquet / Arrow file */
  dataset_name: string;
  /** held-out file; null: the built-in validation split, or the last `val_fraction` of the file's rows */
  val_data_path: string | null;
  /** share of a file dataset held out when no `val_data_path` is given */
  val_fraction: number;
  /** options of the built-in arithmetic task */
  arithmetic: Record<string, unknown>;
  /** built-in task: training rows drawn */
  num_train_examples: number;
  /** built-in task: held-out rows drawn */
  num_val_examples: number;
  /** file datasets: skip and count invalid rows instead of failing */
  skip_invalid?: boolean;
}

// where each file row came from, so a format error found later still names file and line
const rowLocations = new WeakMap<Row, { source: string; line?: number; row: number }>();

/** The built-in arithmetic rows a `kind` of algorithm trains on. */
export type BuiltinRowKind = 'sft' | 'preference';

/** All rows of a file in order; each row remembers its file and line for {@link locatingGuard}. */
export async function readFileRows(
  file: string,
  skipInvalid: boolean,
  stats: SkipStats,
): Promise<Row[]> {
  const rows = await lastValueFrom(
    readSource(file, { shuffle: false, num_epochs: 1, skip_invalid: skipInvalid, stats }).pipe(
      toArray(),
    ),
  );
  return rows.map((r) => {
    const row = r.data as Row;
    rowLocations.set(row, {
      source: r.source,
      row: r.row,
      ...(r.line !== undefined ? { line: r.line } : {}),
    });
    return row;
  });
}

/**
 * The guard to tokenise `rows` with: a row the format rejects fails with its file
 * and line (rows from `datasetRows`), or with `skipInvalid` is counted in `stats`
 * (reason `format`) and left out.
 */
export function locatingGuard(
  rows: readonly Row[],
  skipInvalid: boolean,
  stats: SkipStats,
): RowGuard {
  return (index, work) => {
    try {
      return work();
    } catch (err) {
      if (!(err instanceof RxrlDataError)) throw err;
      const loc = rowLocations.get(rows[index]!);
      const located =
        loc === undefined
          ? err
          : new RxrlDataError(
              `${loc.line !== undefined ? `line ${loc.line}` : `row ${loc.row}`} of ${loc.source}: ${err.message.replace(/^row \d+: /, '')}`,
              { source: loc.source, line: loc.line, row: loc.row, field: err.location.field },
              { cause: err },
            );
      if (!skipInvalid) throw located;
      stats.skip('format', located);
      return undefined;
    }
  };
}

/**
 * Train and validation rows of a dataset spec: the built-in arithmetic task's
 * (its train/validation splits never share a problem) or a file's rows.
 */
export async function datasetRows(
  spec: DatasetSpec,
  kind: BuiltinRowKind,
  baseDir = process.cwd(),
  /** rows skipped under `skip_invalid` are counted here */
  stats: SkipStats = new SkipStats(),
): Promise<{ train: Row[]; val: Row[] }> {
  if (spec.dataset_name === 'builtin:arithmetic') {
    const task = new ArithmeticTask(spec.arithmetic);
    const make = (split: ArithmeticSplit, n: number) =>
      kind === 'sft' ? task.sftRows(split, n) : task.preferenceRows(split, n);
    return {
      train: make('train', spec.num_train_examples),
      val: make('validation', spec.num_val_examples),
    };
  }
  if (spec.dataset_name.startsWith('builtin:')) {
    throw new RxrlConfigError(
      `data.dataset_name: '${spec.dataset_name}' is not a built-in dataset; expected 'builtin:arithmetic' or a file path`,
    );
  }
  const skip = spec.skip_invalid ?? false;
  const all = await readFileRows(path.resolve(baseDir, spec.dataset_name), skip, stats);
  if (spec.val_data_path !== null)
    return {
      train: all,
      val: await readFileRows(path.resolve(baseDir, spec.val_data_path), skip, stats),
    };
  const nVal = Math.max(1, Math.round(all.length * spec.val_fraction));
  if (nVal >= all.length) {
    throw new RxrlConfigError(
      `data.val_fraction ${spec.val_fraction} leaves no training rows of the ${all.length} in ${spec.dataset_name}`,
    );
  }
  return { train: all.slice(0, all.length - nVal), val: all.slice(all.length - nVal) };
}
