import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';

/** The fully resolved config as YAML text, as printed at the start of a run. */
export function formatResolvedConfig(config: unknown): string {
  return stringify(config, { lineWidth: 0, aliasDuplicateObjects: false, blockQuote: false });
}

/** Write the resolved config to `<runDir>/config.yaml` (creating the directory); returns the file path. */
export function saveResolvedConfig(runDir: string, config: unknown): string {
  fs.mkdirSync(runDir, { recursive: true });
  const file = path.join(runDir, 'config.yaml');
  fs.writeFileSync(file, formatResolvedConfig(config));
  return file;
}
