import type { BenchCase } from '../benchCase';
import { dataParallelCase } from './dataParallel';
import { dataThroughputCase } from './dataThroughput';
import { generation } from './generation';
import { grpoStepCase } from './grpoStep';
import { pipelineOverheadCase } from './pipelineOverhead';
import { realCase, realGenerateCase, realGrpoCase } from './real';
import { refLogProbsCase } from './refLogProbs';
import { trainProfileCase } from './trainProfile';
import { trainStepCase } from './trainStep';

/** Every case `npm run bench` runs, in order. Add a case by adding its file here. */
export const cases: BenchCase[] = [
  generation,
  trainStepCase,
  trainProfileCase,
  refLogProbsCase,
  pipelineOverheadCase,
  dataThroughputCase,
  dataParallelCase,
  grpoStepCase,
  realCase,
  realGrpoCase,
  realGenerateCase,
];
