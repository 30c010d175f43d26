import { RxrlDataError, type ChatMessage } from '@rxrl/core/base';

/** A data row as parsed from JSONL / Parquet / Arrow: column name to value. */
export type Row = Record<string, unknown>;

/** Text or a conversation: every format field that can hold either. */
export type TextOrMessages = string | ChatMessage[];

function fail(message: string, field: string, row: number | undefined): never {
  const where = row === undefined ? '' : `row ${row}: `;
  throw new RxrlDataError(`${where}${message}`, { field, ...(row === undefined ? {} : { row }) });
}

/** `row[key]` as a string, or an error naming the field. */
export function requireString(row: Row, key: string, rowIndex?: number): string {
  const v = row[key];
  if (v === undefined || v === null)
    fail(`missing field "${key}" (expected a string)`, key, rowIndex);
  if (typeof v !== 'string')
    fail(`field "${key}" must be a string, got ${describe(v)}`, key, rowIndex);
  return v;
}

/** A list of `{role, content}` chat messages (OpenAI format), validated entry by entry. */
export function parseMessages(value: unknown, field: string, rowIndex?: number): ChatMessage[] {
  if (!Array.isArray(value))
    fail(
      `field "${field}" must be a list of {role, content} messages, got ${describe(value)}`,
      field,
      rowIndex,
    );
  if (value.length === 0) fail(`field "${field}" is an empty message list`, field, rowIndex);
  return value.map((m, i) => {
    const at = `${field}[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m))
      fail(`field "${at}" must be a {role, content} object, got ${describe(m)}`, at, rowIndex);
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string')
      fail(`field "${at}.role" must be a string, got ${describe(role)}`, `${at}.role`, rowIndex);
    if (typeof content !== 'string')
      fail(
        `field "${at}.content" must be a string, got ${describe(content)}`,
        `${at}.content`,
        rowIndex,
      );
    return { ...(m as Record<string, unknown>), role, content } as ChatMessage;
  });
}

/** `row[key]` as a string or a message list, or an error naming the field. */
export function requireTextOrMessages(row: Row, key: string, rowIndex?: number): TextOrMessages {
  const v = row[key];
  if (v === undefined || v === null)
    fail(`missing field "${key}" (expected a string or a message list)`, key, rowIndex);
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return parseMessages(v, key, rowIndex);
  return fail(
    `field "${key}" must be a string or a message list, got ${describe(v)}`,
    key,
    rowIndex,
  );
}

/** A ground-truth answer: a string, or a finite number written as its decimal string. */
export function requireAnswer(row: Row, key: string, rowIndex?: number): string {
  const v = row[key];
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined || v === null)
    fail(`missing field "${key}" (expected a string or number answer)`, key, rowIndex);
  if (typeof v !== 'string')
    fail(`field "${key}" must be a string or number answer, got ${describe(v)}`, key, rowIndex);
  return v;
}

/** Throw the standard data error (exported for the formats' own checks). */
export function dataError(message: string, field: string, rowIndex?: number): never {
  return fail(message, field, rowIndex);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string')
    return `the string ${JSON.stringify(v.length > 30 ? v.slice(0, 30) + '…' : v)}`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
