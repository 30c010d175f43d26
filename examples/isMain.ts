import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Whether the module at `url` (its `import.meta.url`) is the script node was started
 * with: an example runs when started, and only exports its pieces when a test imports it.
 */
export function isMain(url: string): boolean {
  const script = process.argv[1];
  return script !== undefined && url === pathToFileURL(path.resolve(script)).href;
}

/** Steps of an example run: `RXRL_EXAMPLE_STEPS` (the tests run 2), else the example's own number. */
export function exampleSteps(fallback: number): number {
  const n = Number(process.env['RXRL_EXAMPLE_STEPS']);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}
