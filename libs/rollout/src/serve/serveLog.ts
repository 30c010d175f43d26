import { LOG_LEVELS, type LogLevel } from './serveOptions';

/** Where a server writes its log lines (one line per call, no newline). */
export type LogWrite = (line: string) => void;

/** A levelled, one-line-per-event log: `2026-01-01T00:00:00.000Z INFO POST /v1/completions 200 12ms seqs=4`. */
export interface ServeLog {
  enabled(level: Exclude<LogLevel, 'off'>): boolean;
  log(level: Exclude<LogLevel, 'off'>, message: string): void;
}

/** A {@link ServeLog} writing lines at `level` and above to `write` (default: standard error). */
export function serveLog(
  level: LogLevel,
  write: LogWrite = (line) => void process.stderr.write(`${line}\n`),
): ServeLog {
  const rank = LOG_LEVELS.indexOf(level);
  const enabled = (l: Exclude<LogLevel, 'off'>) => LOG_LEVELS.indexOf(l) <= rank;
  return {
    enabled,
    log(l, message) {
      if (enabled(l)) write(`${new Date().toISOString()} ${l.toUpperCase()} ${message}`);
    },
  };
}

/**
 * `text` made safe to echo in a message or a log line: control characters
 * escaped, and at most `max` characters kept (the rest counted), so a 1 MB
 * model name or URL is not sent back or logged whole.
 */
export function clip(text: string, max = 120): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const safe = cut.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return text.length > max ? `${safe}… (${text.length} characters)` : safe;
}
