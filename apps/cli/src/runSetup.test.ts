import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RxrlConfigError } from '@rxrl/core/base';
import { currentBackend } from '@rxrl/core';
import { runStamp, setupRun } from './runSetup';
import { configSections } from './sections';
import type { CliIo } from './io';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../test/fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-runsetup-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function fakeIo(cwd: string) {
  const out: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: () => undefined, env: {}, cwd };
  return { io, out };
}

describe('runStamp', () => {
  it('is UTC, sortable and shell-safe', () => {
    expect(runStamp(new Date(Date.UTC(2026, 10, 22, 4, 6, 9, 123)))).toBe('20261122-040609');
  });
});

describe('setupRun', () => {
  it('validates, selects the backend, prints its line and the config, saves config.yaml in runs/<algo>-<stamp>', async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, 'a-'));
    const { io, out } = fakeIo(cwd);
    const now = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const run = await setupRun({
      algorithm: 'grpo',
      recipe: path.join(fixtures, 'run.yaml'),
      overrides: ['seed=9'],
      sections: configSections,
      backend: 'cpu',
      io,
      now,
    });
    expect(run.config).toEqual({ seed: 9, logger: { log_dir: null } });
    expect(run.backend).toEqual({ backend: 'cpu', reason: 'requested by --backend' });
    expect(currentBackend()?.backend).toBe('cpu');
    expect(run.runDir).toBe(path.join(cwd, 'runs', 'grpo-20260102-030405'));
    expect(run.configFile).toBe(path.join(run.runDir, 'config.yaml'));
    expect(parse(fs.readFileSync(run.configFile, 'utf8'))).toEqual({
      seed: 9,
      logger: { log_dir: null },
    });
    expect(out).toEqual([
      'rxrl grpo: GRPO on the recipe’s data from the recipe’s model',
      'rxrl: backend cpu — requested by --backend',
      'rxrl: expected duration: estimated once the first 10 steps are timed',
      'rxrl: run directory runs/grpo-20260102-030405',
      'rxrl: resolved config saved to runs/grpo-20260102-030405/config.yaml (--print-config prints it)',
    ]);
    // a second run in the same second gets its own directory; --print-config prints the config
    out.length = 0;
    const again = await setupRun({
      algorithm: 'grpo',
      recipe: path.join(fixtures, 'run.yaml'),
      overrides: [],
      sections: configSections,
      backend: 'cpu',
      io,
      now,
      printConfig: true,
    });
    expect(out.slice(-2)).toEqual([
      'rxrl: resolved config (saved to runs/grpo-20260102-030405-2/config.yaml):',
      'seed: 5\nlogger:\n  log_dir: null',
    ]);
    expect(again.runDir).toBe(path.join(cwd, 'runs', 'grpo-20260102-030405-2'));
  });

  it('logger.log_dir names the run directory; --run-dir wins over it', async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, 'b-'));
    const common = {
      algorithm: 'sft',
      recipe: path.join(fixtures, 'run.yaml'),
      sections: configSections,
      backend: 'cpu',
      io: fakeIo(cwd).io,
    };
    const fromConfig = await setupRun({ ...common, overrides: ['logger.log_dir=out/exp1'] });
    expect(fromConfig.runDir).toBe(path.join(cwd, 'out', 'exp1'));
    expect(fs.existsSync(path.join(cwd, 'out', 'exp1', 'config.yaml'))).toBe(true);
    const fromFlag = await setupRun({
      ...common,
      overrides: ['logger.log_dir=out/exp1'],
      runDir: 'flag-dir',
    });
    expect(fromFlag.runDir).toBe(path.join(cwd, 'flag-dir'));
    expect(
      parse(fs.readFileSync(path.join(cwd, 'flag-dir', 'config.yaml'), 'utf8')).logger,
    ).toEqual({ log_dir: 'out/exp1' });
  });

  it('configuration errors come before backend selection and before any directory is made', async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, 'c-'));
    const { io, out } = fakeIo(cwd);
    const attempt = setupRun({
      algorithm: 'dpo',
      recipe: path.join(fixtures, 'bad.yaml'),
      overrides: [],
      sections: configSections,
      backend: 'no-such-backend',
      io,
    });
    await expect(attempt).rejects.toBeInstanceOf(RxrlConfigError);
    await expect(attempt).rejects.toThrow(
      [
        '2 configuration errors:',
        `  ${path.join(fixtures, 'bad.yaml')}:1 seed: expected an integer >= 0, got -4`,
        `  ${path.join(fixtures, 'bad.yaml')}:2 loger: unknown key, got {"log_dir":"out"}; did you mean \`logger\`?`,
      ].join('\n'),
    );
    expect(out).toEqual([]);
    expect(fs.readdirSync(cwd)).toEqual([]);
  });
});
