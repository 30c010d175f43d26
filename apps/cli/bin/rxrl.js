#!/usr/bin/env node
// The rxrl command: the built JavaScript when installed, the TypeScript sources in
// the repository (no build step there; see launch.js).
import { load } from './launch.js';

await load('main');
