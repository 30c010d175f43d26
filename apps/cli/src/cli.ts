import { parseArgs } from 'node:util';
import { closestMatch } from '@rxrl/config';
import { RxrlConfigError, RxrlUsageError } from '@rxrl/core/base';
import type { Command, CommandArgs, CommandOption, GlobalOptions } from './command';
import * as registry from './commands/index';
import { GLOBAL_OPTIONS } from './globalOptions';
import { commandHelp, topLevelHelp } from './help';
import type { CliIo } from './io';

/** Exit codes: success, a failure during a run, bad usage or configuration. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Every registered command, sorted by name. */
export function registeredCommands(): Command[] {
  return Object.values(registry as Record<string, Command>).sort((a, b) =>
    a.name.localeCompare(b.name),
  );
}

type ParseOptions = Record<
  string,
  { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
>;

function toParseOptions(options: Record<string, CommandOption>): ParseOptions {
  const out: ParseOptions = {};
  for (const [name, { type, short, multiple }] of Object.entries(options)) {
    out[name] = { type, ...(short ? { short } : {}), ...(multiple ? { multiple } : {}) };
  }
  return out;
}

/** Run `util.parseArgs`, turning its errors into RxrlUsageError with a "did you mean". */
function parse(args: string[], options: Record<string, CommandOption>, allowPositionals: boolean) {
  try {
    return parseArgs({ args, options: toParseOptions(options), allowPositionals, strict: true });
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (!code.startsWith('ERR_PARSE_ARGS')) throw err;
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec((err as Error).message);
    if (unknown) {
      const near = closestMatch(unknown[2]!, Object.keys(options));
      throw new RxrlUsageError(
        `unknown option ${unknown[1]}${unknown[2]}${near ? `; did you mean --${near}?` : ''}`,
      );
    }
    throw new RxrlUsageError((err as Error).message.split('. To specify')[0]!);
  }
}

/** Split `[global options] <command> [rest]`: global flags may come before the command name. */
function splitCommand(argv: string[]): {
  leading: string[];
  name: string | undefined;
  rest: string[];
} {
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--') {
    // a string-valued global option takes the next argument unless written --opt=value
    const flag = argv[i]!.replace(/^-+/, '');
    i += GLOBAL_OPTIONS[flag]?.type === 'string' ? 2 : 1;
  }
  if (argv[i] === '--')
    return { leading: argv.slice(0, i), name: argv[i + 1], rest: argv.slice(i + 2) };
  return { leading: argv.slice(0, i), name: argv[i], rest: argv.slice(i + 1) };
}

function failureHint(verbose: boolean): string {
  return verbose ? '' : ' (run with --verbose or RXRL_DEBUG=1 for the stack trace)';
}

/**
 * Run the rxrl command line and return its exit code: 0 on success, 2 for usage
 * and configuration errors (message only), 1 for failures during a run (message,
 * plus the stack with --verbose or RXRL_DEBUG=1).
 */
export async function runCli(
  argv: string[],
  io: CliIo,
  commands: readonly Command[] = registeredCommands(),
): Promise<number> {
  const debugEnv = io.env['RXRL_DEBUG'] === '1' || io.env['RXRL_DEBUG'] === 'true';
  let verbose = debugEnv || argv.includes('--verbose');
  let label = 'rxrl';
  let helpRef = "'rxrl --help'";
  try {
    const { leading, name, rest } = splitCommand(argv);
    const globals = parse(leading, GLOBAL_OPTIONS, false).values;
    if (name === undefined || name === 'help') {
      const topic = name === 'help' ? rest[0] : undefined;
      const target = topic === undefined ? undefined : commands.find((c) => c.name === topic);
      if (topic !== undefined && !target) throw unknownCommand(topic, commands);
      if (target) io.out(commandHelp(target));
      else if (globals['help'] || name === 'help') io.out(topLevelHelp(commands));
      else {
        io.err(topLevelHelp(commands));
        return EXIT_USAGE;
      }
      return EXIT_OK;
    }
    if (globals['help'] && !commands.some((c) => c.name === name)) {
      io.out(topLevelHelp(commands));
      return EXIT_OK;
    }
    const command = commands.find((c) => c.name === name);
    if (!command) throw unknownCommand(name, commands);
    label = `rxrl ${command.name}`;
    helpRef = `'rxrl ${command.name} --help'`;

    const options = { ...GLOBAL_OPTIONS, ...command.options };
    const { values, positionals } = parse(rest, options, true);
    if (values['help'] || globals['help']) {
      io.out(commandHelp(command));
      return EXIT_OK;
    }
    const global: GlobalOptions = {
      backend:
        (values['backend'] as string | undefined) ?? (globals['backend'] as string | undefined),
      verbose: verbose || Boolean(values['verbose'] || globals['verbose']),
    };
    verbose = global.verbose;
    const own: CommandArgs['values'] = {};
    for (const key of Object.keys(command.options)) own[key] = values[key];
    const code = await command.run({ values: own, positionals, global, io });
    return typeof code === 'number' ? code : EXIT_OK;
  } catch (err) {
    if (err instanceof RxrlUsageError) {
      io.err(`${label}: ${err.message}\nRun ${helpRef} for usage.`);
      return EXIT_USAGE;
    }
    if (err instanceof RxrlConfigError) {
      io.err(`${label}: ${err.message}`);
      return EXIT_USAGE;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.err(`${label}: failed: ${message}${failureHint(verbose)}`);
    if (verbose && err instanceof Error && err.stack) io.err(err.stack);
    return EXIT_FAILURE;
  }
}

function unknownCommand(name: string, commands: readonly Command[]): RxrlUsageError {
  const near = closestMatch(
    name,
    commands.map((c) => c.name),
  );
  return new RxrlUsageError(`unknown command '${name}'${near ? `; did you mean '${near}'?` : ''}`);
}
