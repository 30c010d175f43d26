// Advantage estimation, reward scaling / shaping and dynamic sampling (src/advantages).
export * from './advantages/index';

// Group formation strategies, size bounds, quality metrics and the grouping.form_groups stage (src/strategies).
export * from './strategies/index';
