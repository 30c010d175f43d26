import type { BenchCase } from '../benchCase';
import { dataParallelCase } from './dataParallel';
import { generation } from './generation';

/** Every case `npm run bench` runs, in order. Add a case by adding its file here. */
export const cases: BenchCase[] = [generation, dataParallelCase];
