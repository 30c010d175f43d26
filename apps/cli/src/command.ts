import type { CliIo } from './io';

/** One command-line option of a command, as `util.parseArgs` takes it plus help text. */
export interface CommandOption {
  type: 'string' | 'boolean';
  /** one-letter alias, e.g. `o` for `-o` */
  short?: string;
  /** may be given more than once; the value is a list */
  multiple?: boolean;
  /** shown in help as `--name <valueName>` for string options */
  valueName?: string;
  /** one line for --help */
  description: string;
}

/** Options every command accepts, before or after the command name. */
export interface GlobalOptions {
  /** `--backend`: auto, tensorflow, native, wasm or cpu; undefined means RXRL_BACKEND or auto */
  backend: string | undefined;
  /** `--verbose` or RXRL_DEBUG=1: stack traces for failures */
  verbose: boolean;
}

/** What a command's `run` receives. */
export interface CommandArgs {
  /** parsed option values, keyed by option name */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  /** positional arguments after the command name */
  positionals: string[];
  global: GlobalOptions;
  io: CliIo;
}

/**
 * A subcommand: one file under src/commands/ exports one of these, and
 * src/commands/index.ts registers it with one line.
 */
export interface Command {
  /** what users type: `rxrl <name>` */
  name: string;
  /** one line for the command list in `rxrl --help` */
  summary: string;
  /** usage line(s) shown by `rxrl <name> --help`, e.g. `rxrl config <recipe.yaml> [key.path=value ...]` */
  usage: string;
  /** the command's own options (the global ones are added by the CLI) */
  options: Record<string, CommandOption>;
  /**
   * Do the work. Return an exit code (default 0). Throw RxrlUsageError or
   * RxrlConfigError for bad input (exit 2); anything else thrown exits 1.
   */
  run(args: CommandArgs): Promise<number | void> | number | void;
}
