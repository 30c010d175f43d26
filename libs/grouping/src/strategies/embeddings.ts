import { RxrlDataError, RxrlUsageError } from '@rxrl/core/base';
import type { GroupingInput } from './groupingInput';

/**
 * Embedding rows scaled to unit length in float64 (a zero row stays zero), so a
 * dot product is the cosine similarity. Errors when a strategy needs embeddings
 * and there are none, or when rows differ in length.
 */
export function unitRows(samples: GroupingInput, strategy: string): Float64Array[] {
  const rows = samples.embeddings;
  if (!rows) {
    throw new RxrlUsageError(
      `grouping strategy '${strategy}' needs embeddings: give the batch an 'embedding' List<Float32> column or pass an embedder to the grouping stage`,
    );
  }
  const dim = rows[0]?.length ?? 0;
  return rows.map((row, i) => {
    if (row.length !== dim) {
      throw new RxrlDataError(`embedding of row ${i} has ${row.length} values, row 0 has ${dim}`, {
        row: i,
        field: 'embedding',
      });
    }
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += row[j]! * row[j]!;
    const out = new Float64Array(dim);
    if (ss > 0) {
      const inv = 1 / Math.sqrt(ss);
      for (let j = 0; j < dim; j++) out[j] = row[j]! * inv;
    }
    return out;
  });
}

/** Dot product of two equal-length rows. */
export function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

/** Cosine similarity matrix (n x n, row-major) of unit rows. */
export function cosineMatrix(rows: readonly Float64Array[]): Float64Array {
  const n = rows.length;
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    s[i * n + i] = dot(rows[i]!, rows[i]!);
    for (let j = i + 1; j < n; j++) s[i * n + j] = s[j * n + i] = dot(rows[i]!, rows[j]!);
  }
  return s;
}
