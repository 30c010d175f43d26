// the tests' tiny model is the one the exported test harness trains
export { TINY_POLICY_INIT } from '../../testHarness/tinyPolicy';
