// Worker-thread side of the verifier pool (plain JS so it runs with or without tsx).
// Loads one verifier module, says 'ready', then scores samples one message at a time.
import { parentPort, workerData } from 'node:worker_threads';

if (workerData.useTsx) {
  // `--import tsx` in a worker's execArgv is not honoured on Node 20; registering the hooks here is.
  let api;
  try {
    api = await import('tsx/esm/api');
  } catch (e) {
    throw new Error(
      `a TypeScript verifier needs the 'tsx' package, which cannot be loaded: ${e.message}`,
    );
  }
  api.register();
}
const mod = await import(workerData.moduleUrl);
const fn = mod[workerData.exportName];
if (typeof fn !== 'function') {
  throw new Error(
    `module '${workerData.module}' has no exported function '${workerData.exportName}'`,
  );
}
parentPort.on('message', async ({ id, sample }) => {
  try {
    const value = await fn(sample);
    parentPort.postMessage({ id, value });
  } catch (e) {
    parentPort.postMessage({
      id,
      error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
    });
  }
});
parentPort.postMessage({ ready: true });
