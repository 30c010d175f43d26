export {
  WorkerGenerator,
  type WorkerGeneratorOptions,
  type WorkerGeneratorStats,
} from './workerGenerator';
export { prefetchingSource, generationRequestOf } from './prefetchingSource';
export { withGenerationWorker } from './withGenerationWorker';
