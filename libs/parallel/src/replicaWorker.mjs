// Worker-thread entry of DataParallelTrainer. Plain JS so Node can start it without
// a loader; from the workspace's sources (or for a TypeScript step module) it
// registers tsx (`--import tsx` in a worker's execArgv is not honoured on Node 20),
// then runs the replica: replica.ts from source, replica.js when built.
import { workerData } from 'node:worker_threads';

if (workerData.useTsx) {
  let api;
  try {
    api = await import('tsx/esm/api');
  } catch (e) {
    throw new Error(
      `parallel: the replica worker needs the 'tsx' package to load TypeScript, which cannot be loaded: ${e.message}`,
    );
  }
  api.register();
}
await import(workerData.replicaUrl);
