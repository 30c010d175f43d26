import * as path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { RxrlConfigError } from '@rxrl/core/base';
import { ArithmeticTask, readSource, type ArithmeticSplit, type Row } from '@rxrl/data';

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
}

/** The built-in arithmetic rows a `kind` of algorithm trains on. */
export type BuiltinRowKind = 'sft' | 'preference';

async function readAll(file: string): Promise<Row[]> {
  const rows = await lastValueFrom(
    readSource(file, { shuffle: false, num_epochs: 1 }).pipe(toArray()),
  );
  return rows.map((r) => r.data as Row);
}

/**
 * Train and validation rows of a dataset spec: the built-in arithmetic task's
 * (its train/validation splits never share a problem) or a file's rows.
 */
export async function datasetRows(
  spec: DatasetSpec,
  kind: BuiltinRowKind,
  baseDir = process.cwd(),
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
  const all = await readAll(path.resolve(baseDir, spec.dataset_name));
  if (spec.val_data_path !== null)
    return { train: all, val: await readAll(path.resolve(baseDir, spec.val_data_path)) };
  const nVal = Math.max(1, Math.round(all.length * spec.val_fraction));
  if (nVal >= all.length) {
    throw new RxrlConfigError(
      `data.val_fraction ${spec.val_fraction} leaves no training rows of the ${all.length} in ${spec.dataset_name}`,
    );
  }
  return { train: all.slice(0, all.length - nVal), val: all.slice(all.length - nVal) };
}
