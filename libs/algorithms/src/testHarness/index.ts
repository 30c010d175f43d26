// @rxrl/algorithms/testing: check a training algorithm (SFT, DPO, GRPO with the stock or a
// custom objective, or a plugin) on a tiny model — it learns, its gradients stay finite,
// and micro-batching changes nothing.
export {
  AlgorithmTestCase,
  type AlgorithmTestOptions,
  type AlgorithmTestReport,
} from './algorithmTestCase';
export type { AlgorithmUnderTest } from './algorithmFixture';
export { GradientProbe } from './gradientProbe';
export { TINY_POLICY_INIT } from './tinyPolicy';
