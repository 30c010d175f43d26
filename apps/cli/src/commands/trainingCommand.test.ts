import { describe, expect, it } from 'vitest';
import { exitCodeOf } from './trainingCommand';

describe('exitCodeOf', () => {
  it('is 0 for a run that came to its end, 128 + the signal number for one a signal stopped', () => {
    expect(exitCodeOf(null)).toBe(0);
    expect(exitCodeOf('SIGINT')).toBe(130);
    expect(exitCodeOf('SIGTERM')).toBe(143);
  });
});
