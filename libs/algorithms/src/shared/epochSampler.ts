import { Rng } from '@rxrl/core/base';
import type { BatchSource } from '@rxrl/pipeline';

/**
 * Batches of example indices for the runner: each epoch is a seeded
 * permutation (identity without shuffling) cut into full batches; the last
 * incomplete batch is dropped (NeMo RL's drop_last). Deterministic per epoch,
 * so the runner's (epoch, position) cursor resumes it exactly.
 */
export class EpochSampler implements BatchSource<number[]> {
  constructor(
    readonly size: number,
    readonly batchSize: number,
    readonly seed: number,
    readonly shuffle = true,
  ) {
    if (!(batchSize >= 1 && batchSize <= size)) {
      throw new RangeError(
        `batch size ${batchSize} must be between 1 and the dataset's ${size} examples`,
      );
    }
  }

  /** Full batches per epoch. */
  get batchesPerEpoch(): number {
    return Math.floor(this.size / this.batchSize);
  }

  /** The order of epoch `epoch`. */
  order(epoch: number): Int32Array {
    const ids = Int32Array.from({ length: this.size }, (_, i) => i);
    if (this.shuffle) new Rng(this.seed).fork(`epoch/${epoch}`).shuffle(ids);
    return ids;
  }

  *batches(epoch: number, position: number): Iterable<number[]> {
    const order = this.order(epoch);
    for (let b = position; b < this.batchesPerEpoch; b++) {
      yield Array.from(order.subarray(b * this.batchSize, (b + 1) * this.batchSize));
    }
  }

  /** The same epochs and cursor, each batch of indices made into what `make` builds (a record batch). */
  source<B>(make: (indices: number[]) => B): BatchSource<B> {
    const indexBatches = (epoch: number, position: number) => this.batches(epoch, position);
    return {
      *batches(epoch, position) {
        for (const indices of indexBatches(epoch, position)) yield make(indices);
      },
    };
  }
}
