/** A completion text as logged at one step, counted once however often it was drawn. */
export interface DistinctCompletion {
  text: string;
  count: number;
  correct: boolean | null;
}

/** One prompt of one split: its answer, and its distinct completions step by step (latest first). */
export interface SampleGroup {
  split: string;
  prompt: string;
  answer: string | null;
  steps: { step: number; completions: DistinctCompletion[] }[];
}

function correctness(s: Record<string, unknown>): boolean | null {
  if (typeof s['correct'] === 'boolean') return s['correct'];
  if (typeof s['correct'] === 'number') return s['correct'] > 0;
  if (typeof s['reward'] === 'number') return s['reward'] > 0;
  return null;
}

/**
 * The samples of each split's last `steps` logged steps, grouped by (split, prompt):
 * a GRPO group of 8 completions shows its prompt once, a validation prompt logged at
 * every validation shows once with what it answered at each, and identical
 * completions show once with their count. Samples without a text `prompt` are left
 * out (the report lists those raw). Latest groups first.
 */
export function groupSamples(samples: Record<string, unknown>[], steps = 4): SampleGroup[] {
  const withPrompt = samples.filter((s) => typeof s['prompt'] === 'string');
  const splitOf = (s: Record<string, unknown>) =>
    typeof s['split'] === 'string' ? s['split'] : 'train';
  const latest = new Map<string, Set<number>>();
  for (const split of new Set(withPrompt.map(splitOf))) {
    const stepsOf = new Set(
      withPrompt.filter((s) => splitOf(s) === split).map((s) => s['step'] as number),
    );
    latest.set(split, new Set([...stepsOf].sort((a, b) => b - a).slice(0, steps)));
  }
  const groups = new Map<string, SampleGroup>();
  for (const s of withPrompt) {
    const step = s['step'] as number;
    const split = splitOf(s);
    if (!latest.get(split)!.has(step)) continue;
    const prompt = s['prompt'] as string;
    const key = `${split}\u0000${prompt}`;
    let g = groups.get(key);
    if (g === undefined) {
      const answer = s['answer'] === undefined ? null : String(s['answer']);
      g = { split, prompt, answer, steps: [] };
      groups.set(key, g);
    }
    let at = g.steps.find((x) => x.step === step);
    if (at === undefined) {
      at = { step, completions: [] };
      g.steps.push(at);
    }
    const text =
      typeof s['completion'] === 'string' ? s['completion'] : JSON.stringify(s['completion']);
    const same = at.completions.find((c) => c.text === text);
    if (same) same.count++;
    else at.completions.push({ text, count: 1, correct: correctness(s) });
  }
  for (const g of groups.values()) {
    g.steps.sort((a, b) => b.step - a.step);
    for (const at of g.steps) at.completions.sort((a, b) => b.count - a.count);
  }
  return [...groups.values()].sort(
    (a, b) => a.split.localeCompare(b.split) || b.steps[0]!.step - a.steps[0]!.step,
  );
}
