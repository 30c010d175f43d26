import type { SourceMap } from './source';

/** A configuration tree together with where each of its keys was set. */
export interface LoadedConfig {
  /** the merged configuration: mappings, lists and scalars */
  value: Record<string, unknown>;
  /** file:line or command line of every key that has one */
  sources: SourceMap;
  /** recipe files read: the requested one first, then the ones it extends, those that win more first */
  files: string[];
}
