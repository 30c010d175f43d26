#!/usr/bin/env node
// `rxrl-dpo ARGS` is `rxrl dpo ARGS`, started the way rxrl starts (@rxrl/app-cli's bin/launch.js).
import { load } from '@rxrl/app-cli/launch';

const { runEntryPoint } = await load('entry');
process.exitCode = await runEntryPoint('dpo');
