import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  describeBackend,
  requestedBackend,
  selectBackend,
  TENSORFLOW_INSTALL_HINT,
} from './selectBackend';

const saved = process.env['RXRL_BACKEND'];
afterEach(() => {
  if (saved === undefined) delete process.env['RXRL_BACKEND'];
  else process.env['RXRL_BACKEND'] = saved;
});

describe('selectBackend', () => {
  it('auto falls back to wasm when no tfjs-node package is installed, and says why', async () => {
    delete process.env['RXRL_BACKEND'];
    const choice = await selectBackend();
    expect(choice.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(describeBackend(choice)).toMatch(
      /^rxrl: backend wasm — auto: no @tensorflow\/tfjs-node/,
    );
    // the optional native matMul says whether it is on, and how to get it when it is not
    expect(describeBackend(choice)).toMatch(/; native matMul (on \(OpenBLAS|.*build:native)/);
  });

  it('honours RXRL_BACKEND, and --backend wins over it', async () => {
    process.env['RXRL_BACKEND'] = 'cpu';
    expect((await selectBackend()).backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(describeBackend(await selectBackend())).toContain('requested by RXRL_BACKEND');
    const choice = await selectBackend('wasm');
    expect(choice.backend).toBe('wasm');
    expect(choice.reason).toBe('requested by --backend');
  });

  it('explicit tensorflow without the package fails with install instructions and CUDA versions', async () => {
    await expect(selectBackend('tensorflow')).rejects.toThrow(
      /npm install @tensorflow\/tfjs-node@4\.22\.0/,
    );
    await expect(selectBackend('tensorflow')).rejects.toThrow(/CUDA 11\.8 and cuDNN 8\.6/);
    expect(TENSORFLOW_INSTALL_HINT).toContain('--backend wasm');
  });

  it('rejects unknown names, naming the source of the bad value', () => {
    expect(() => requestedBackend('gpu')).toThrow(
      "--backend: unknown backend 'gpu'; expected one of auto, tensorflow, wasm, cpu",
    );
    process.env['RXRL_BACKEND'] = 'webgl';
    expect(() => requestedBackend()).toThrow(/RXRL_BACKEND: unknown backend 'webgl'/);
    expect(requestedBackend(' WASM ')).toBe('wasm');
  });
});
