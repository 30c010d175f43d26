export { type MetricSink, type StepMetrics, MultiSink, checkMetricNames } from './metricSink';
export { JsonlSink, readMetricsJsonl } from './jsonlSink';
export { TensorBoardSink } from './tensorboardSink';
export { ProgressSink, type ProgressOptions, formatDuration } from './progressSink';
export { StepTimer } from './timer';
export { TensorBoardWriter } from './tensorboard/eventWriter';
export { readEventFile, type TensorBoardEvent } from './tensorboard/eventReader';
export { crc32c, maskedCrc32c } from './tensorboard/crc32c';
export {
  renderReport,
  writeReport,
  lineChart,
  headline,
  REPORT_PANELS,
  type ReportInput,
} from './htmlReport';
export { explainMetric, METRIC_GLOSSARY } from './metricGlossary';
export { groupSamples, type SampleGroup } from './sampleGroups';
export { summarizeValues, type ValueSummary } from './valueSummary';
export {
  compareRuns,
  comparisonLines,
  defaultMetrics,
  groupRuns,
  renderComparison,
  IGNORED_KEYS,
  type Comparison,
  type ComparedRun,
  type FinalComparison,
  type RunGroup,
} from './compareRuns';
export {
  logGamma,
  regularizedBeta,
  studentTCdf,
  studentTQuantile,
  studentTTwoSided,
} from './stats/studentT';
export {
  meanConfidenceInterval,
  summarizeSample,
  welchTTest,
  type SampleSummary,
  type WelchResult,
} from './stats/welchTTest';
