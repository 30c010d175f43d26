/**
 * Error types shared by every library. The CLI maps them to exit codes:
 * `RxrlUsageError` and `RxrlConfigError` exit 2, anything else during a run exits 1.
 */
export class RxrlError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad command-line usage: unknown subcommand or flag, missing argument. */
export class RxrlUsageError extends RxrlError {}

/** A configuration value that is missing, of the wrong type, out of range or contradictory. */
export class RxrlConfigError extends RxrlError {}

/** Input data that cannot be used: names the source, the line or row, and the field. */
export class RxrlDataError extends RxrlError {
  constructor(
    message: string,
    readonly location: { source?: string; line?: number; row?: number; field?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
