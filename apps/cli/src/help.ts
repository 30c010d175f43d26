import type { Command, CommandOption } from './command';
import { GLOBAL_OPTIONS } from './globalOptions';

function optionLines(options: Record<string, CommandOption>): string[] {
  const rows = Object.entries(options).map(([name, opt]) => {
    const flag = `${opt.short ? `-${opt.short}, ` : '    '}--${name}${opt.type === 'string' ? ` <${opt.valueName ?? 'value'}>` : ''}`;
    return [flag, opt.description + (opt.multiple ? ' (repeatable)' : '')] as const;
  });
  const width = Math.max(0, ...rows.map(([flag]) => flag.length));
  return rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`);
}

/** `rxrl --help`: usage, the commands with their summaries, global options. */
export function topLevelHelp(commands: readonly Command[]): string {
  const width = Math.max(0, ...commands.map((c) => c.name.length));
  return [
    'rxrl — post-training for language models (SFT, DPO, GRPO) in TypeScript',
    '',
    'Usage: rxrl [global options] <command> [options] [arguments]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    "Run 'rxrl <command> --help' for a command's usage and options.",
  ].join('\n');
}

/** `rxrl <command> --help`: summary, usage, the command's options, global options. */
export function commandHelp(command: Command): string {
  const own =
    Object.keys(command.options).length > 0
      ? ['', 'Options:', ...optionLines(command.options)]
      : [];
  return [
    `rxrl ${command.name} — ${command.summary}`,
    '',
    ...command.usage.split('\n').map((line, i) => (i === 0 ? `Usage: ${line}` : `       ${line}`)),
    ...own,
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
  ].join('\n');
}
