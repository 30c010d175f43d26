#!/usr/bin/env node
// `rxrl-dpo ARGS` is `rxrl dpo ARGS`: TypeScript sources run through tsx, no build step.
import { register } from 'tsx/esm/api';

register();
const { runEntryPoint } = await import('@rxrl/app-cli/entry');
process.exitCode = await runEntryPoint('dpo');
