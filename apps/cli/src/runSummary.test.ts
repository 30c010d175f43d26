import { describe, expect, it } from 'vitest';
import { runSummary } from './runSummary';

describe('runSummary', () => {
  it('names the built-in task with its resolved options', () => {
    const line = runSummary('grpo', {
      policy: { model_name: 'models/arith-sft-1200' },
      grpo: { max_num_steps: 300 },
      data: {
        dataset_name: 'arithmetic',
        arithmetic: { operators: ['+', '-'], min_digits: 1, max_digits: 2 },
      },
    });
    expect(line).toBe(
      'rxrl grpo: GRPO on builtin:arithmetic (+ - on 1-2 digit operands, uniform) from models/arith-sft-1200, 300 steps',
    );
  });

  it('never prints undefined when a recipe section leaves the task options unresolved', () => {
    const partial = runSummary('train', {
      data: { dataset_name: 'builtin:arithmetic', arithmetic: { max_digits: 1 } },
    });
    expect(partial).toBe('rxrl train: TRAIN on builtin:arithmetic from the recipe’s model');
    const ops = runSummary('train', {
      data: { dataset_name: 'builtin:arithmetic', arithmetic: { operators: ['+'] } },
    });
    expect(ops).toBe('rxrl train: TRAIN on builtin:arithmetic (+) from the recipe’s model');
  });
});
