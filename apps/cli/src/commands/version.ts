import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Command } from '../command';

function packageVersion(file: string | URL): string {
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** `rxrl version`: rxrl, Node.js and TensorFlow.js versions, for bug reports. */
export const command: Command = {
  name: 'version',
  summary: 'Print the versions of rxrl, Node.js and TensorFlow.js',
  usage: 'rxrl version',
  options: {},
  run({ io }) {
    const require = createRequire(import.meta.url);
    // this package's own package.json: two levels up from src/commands and from dist/commands
    io.out(`rxrl ${packageVersion(new URL('../../package.json', import.meta.url))}`);
    io.out(`node ${process.version}`);
    io.out(
      `@tensorflow/tfjs-core ${packageVersion(require.resolve('@tensorflow/tfjs-core/package.json'))}`,
    );
  },
};
