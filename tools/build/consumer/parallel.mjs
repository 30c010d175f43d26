// Worker threads from the installed packages: two data-parallel replicas load the built
// replica.js and the default step module (no tsx), train three steps, print the losses.
import { selectBackend } from '@rxrl/core';
import { presetConfig } from '@rxrl/model';
import { DataParallelTrainer, sftTrainBatch } from '@rxrl/parallel';

await selectBackend('wasm');
const trainer = await DataParallelTrainer.create(
  presetConfig('llama', 'tiny', 64),
  { seed: 0 },
  { num_workers: 2, optimizer: { lr: 1e-3 } },
);
const rows = 4;
const T = 16;
const batch = sftTrainBatch({
  rows,
  inputIds: Int32Array.from({ length: rows * T }, (_, i) => (i * 7) % 64),
  targets: Int32Array.from({ length: rows * T }, (_, i) => (i * 7 + 7) % 64),
  tokenMask: new Float32Array(rows * T).fill(1),
});
const losses = [];
try {
  for (let step = 0; step < 3; step++) losses.push((await trainer.step(batch)).loss);
} finally {
  await trainer.dispose();
}
console.log(JSON.stringify(losses));
