// Entry of the tokenizer worker thread, plain JS so Node starts it without a loader:
// like bin/rxrl.js, it runs the TypeScript source through tsx in the workspace and
// the built JavaScript in an installed package.
import { workerData } from 'node:worker_threads';

if (workerData.fromSource) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./tokenizeWorker.ts');
} else {
  await import('./tokenizeWorker.js');
}
