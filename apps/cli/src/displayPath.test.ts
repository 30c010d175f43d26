import { describe, expect, it } from 'vitest';
import { displayPath } from './displayPath';

describe('displayPath', () => {
  it('is relative inside the working directory, absolute outside it, "." for itself', () => {
    expect(displayPath('/work/repo', '/work/repo/runs/grpo-1')).toBe('runs/grpo-1');
    expect(displayPath('/work/repo', 'runs/grpo-1')).toBe('runs/grpo-1');
    expect(displayPath('/work/repo', '/tmp/exp/policy')).toBe('/tmp/exp/policy');
    expect(displayPath('/work/repo', '../other/x')).toBe('/work/other/x');
    expect(displayPath('/work/repo', '/work/repo')).toBe('.');
    expect(displayPath('/work/repo', '/work/repository')).toBe('/work/repository');
  });
});
