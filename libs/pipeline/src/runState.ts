/** What the runner itself checkpoints next to the algorithm's files (`runner.json`). */
export interface RunState {
  /** training steps completed */
  step: number;
  /** current epoch (0-based) */
  epoch: number;
  /** batches of the current epoch already consumed: the data cursor */
  position: number;
  /** best value of the early-stopping metric so far, null before the first validation */
  best: number | null;
  /** validations since the best one */
  sinceBest: number;
}

export const RUN_STATE_FILE = 'runner.json';

export function initialRunState(): RunState {
  return { step: 0, epoch: 0, position: 0, best: null, sinceBest: 0 };
}
