/** Where a command writes and what environment it sees; tests substitute their own. */
export interface CliIo {
  /** write a line (or lines) to standard output */
  out(text: string): void;
  /** write a line (or lines) to standard error */
  err(text: string): void;
  /** environment variables (RXRL_DEBUG, RXRL_BACKEND) */
  env: Record<string, string | undefined>;
  /** the working directory relative paths are resolved against */
  cwd: string;
}

/** The real process: stdout, stderr, process.env and process.cwd(). */
export function processIo(): CliIo {
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    env: process.env,
    cwd: process.cwd(),
  };
}
