#!/usr/bin/env node
// `rxrl-sft ARGS` is `rxrl sft ARGS`: TypeScript sources run through tsx, no build step.
import { register } from 'tsx/esm/api';

register();
const { runEntryPoint } = await import('@rxrl/app-cli/entry');
process.exitCode = await runEntryPoint('sft');
