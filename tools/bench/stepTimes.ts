/**
 * Training-step times measured earlier in this run, by preset, so later cases
 * (pipeline overhead) can state their cost as a fraction of a real step
 * without timing the step again.
 */
export const stepTimes = new Map<string, { ms: number; batch: number; seq: number }>();
