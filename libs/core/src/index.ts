export * from './base/index';
