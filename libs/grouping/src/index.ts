// Advantage estimation, reward scaling / shaping and dynamic sampling (src/advantages).
export * from './advantages/index';
