#!/usr/bin/env node
// `rxrl-grpo ARGS` is `rxrl grpo ARGS`: TypeScript sources run through tsx, no build step.
import { register } from 'tsx/esm/api';

register();
const { runEntryPoint } = await import('@rxrl/app-cli/entry');
process.exitCode = await runEntryPoint('grpo');
