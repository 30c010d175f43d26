/**
 * Prints the WebGPU adapter Dawn finds (the `webgpu` backend's device), or why
 * there is none, in one line; `--json` prints the status as JSON. Exit 0 with
 * an adapter, 3 without.
 *
 *   node --import tsx tools/gpu/adapter.ts [--json]
 */
import { adapterLine, probeWebgpu } from '@rxrl/core';

const status = await probeWebgpu();
if (process.argv.includes('--json')) console.log(JSON.stringify(status));
else if (status.available) {
  const a = status.adapter;
  console.log(
    `webgpu adapter: ${adapterLine(a)}; max buffer ${(a.maxBufferSize / 2 ** 20).toFixed(0)} MiB, ` +
      `max storage binding ${(a.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`,
  );
} else console.log(`webgpu: no adapter — ${status.reason}`);
process.exitCode = status.available ? 0 : 3;
