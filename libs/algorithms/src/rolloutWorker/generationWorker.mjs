// Worker-thread entry of WorkerGenerator. Plain JS so Node can start it without a
// loader; it registers tsx (a worker's `--import tsx` is not honoured on Node 20)
// and then runs the TypeScript worker.
const { register } = await import('tsx/esm/api');
register();
await import(new URL('./generationWorker.ts', import.meta.url).href);
