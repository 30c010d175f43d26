import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { writeRunConfig } from './runConfigFile';

/** A run directory with an earlier config.yaml and a checkpoint a resume would continue. */
function runDirWith(earlier: object): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-runcfg-'));
  fs.writeFileSync(path.join(dir, 'config.yaml'), stringify(earlier));
  fs.mkdirSync(path.join(dir, 'checkpoints', 'step_00000002'), { recursive: true });
  return dir;
}

const earlier = { policy: { lr: 1e-5, lora: null, max_grad_norm: 1 }, sft: { max_num_steps: 2 } };

describe('writeRunConfig on resume', () => {
  it('accepts an option a newer version added at its default, keeping the earlier file', () => {
    const dir = runDirWith(earlier);
    const now = { ...earlier, policy: { ...earlier.policy, activation_checkpointing: false } };
    const { note } = writeRunConfig(dir, now, 'auto', dir);
    expect(note).toContain('policy.activation_checkpointing: (absent) -> false');
    expect(fs.existsSync(path.join(dir, 'config.1.yaml'))).toBe(true);
  });

  it('still refuses a changed learning rate, and turning LoRA on, naming the keys', () => {
    const lr = { ...earlier, policy: { ...earlier.policy, lr: 2e-5 } };
    expect(() => writeRunConfig(runDirWith(earlier), lr, 'auto', '/')).toThrow(
      /policy\.lr: 0\.00001 -> 0\.00002/,
    );
    const lora = { ...earlier, policy: { ...earlier.policy, lora: { r: 8 } } };
    expect(() => writeRunConfig(runDirWith(earlier), lora, 'auto', '/')).toThrow(
      /policy\.lora: null -> \(absent\)/,
    );
  });
});
