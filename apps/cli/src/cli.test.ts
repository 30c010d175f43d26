import { describe, expect, it } from 'vitest';
import { RxrlConfigError, RxrlUsageError } from '@rxrl/core/base';
import { runCli } from './cli';
import type { Command } from './command';
import type { CliIo } from './io';

function fakeIo(env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    env,
    cwd: process.cwd(),
  };
  return { io, out, err };
}

const seen: unknown[] = [];
const commands: Command[] = [
  {
    name: 'echo',
    summary: 'Print the arguments',
    usage: 'rxrl echo [--upper] [words ...]',
    options: {
      upper: { type: 'boolean', short: 'u', description: 'upper-case the words' },
      tag: { type: 'string', valueName: 'name', multiple: true, description: 'a tag' },
    },
    run(args) {
      seen.push(args);
      const words = args.positionals.join(' ');
      args.io.out(args.values['upper'] ? words.toUpperCase() : words);
    },
  },
  {
    name: 'usage',
    summary: 'Fail with a usage error',
    usage: 'rxrl usage',
    options: {},
    run: () => {
      throw new RxrlUsageError('missing the thing');
    },
  },
  {
    name: 'config',
    summary: 'Fail with a config error',
    usage: 'rxrl config',
    options: {},
    run: () => {
      throw new RxrlConfigError('r.yaml:3 seed: expected an integer >= 0, got -1');
    },
  },
  {
    name: 'crash',
    summary: 'Fail during a run',
    usage: 'rxrl crash',
    options: {},
    run: async () => {
      throw new Error('disk full');
    },
  },
  { name: 'code', summary: 'Return exit code 3', usage: 'rxrl code', options: {}, run: () => 3 },
];

describe('runCli', () => {
  it('top-level --help lists every command with its summary, exit 0', async () => {
    const { io, out } = fakeIo();
    expect(await runCli(['--help'], io, commands)).toBe(0);
    expect(out.join('\n')).toContain(
      'Commands:\n  echo    Print the arguments\n  usage   Fail with a usage error\n',
    );
    expect(out.join('\n')).toContain('--backend <auto|tensorflow|webgpu|native|wasm|cpu>');
    const help = fakeIo();
    expect(await runCli(['help'], help.io, commands)).toBe(0);
    expect(help.out).toEqual(out);
  });

  it('no command prints the help to stderr, exit 2', async () => {
    const { io, out, err } = fakeIo();
    expect(await runCli([], io, commands)).toBe(2);
    expect(out).toEqual([]);
    expect(err[0]).toMatch(/^rxrl — post-training/);
  });

  it('per-command help shows usage and options, from -h, --help, help <cmd> and a leading -h', async () => {
    const expected = [
      'rxrl echo — Print the arguments',
      '',
      'Usage: rxrl echo [--upper] [words ...]',
      '',
      'Options:',
      '  -u, --upper       upper-case the words',
      '      --tag <name>  a tag (repeatable)',
      '',
      'Global options:',
    ].join('\n');
    for (const argv of [
      ['echo', '--help'],
      ['echo', '-h'],
      ['help', 'echo'],
      ['-h', 'echo'],
      ['echo', 'a', '--help'],
    ]) {
      const { io, out } = fakeIo();
      expect(await runCli(argv, io, commands)).toBe(0);
      expect(out.join('\n').startsWith(expected)).toBe(true);
    }
  });

  it('dispatches with parsed options, positionals and global options before or after the command', async () => {
    seen.length = 0;
    const { io, out } = fakeIo();
    expect(
      await runCli(
        ['--backend', 'cpu', 'echo', '-u', 'a', 'b=1', '--tag', 'x', '--tag=y'],
        io,
        commands,
      ),
    ).toBe(0);
    expect(out).toEqual(['A B=1']);
    expect(await runCli(['echo', 'c', '--backend=wasm', '--verbose'], io, commands)).toBe(0);
    const [first, second] = seen as { values: unknown; positionals: string[]; global: unknown }[];
    expect(first!.values).toEqual({ upper: true, tag: ['x', 'y'] });
    expect(first!.positionals).toEqual(['a', 'b=1']);
    expect(first!.global).toEqual({ backend: 'cpu', verbose: false });
    expect(second!.global).toEqual({ backend: 'wasm', verbose: true });
  });

  it('unknown command: did you mean, exit 2', async () => {
    const { io, err } = fakeIo();
    expect(await runCli(['ecoh'], io, commands)).toBe(2);
    expect(err).toEqual([
      "rxrl: unknown command 'ecoh'; did you mean 'echo'?\nRun 'rxrl --help' for usage.",
    ]);
    const far = fakeIo();
    expect(await runCli(['train'], far.io, commands)).toBe(2);
    expect(far.err).toEqual(["rxrl: unknown command 'train'\nRun 'rxrl --help' for usage."]);
  });

  it('unknown or malformed options are usage errors, exit 2', async () => {
    const { io, err } = fakeIo();
    expect(await runCli(['echo', '--uper'], io, commands)).toBe(2);
    expect(err).toEqual([
      "rxrl echo: unknown option --uper; did you mean --upper?\nRun 'rxrl echo --help' for usage.",
    ]);
    const missing = fakeIo();
    expect(await runCli(['echo', '--tag'], missing.io, commands)).toBe(2);
    expect(missing.err[0]).toMatch(
      /^rxrl echo: Option '--tag <value>' argument missing\nRun 'rxrl echo --help' for usage\.$/,
    );
    const global = fakeIo();
    expect(await runCli(['--bakend', 'cpu', 'echo'], global.io, commands)).toBe(2);
    expect(global.err).toEqual([
      "rxrl: unknown option --bakend; did you mean --backend?\nRun 'rxrl --help' for usage.",
    ]);
  });

  it('usage error from a command: message and help pointer, exit 2', async () => {
    const { io, err } = fakeIo();
    expect(await runCli(['usage'], io, commands)).toBe(2);
    expect(err).toEqual(["rxrl usage: missing the thing\nRun 'rxrl usage --help' for usage."]);
  });

  it('configuration error: message only, no stack even with --verbose, exit 2', async () => {
    const { io, err } = fakeIo();
    expect(await runCli(['config', '--verbose'], io, commands)).toBe(2);
    expect(err).toEqual(['rxrl config: r.yaml:3 seed: expected an integer >= 0, got -1']);
  });

  it('failure during a run: exit 1, stack only with --verbose or RXRL_DEBUG=1', async () => {
    const quiet = fakeIo();
    expect(await runCli(['crash'], quiet.io, commands)).toBe(1);
    expect(quiet.err).toEqual([
      'rxrl crash: failed: disk full (run with --verbose or RXRL_DEBUG=1 for the stack trace)',
    ]);
    for (const [argv, env] of [
      [['crash', '--verbose'], {}],
      [['crash'], { RXRL_DEBUG: '1' }],
    ] as const) {
      const loud = fakeIo(env);
      expect(await runCli([...argv], loud.io, commands)).toBe(1);
      expect(loud.err[0]).toBe('rxrl crash: failed: disk full');
      expect(loud.err[1]).toMatch(/^Error: disk full\n\s+at /);
    }
  });

  it('a command may return its own exit code', async () => {
    expect(await runCli(['code'], fakeIo().io, commands)).toBe(3);
  });
});
