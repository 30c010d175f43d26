import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '@rxrl/core';
import type { Tokenizer } from '@rxrl/core/base';
import { BuiltinTokenizer, HfTokenizer } from '@rxrl/data';
import { CausalLM } from '@rxrl/model';
import { generate } from '@rxrl/rollout';
import type { GenerationReply, GenerationRequest, GenerationWorkerData } from './protocol';

// A copy of the policy in its own thread (and its own single-threaded backend
// instance), generating while the main thread trains. Requests are handled one at
// a time in arrival order, so a `weights` message sent before a `generate` is in
// place when that generation starts. Only host arrays cross the thread boundary.

const data = workerData as GenerationWorkerData;
const port = parentPort!;
const send = (m: GenerationReply) => port.postMessage(m);

await selectBackend(data.backend as Parameters<typeof selectBackend>[0]);
let model = CausalLM.fromHfWeights(data.config, data.weights, {
  trainable: true,
  source: 'generation worker weights',
});
const vars = model.trainableVariables();
for (const slot of data.layout) {
  if (!vars.has(slot.name))
    throw new Error(`generation worker: the policy copy has no variable '${slot.name}'`);
}
const tokenizer: Tokenizer =
  data.tokenizerSource === 'builtin'
    ? new BuiltinTokenizer()
    : await HfTokenizer.fromDirectory(data.tokenizerSource);

function assignWeights(flat: Float32Array): void {
  let offset = 0;
  for (const slot of data.layout) {
    const v = vars.get(slot.name)!;
    const t = tf.tensor(flat.subarray(offset, offset + slot.size), v.shape, 'float32');
    v.assign(t);
    t.dispose();
    offset += slot.size;
  }
  if (offset !== flat.length)
    throw new Error(`generation worker: weights hold ${flat.length} floats, the layout ${offset}`);
}

async function handle(m: GenerationRequest): Promise<void> {
  if (m.type === 'weights') {
    assignWeights(m.flat);
    return;
  }
  if (m.type === 'merged_weights') {
    const next = CausalLM.fromHfWeights(data.config, m.weights, {
      trainable: false,
      source: 'generation worker merged weights',
    });
    model.dispose();
    model = next;
    return;
  }
  if (m.type === 'memory') {
    send({ type: 'memory', numTensors: tf.memory().numTensors });
    return;
  }
  const t0 = performance.now();
  const samples = await generate(model, tokenizer, m.prompts, m.options, { requestKeys: m.keys });
  // copied, not transferred: a sample's arrays may be views of one shared buffer
  send({ type: 'samples', id: m.id, samples, seconds: (performance.now() - t0) / 1000 });
}

let chain: Promise<void> = Promise.resolve();
port.on('message', (m: GenerationRequest) => {
  chain = chain.then(() =>
    handle(m).catch((e: unknown) =>
      send({
        type: 'error',
        id: m.type === 'generate' ? m.id : null,
        message: e instanceof Error ? e.message : String(e),
      }),
    ),
  );
});
send({ type: 'ready' });
