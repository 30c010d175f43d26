// The worker thread of `WorkerEncoder`: loads the model directory's tokenizer and encodes
// the texts it is sent, so a long prompt is tokenised off the server's event loop.
import { parentPort, workerData } from 'node:worker_threads';

interface Job {
  id: number;
  text: string;
  addSpecialTokens: boolean;
}

const port = parentPort!;
const { HfTokenizer } = await import('@rxrl/data');
const tokenizer = await HfTokenizer.fromDirectory((workerData as { dir: string }).dir);
port.on('message', ({ id, text, addSpecialTokens }: Job) => {
  try {
    const ids = Int32Array.from(tokenizer.encode(text, { addSpecialTokens }));
    port.postMessage({ id, ids }, [ids.buffer]);
  } catch (e) {
    port.postMessage({ id, error: (e as Error).message });
  }
});
port.postMessage({ ready: true });
