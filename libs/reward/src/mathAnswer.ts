// Answer extraction and numeric equivalence for math verification. Pure string
// work, no dependencies: the same functions run inside worker threads.

/** Where to look for the final answer in a completion. */
export type ExtractionStrategy = 'boxed' | 'hash' | 'answer_tag' | 'last_number';

/** The content of the last `\boxed{...}` (or `\fbox{...}`), nested braces balanced; `\boxed 5` also works. */
export function extractBoxed(text: string): string | null {
  const re = /\\(?:boxed|fbox)\s*/g;
  let last: RegExpExecArray | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m;
  if (!last) return null;
  let i = last.index + last[0].length;
  if (text[i] !== '{') {
    const m = /^[^\s$]+/.exec(text.slice(i));
    return m ? m[0] : null;
  }
  let depth = 0;
  const start = ++i;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      i++; // an escaped brace (`\{`) does not open or close a group
    } else if (c === '{') {
      depth++;
    } else if (c === '}') {
      if (depth === 0) return text.slice(start, i).trim();
      depth--;
    }
  }
  return null; // unbalanced: the model stopped inside the box
}

/** The text after the last `####` on its line (GSM8K's answer marker). */
export function extractAfterHash(text: string): string | null {
  const i = text.lastIndexOf('####');
  if (i < 0) return null;
  const line = text
    .slice(i + 4)
    .split('\n')[0]
    .trim();
  return line === '' ? null : line;
}

/** The content of the last `<tag>...</tag>`. */
export function extractTag(text: string, tag: string): string | null {
  const open = `<${tag}>`;
  const close = `</${tag}>`;
  const end = text.lastIndexOf(close);
  if (end < 0) return null;
  const start = text.lastIndexOf(open, end);
  if (start < 0) return null;
  const inner = text.slice(start + open.length, end).trim();
  return inner === '' ? null : inner;
}

// A minus sign only when not glued to a preceding word or digit ("5-7" is a range, not -7).
const LAST_NUMBER =
  /(?:(?<![\w)])[-\u2212]\s*)?(?:\\[dt]?frac\{[^{}]*\}\{[^{}]*\}|(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:\s*\/\s*\d+)?|\.\d+)%?/g;

/** The last number in the text (integers, decimals, `1,234`, `3/4`, `\frac{3}{4}`, a trailing `%`). */
export function extractLastNumber(text: string): string | null {
  let last: string | null = null;
  for (const m of text.matchAll(LAST_NUMBER)) last = m[0];
  return last;
}

/** The answer found by the first strategy, in `order`, that finds one. */
export function extractAnswer(
  text: string,
  order: readonly ExtractionStrategy[],
  answerTag = 'answer',
): { strategy: ExtractionStrategy; answer: string } | null {
  for (const strategy of order) {
    const answer =
      strategy === 'boxed'
        ? extractBoxed(text)
        : strategy === 'hash'
          ? extractAfterHash(text)
          : strategy === 'answer_tag'
            ? extractTag(text, answerTag)
            : extractLastNumber(text);
    if (answer !== null) return { strategy, answer };
  }
  return null;
}

/** Ground truth as stored in datasets: GSM8K keeps reasoning before `#### 72`, MATH keeps `\boxed{}` in solutions. */
export function goldAnswer(answer: string): string {
  return extractAfterHash(answer) ?? extractBoxed(answer) ?? answer.trim();
}

/** LaTeX and prose decoration that never changes a value. */
function stripDecoration(s: string): string {
  return s
    .replace(/\\(?:text|mbox|mathrm|textbf|mathbf)\s*\{([^{}]*)\}/g, ' $1 ')
    .replace(/\\(?:left|right)\b/g, '')
    .replace(/\\[!,;: ]/g, '')
    .replace(/\{,\}/g, ',')
    .replace(/\\\$|\$/g, '')
    .replace(/\^\s*\{?\\circ\}?|°/g, '')
    .replace(/~/g, ' ')
    .replace(/\u2212/g, '-') // Unicode minus sign
    .trim();
}

