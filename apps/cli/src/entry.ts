import { runCli } from './cli';
import { processIo } from './io';

/**
 * Run one subcommand as a program of its own, for the per-algorithm entry
 * points: `rxrl-sft ARGS` is exactly `rxrl sft ARGS` (same options, help,
 * exit codes), so each algorithm app stays a two-line shim.
 */
export async function runEntryPoint(
  command: string,
  argv: string[] = process.argv.slice(2),
): Promise<number> {
  return runCli([command, ...argv], processIo());
}
