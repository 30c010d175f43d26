/**
 * The k-th largest value (1-based) of `values`, by quickselect: O(n) expected,
 * so top-k over a 150k-token vocabulary never sorts the whole row. `values` is
 * reordered in place; pass a scratch copy.
 */
export function kthLargest(values: Float64Array, k: number): number {
  if (!(k >= 1 && k <= values.length))
    throw new RangeError(`kthLargest: k=${k} outside [1, ${values.length}]`);
  let lo = 0;
  let hi = values.length - 1;
  const target = k - 1; // index in descending order
  while (lo < hi) {
    // median of three keeps sorted or constant rows from going quadratic
    const mid = (lo + hi) >>> 1;
    const a = values[lo]!;
    const b = values[mid]!;
    const c = values[hi]!;
    const pivot = a > b ? (b > c ? b : a > c ? c : a) : a > c ? a : b > c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! > pivot) i++;
      while (values[j]! < pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return values[target]!;
  }
  return values[target]!;
}
