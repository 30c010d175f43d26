/** The parts of a resolved recipe the first line of a run names (every algorithm has them). */
interface SummaryFields {
  policy?: { model_name?: string | null; init?: { arch?: string; preset?: string } | null };
  data?: {
    dataset_name?: string | null;
    train_data_path?: string | null;
    arithmetic?: {
      operators?: string[];
      min_digits?: number;
      max_digits?: number;
      operand_sampling?: string;
    };
  };
}

/** `builtin:arithmetic (+ - on 1-2 digit operands, uniform)`, or the training file. */
function dataLine(data: SummaryFields['data']): string {
  const name = data?.dataset_name ?? null;
  if (name === 'builtin:arithmetic' || name === 'arithmetic') {
    const a = data?.arithmetic ?? {};
    // a recipe section that does not resolve the task's options (a plugin's) names what it has
    const digits =
      a.min_digits === undefined || a.max_digits === undefined
        ? null
        : a.min_digits === a.max_digits
          ? `${a.min_digits}`
          : `${a.min_digits}-${a.max_digits}`;
    const parts = [
      [(a.operators ?? []).join(' '), digits === null ? '' : `on ${digits} digit operands`]
        .filter((x) => x !== '')
        .join(' '),
      a.operand_sampling ?? (digits === null ? '' : 'uniform'),
    ].filter((x) => x !== '');
    return parts.length > 0 ? `builtin:arithmetic (${parts.join(', ')})` : 'builtin:arithmetic';
  }
  return name ?? data?.train_data_path ?? 'the recipe’s data';
}

/**
 * The first line of a run: `rxrl grpo: GRPO on <task> from <start model>, <N> steps`.
 * `steps` is the algorithm section's `max_num_steps`.
 */
export function runSummary(algorithm: string, config: unknown): string {
  const c = config as SummaryFields & Record<string, { max_num_steps?: number } | undefined>;
  const init = c.policy?.init;
  const start =
    c.policy?.model_name ??
    (init
      ? `a fresh ${init.arch ?? ''} ${init.preset ?? ''} model (random weights)`
      : 'the recipe’s model');
  const steps = c[algorithm]?.max_num_steps;
  return `rxrl ${algorithm}: ${algorithm.toUpperCase()} on ${dataLine(c.data)} from ${start}${steps !== undefined ? `, ${steps} steps` : ''}`;
}
