import { describe, expect, it } from 'vitest';
import { isSourceModule, siblingModule, SOURCE_CONDITION, workerExecArgv } from './sourceMode';

describe('source mode', () => {
  const source = 'file:///repo/libs/parallel/src/dataParallelTrainer.ts';
  const built = 'file:///app/node_modules/@rxrl/parallel/dist/dataParallelTrainer.js';

  it('tells TypeScript sources from built JavaScript by the module URL', () => {
    expect(isSourceModule(source)).toBe(true);
    expect(isSourceModule('file:///x/a.mts')).toBe(true);
    expect(isSourceModule(built)).toBe(false);
    expect(isSourceModule('file:///x/a.mjs')).toBe(false);
    // this very test runs from source
    expect(isSourceModule(import.meta.url)).toBe(true);
  });

  it('names the sibling module with the extension of the running code', () => {
    expect(siblingModule(source, './replica').href).toBe(
      'file:///repo/libs/parallel/src/replica.ts',
    );
    expect(siblingModule(built, './replica').href).toBe(
      'file:///app/node_modules/@rxrl/parallel/dist/replica.js',
    );
  });

  it('gives workers the source condition only when running from source', () => {
    expect(SOURCE_CONDITION).toBe('@rxrl/source');
    expect(workerExecArgv(source)).toEqual(['--conditions=@rxrl/source']);
    expect(workerExecArgv(built)).toEqual([]);
  });
});
