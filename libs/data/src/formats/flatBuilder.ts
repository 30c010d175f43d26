/** Typed arrays a list column is built from. */
type Values = Int32Array | Uint8Array;
type Ctor<T extends Values> = { new (n: number): T };

/**
 * Appends rows into one growing typed array plus offsets, the layout the Arrow
 * list-column builders take without copying.
 */
export class FlatListBuilder<T extends Values> {
  private values: T;
  private offsets: Int32Array;
  private rows = 0;
  private size = 0;

  constructor(
    private readonly ctor: Ctor<T>,
    capacity = 1024,
  ) {
    this.values = new ctor(capacity);
    this.offsets = new Int32Array(64);
  }

  /** Append one row. */
  push(row: ArrayLike<number>): void {
    const need = this.size + row.length;
    if (need > this.values.length) {
      const grown = new this.ctor(Math.max(need, this.values.length * 2));
      grown.set(this.values.subarray(0, this.size));
      this.values = grown;
    }
    this.values.set(row, this.size);
    this.size = need;
    if (this.rows + 2 > this.offsets.length) {
      const grown = new Int32Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.rows += 1;
    this.offsets[this.rows] = this.size;
  }

  /** The rows so far as `{values, offsets}` (exactly sized views). */
  finish(): { values: T; offsets: Int32Array } {
    return {
      values: this.values.subarray(0, this.size) as T,
      offsets: this.offsets.slice(0, this.rows + 1),
    };
  }
}
