import type { BenchCase } from '../benchCase';

/** Every case `npm run bench` runs, in order. Add a case by adding its file here. */
export const cases: BenchCase[] = [];
