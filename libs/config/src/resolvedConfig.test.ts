import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { formatResolvedConfig, saveResolvedConfig } from './resolvedConfig';

const config = {
  seed: 7,
  policy: { model_name: 'Qwen/Qwen3-0.6B', learning_rate: 1e-6, max_grad_norm: null },
  grpo: { stop_strings: ['</answer>', '\n\n'], loss_type: 'token' },
};

describe('resolved config', () => {
  it('formats as YAML that reads back to the same object', () => {
    const text = formatResolvedConfig(config);
    expect(text).toBe(
      [
        'seed: 7',
        'policy:',
        '  model_name: Qwen/Qwen3-0.6B',
        '  learning_rate: 0.000001',
        '  max_grad_norm: null',
        'grpo:',
        '  stop_strings:',
        '    - </answer>',
        '    - "\\n\\n"',
        '  loss_type: token',
        '',
      ].join('\n'),
    );
    expect(parse(text)).toEqual(config);
  });

  it('saves config.yaml into the run directory, creating it', () => {
    const runDir = path.join(
      fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-config-')),
      'runs',
      'grpo-1',
    );
    const file = saveResolvedConfig(runDir, config);
    expect(file).toBe(path.join(runDir, 'config.yaml'));
    expect(parse(fs.readFileSync(file, 'utf8'))).toEqual(config);
    fs.rmSync(path.dirname(path.dirname(runDir)), { recursive: true, force: true });
  });
});
