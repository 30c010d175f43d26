import { RxrlConfigError } from '@rxrl/core/base';

/**
 * A model directory that cannot be loaded as it is: an architecture we do not
 * implement, a shard the index names but the directory lacks, a safetensors
 * header that contradicts itself or config.json, mixed dtypes, a tokenizer
 * with ids past the vocabulary. Raised from headers and config files, before
 * any weight data is read. A configuration error (the CLI exits 2): the
 * message names the file and the field; `location` carries both.
 */
export class ModelDirectoryError extends RxrlConfigError {
  constructor(
    message: string,
    readonly location: { source: string; field?: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
