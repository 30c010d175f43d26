/**
 * Load a model directory with rxrl's loader and time it: the header check
 * (inspectPretrained), the load (loadPretrained, frozen) and one forward pass
 * over 8 tokens, with the process's RSS. For checking what
 * make-real-layouts.ts writes, or any Hugging Face directory.
 *
 *   node --import tsx tools/models/load-check.ts runs/real-layouts/smollm2-135m [--backend wasm|cpu|tensorflow]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@rxrl/core';
import { inspectPretrained, loadPretrained } from '@rxrl/model';

const { values, positionals } = parseArgs({
  options: { backend: { type: 'string', default: 'auto' } },
  allowPositionals: true,
});
if (positionals.length !== 1) {
  console.error('usage: node --import tsx tools/models/load-check.ts DIR [--backend NAME]');
  process.exit(2);
}
const dir = positionals[0]!;
const seconds = (t: number) => Number(((performance.now() - t) / 1000).toFixed(2));

let t = performance.now();
const info = await inspectPretrained(dir);
const inspectS = seconds(t);
const choice = await selectBackend(values.backend);
t = performance.now();
const model = await loadPretrained(dir, { trainable: false });
const loadS = seconds(t);
const rssGb = () => Number((process.memoryUsage().rss / 2 ** 30).toFixed(2));
// printed before the forward pass, which can take minutes on the cpu backend
console.log(`loaded in ${loadS} s, rss ${rssGb()} GB`);
t = performance.now();
const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], undefined, 'int32');
const logits = model.logits(ids);
const data = logits.dataSync();
const forwardS = seconds(t);
console.log(
  JSON.stringify({
    dir,
    backend: choice.backend,
    arch: info.config.arch,
    parameters: info.parameterCount,
    dtype: info.dtype,
    files: info.weights.files.length,
    inspect_s: inspectS,
    load_s: loadS,
    forward_8_tokens_s: forwardS,
    logits_shape: logits.shape,
    logits_finite: data.every((v) => Number.isFinite(v)),
    rss_gb: rssGb(),
  }),
);
tf.dispose([ids, logits]);
model.dispose();
