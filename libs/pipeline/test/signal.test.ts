import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readMetricsJsonl } from '@rxrl/logging';

const here = path.dirname(fileURLToPath(import.meta.url));

describe.each(['SIGINT', 'SIGTERM'] as const)('%s', (signal) => {
  it('finishes the current step, checkpoints it and stops', async () => {
    const runDir = mkdtempSync(path.join(tmpdir(), 'rxrl-signal-'));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(here, 'signalChild.ts'), runDir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && out.includes('step 3\n')) {
        sent = true;
        child.kill(signal); // arrives while step 3 is in flight
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(out.trim().split('\n').at(-1)).toBe('done 3 signal');
    expect(readdirSync(path.join(runDir, 'checkpoints'))).toEqual(['step_00000003']);
    expect(readMetricsJsonl(path.join(runDir, 'metrics.jsonl')).map((r) => r['step'])).toEqual([
      1, 2, 3,
    ]);
  });
});
