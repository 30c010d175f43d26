// Entry of the tokenizer worker thread: like bin/rxrl.js, run the TypeScript source through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./tokenizeWorker.ts');
