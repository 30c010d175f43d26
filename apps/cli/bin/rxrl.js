#!/usr/bin/env node
// The rxrl command. Runs the TypeScript sources directly through tsx, so there is
// no build step: `node apps/cli/bin/rxrl.js ...`, `npm run rxrl -- ...` or `npx rxrl ...`.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
