import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/rxrl-dpo.js', import.meta.url));

describe('rxrl-dpo', () => {
  it('is the rxrl dpo command: same help, exit 0', () => {
    const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/rxrl dpo/);
    expect(r.stdout).toMatch(/--config/);
  });

  it('exits 2 with the key path when the recipe is missing', () => {
    const r = spawnSync(process.execPath, [bin, '--config', 'no/such/recipe.yaml'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no\/such\/recipe\.yaml/);
  });
});
