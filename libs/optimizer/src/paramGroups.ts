/**
 * A parameter group: the variables whose name matches get their own
 * hyper-parameters (as torch's param_groups), e.g. no weight decay on norms and biases.
 */
export interface ParamGroup {
  /** which variable names belong to the group: a predicate, a regular expression or a list of names */
  match: ((name: string) => boolean) | RegExp | readonly string[];
  /** weight decay for the group (replaces the optimizer's) */
  weight_decay?: number;
  /** multiplies the scheduled learning rate for the group */
  lr_scale?: number;
}

/** Per-variable hyper-parameters after resolving groups. */
export interface ResolvedHyper {
  weightDecay: number;
  lrScale: number;
}

/** The usual exclusion: biases and normalisation weights get no weight decay. */
export function isNormOrBias(name: string): boolean {
  const parts = name.split(/[./]/);
  if (parts[parts.length - 1] === 'bias') return true;
  // model.norm.weight, input_layernorm.weight, ln_f.weight, h.0.ln_1.weight
  return parts.some((p) => /norm/i.test(p) || /^ln(_|$)/i.test(p));
}

function matches(group: ParamGroup, name: string): boolean {
  const m = group.match;
  if (typeof m === 'function') return m(name);
  if (m instanceof RegExp) return m.test(name);
  return (m as readonly string[]).includes(name);
}

/** Resolves a variable's hyper-parameters: the first matching group wins, else the defaults. */
export function resolveHyper(
  name: string,
  groups: readonly ParamGroup[],
  weightDecay: number,
): ResolvedHyper {
  for (const g of groups) {
    if (matches(g, name))
      return { weightDecay: g.weight_decay ?? weightDecay, lrScale: g.lr_scale ?? 1 };
  }
  return { weightDecay, lrScale: 1 };
}
