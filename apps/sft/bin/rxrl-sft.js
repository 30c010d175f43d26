#!/usr/bin/env node
// `rxrl-sft ARGS` is `rxrl sft ARGS`, started the way rxrl starts (@rxrl/app-cli's bin/launch.js).
import { load } from '@rxrl/app-cli/launch';

const { runEntryPoint } = await load('entry');
process.exitCode = await runEntryPoint('sft');
