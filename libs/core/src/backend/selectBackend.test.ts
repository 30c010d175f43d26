import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { NATIVE_MATMUL_ADDON_PATH } from './nativeMatmul';
import {
  describeBackend,
  requestedBackend,
  selectBackend,
  TENSORFLOW_INSTALL_HINT,
} from './selectBackend';
import { probeWebgpu } from './webgpuBackend';

const saved = process.env['RXRL_BACKEND'];
afterEach(() => {
  if (saved === undefined) delete process.env['RXRL_BACKEND'];
  else process.env['RXRL_BACKEND'] = saved;
});

describe('selectBackend', () => {
  it('auto picks native when its addon is built, else wasm, and says why', async () => {
    delete process.env['RXRL_BACKEND'];
    const choice = await selectBackend();
    const gpu = await probeWebgpu();
    if (gpu.available && !gpu.adapter.software) {
      // a GPU machine: auto takes it through WebGPU (webgpuBackend.test.ts covers that backend)
      expect(choice.backend).toBe('webgpu');
      expect(choice.reason).toMatch(/^auto: WebGPU adapter /);
      return;
    }
    const native = existsSync(NATIVE_MATMUL_ADDON_PATH);
    expect(choice.backend).toBe(native ? 'native' : 'wasm');
    // one line, ending with why no GPU was taken
    expect(choice.reason).not.toContain('\n');
    expect(choice.reason).toMatch(/; no GPU through webgpu: .+$/);
    expect(tf.getBackend()).toBe(choice.backend);
    if (native) {
      expect(describeBackend(choice)).toMatch(
        /^rxrl: backend native — auto: no @tensorflow\/tfjs-node\(-gpu\) installed; the native addon is built: C kernels \(OpenBLAS sgemm on \d+ thread\(s\)\), tensors in process memory with no 4 GiB ceiling/,
      );
    } else {
      expect(describeBackend(choice)).toMatch(
        /^rxrl: backend wasm — auto: no @tensorflow\/tfjs-node.*not built \(`npm run build:native`\)/,
      );
    }
  });

  it('auto keeps models below 100M parameters on wasm and takes larger ones to native', async () => {
    delete process.env['RXRL_BACKEND'];
    const gpu = await probeWebgpu();
    if (gpu.available && !gpu.adapter.software) return; // auto takes the GPU at every size
    const tiny = await selectBackend(null, { parameters: 90_000 });
    expect(tiny.backend).toBe('wasm');
    const big = await selectBackend(null, { parameters: 494e6 });
    if (existsSync(NATIVE_MATMUL_ADDON_PATH)) {
      expect(tiny.reason).toMatch(
        /^auto: a 90k-parameter model steps faster on wasm \(XNNPACK, SIMD\) than on native; native takes models from 100M; no GPU through webgpu: [^\n]+$/,
      );
      expect(big.backend).toBe('native');
    } else expect(big.backend).toBe('wasm');
    // an explicit request ignores the hint
    expect((await selectBackend('cpu', { parameters: 494e6 })).backend).toBe('cpu');
  });

  it('explicit native without the addon fails naming how to build it', async () => {
    if (existsSync(NATIVE_MATMUL_ADDON_PATH)) {
      const choice = await selectBackend('native');
      expect(choice.backend).toBe('native');
      // tensors live in ordinary arrays: a matMul through OpenBLAS matches the closed form
      const y = tf.matMul(tf.ones([3, 4]), tf.ones([4, 2]));
      expect(Array.from(y.dataSync())).toEqual([4, 4, 4, 4, 4, 4]);
      y.dispose();
    } else {
      await expect(selectBackend('native')).rejects.toThrow(/build:native/);
    }
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
      "--backend: unknown backend 'gpu'; expected one of auto, tensorflow, webgpu, native, wasm, cpu",
    );
    process.env['RXRL_BACKEND'] = 'webgl';
    expect(() => requestedBackend()).toThrow(/RXRL_BACKEND: unknown backend 'webgl'/);
    expect(requestedBackend(' WASM ')).toBe('wasm');
  });
});
