/**
 * A value as shown in messages: JSON, shortened to `max` characters. Never throws
 * (bigints, functions, symbols and cycles get a readable stand-in).
 */
export function describeValue(value: unknown, max = 80): string {
  let text: string;
  if (value === undefined) text = 'undefined';
  else if (typeof value === 'bigint') text = `${value}n`;
  else if (typeof value === 'function') text = '[function]';
  else if (typeof value === 'symbol') text = value.toString();
  else if (typeof value === 'number' && !Number.isFinite(value)) text = String(value);
  else {
    const seen = new WeakSet<object>();
    try {
      text =
        JSON.stringify(value, (_key, v: unknown) => {
          if (typeof v === 'bigint') return `${v}n`;
          if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
          if (typeof v === 'object' && v !== null) {
            if (seen.has(v)) return '[circular]';
            seen.add(v);
          }
          return v;
        }) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
