import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { fakeIo } from '../testing/fakeIo';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-init-model-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('rxrl init-model', () => {
  it('refuses to write random weights over a model directory unless --force', async () => {
    const out = path.join(tmp, 'model');
    const args = ['init-model', '--arch', 'llama', '--out', out, '--backend', 'cpu'];
    expect(await runCli([...args, '--seed', '1'], fakeIo(tmp).io)).toBe(0);
    const weights = path.join(out, 'model.safetensors');
    const trained = fs.readFileSync(weights);

    const again = fakeIo(tmp);
    expect(await runCli([...args, '--seed', '2'], again.io)).toBe(2);
    expect(again.err.join('\n')).toContain(
      `--out ${out} already holds a model (config.json, model.safetensors, tokenizer.json); pass --force`,
    );
    expect(fs.readFileSync(weights).equals(trained)).toBe(true);

    expect(await runCli([...args, '--seed', '2', '--force'], fakeIo(tmp).io)).toBe(0);
    expect(fs.readFileSync(weights).equals(trained)).toBe(false);

    // an existing directory with no model in it is fine; a file is our own error
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    const emptyArgs = ['init-model', '--arch', 'gpt2', '--out', empty, '--backend', 'cpu'];
    expect(await runCli(emptyArgs, fakeIo(tmp).io)).toBe(0);
    const file = path.join(tmp, 'file');
    fs.writeFileSync(file, 'x');
    const onFile = fakeIo(tmp);
    const fileArgs = ['init-model', '--arch', 'llama', '--out', file, '--backend', 'cpu'];
    expect(await runCli(fileArgs, onFile.io)).toBe(2);
    expect(onFile.err.join('\n')).toContain('a file is there, not a directory');
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });
});
