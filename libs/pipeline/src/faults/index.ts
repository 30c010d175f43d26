export {
  onNonFiniteSchema,
  type OnNonFinite,
  NonFiniteError,
  assertFinite,
  nonFiniteMetricKey,
} from './nonFinite';
