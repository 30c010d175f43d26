// Entry point for bin/rxrl.js: run the CLI on this process's arguments.
import { runCli } from './cli';
import { processIo } from './io';

process.exitCode = await runCli(process.argv.slice(2), processIo());
