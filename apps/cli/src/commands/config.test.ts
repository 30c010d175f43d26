import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-config-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fakeIo = () => makeFakeIo(root);

describe('rxrl config', () => {
  it('prints the resolved config and --save writes config.yaml', async () => {
    const { io, out, err } = fakeIo();
    const dir = path.join(tmp, 'saved');
    expect(await runCli(['config', 'configs/base.yaml', 'seed=0', '--save', dir], io)).toBe(0);
    expect(out).toEqual(['seed: 0\nlogger:\n  log_dir: null']);
    expect(err).toEqual([`rxrl: saved ${path.relative(root, path.join(dir, 'config.yaml'))}`]);
    expect(parse(fs.readFileSync(path.join(dir, 'config.yaml'), 'utf8'))).toEqual({
      seed: 0,
      logger: { log_dir: null },
    });
  });

  it('usage errors: no recipe, or an override where the recipe goes', async () => {
    const none = fakeIo();
    expect(await runCli(['config'], none.io)).toBe(2);
    expect(none.err).toEqual([
      "rxrl config: missing the recipe file\nRun 'rxrl config --help' for usage.",
    ]);
    const swapped = fakeIo();
    expect(await runCli(['config', 'seed=1', 'configs/base.yaml'], swapped.io)).toBe(2);
    expect(swapped.err).toEqual([
      "rxrl config: the first argument must be the recipe file, got the override 'seed=1'\nRun 'rxrl config --help' for usage.",
    ]);
  });

  it('a missing recipe or a bad override is a configuration error, exit 2', async () => {
    const missing = fakeIo();
    expect(await runCli(['config', 'configs/nope.yaml'], missing.io)).toBe(2);
    expect(missing.err).toEqual([
      'rxrl config: cannot read recipe configs/nope.yaml (file not found)',
    ]);
    const bad = fakeIo();
    expect(await runCli(['config', 'configs/base.yaml', 'logger'], bad.io)).toBe(2);
    expect(bad.err).toEqual([
      'rxrl config: command line logger: an override must look like key.path=value',
    ]);
  });
});