const PLAIN = /^[+-]?(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?/i;

/** A plain number or a fraction of plain numbers, with its unparsed tail; null if `s` starts with neither. */
function readValue(s: string): { value: number; rest: string } | null {
  let sign = 1;
  let t = s.trimStart();
  if (t.startsWith('-') || t.startsWith('+')) {
    sign = t[0] === '-' ? -1 : 1;
    t = t.slice(1).trimStart();
  }
  const frac = /^\\[dt]?frac\s*(?:\{([^{}]*)\}|(\d))\s*(?:\{([^{}]*)\}|(\d))/.exec(t);
  if (frac) {
    const num = wholeValue(frac[1] ?? frac[2]);
    const den = wholeValue(frac[3] ?? frac[4]);
    if (num === null || den === null || den === 0) return null;
    return { value: (sign * num) / den, rest: t.slice(frac[0].length) };
  }
  const m = PLAIN.exec(t);
  if (!m) return null;
  let value = Number(m[0].replace(/,/g, ''));
  let rest = t.slice(m[0].length);
  const over = /^\s*\/\s*/.exec(rest);
  if (over) {
    const den = PLAIN.exec(rest.slice(over[0].length));
    if (den && !/^\s*\//.test(rest.slice(over[0].length + den[0].length))) {
      const d = Number(den[0].replace(/,/g, ''));
      if (d === 0) return null;
      value /= d;
      rest = rest.slice(over[0].length + den[0].length);
    }
  }
  return Number.isFinite(value) ? { value: sign * value, rest } : null;
}

/** A string that is exactly one number (fraction parts inside `\frac{}` braces). */
function wholeValue(s: string): number | null {
  const r = readValue(stripDecoration(s));
  return r && r.rest.trim() === '' ? r.value : null;
}

/**
 * The numeric values an answer string may mean, or null when it is not a number.
 * A percentage means both itself and its fraction (`50%` is 50 or 0.5), so either
 * convention in the ground truth matches. Trailing units, a final period and
 * `x =` prefixes are ignored.
 */
export function parseNumber(answer: string): number[] | null {
  let s = stripDecoration(answer).replace(/^[a-zA-Z]\w*\s*=\s*/, '');
  const r = readValue(s);
  if (!r) return null;
  s = r.rest.trim();
  let percent = false;
  if (/^(?:\\%|%|percent\b)/.test(s)) {
    percent = true;
    s = s.replace(/^(?:\\%|%|percent)/, '').trim();
  }
  // Allowed tail: a sentence end, or unit words ("dollars", "cm^2", "km/h"); not more math.
  // Digits in the tail only as a unit's power ("cm^2"): "2 or 3" is a hedge, not 2.
  if (s !== '' && !/^\.?$/.test(s) && !/^[a-zA-Z][a-zA-Z\s/.]*(?:\^\{?\d\}?)?\.?$/.test(s))
    return null;
  return percent ? [r.value, r.value / 100] : [r.value];
}

/** Canonical string form for answers that are not numbers (`(1, 2)`, `\sqrt{2}`, `x^2+1`). */
export function normalizeAnswer(answer: string): string {
  return stripDecoration(answer)
    .replace(/\\[dt]frac/g, '\\frac')
    .replace(/\s+/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** Tolerances for numeric equivalence: equal when |a − b| ≤ max(abs_tol, rel_tol · max(|a|, |b|)). */
export interface Tolerance {
  abs_tol: number;
  rel_tol: number;
}

/** True when the two numbers are equal within the tolerance. */
export function closeEnough(a: number, b: number, tol: Tolerance): boolean {
  return Math.abs(a - b) <= Math.max(tol.abs_tol, tol.rel_tol * Math.max(Math.abs(a), Math.abs(b)));
}

/** True when an extracted answer equals the ground truth: numerically within tolerance, else as normalised strings. */
export function answersEquivalent(predicted: string, gold: string, tol: Tolerance): boolean {
  const p = parseNumber(predicted);
  const g = parseNumber(gold);
  if (p && g) return p.some((a) => g.some((b) => closeEnough(a, b, tol)));
  return normalizeAnswer(predicted) === normalizeAnswer(gold);
}
