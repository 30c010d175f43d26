#!/usr/bin/env node
// Sums the JSON reports every project's vitest run leaves in dist/test-results
// (restored from the Nx cache when a project was not re-run) and prints one
// closing line, so a reader of CI output sees the whole suite's count at once.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = 'dist/test-results';
let passed = 0;
let failed = 0;
let skipped = 0;
let projects = 0;
function walk(dir) {
  let entries = [];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name === 'results.json') {
      const r = JSON.parse(readFileSync(path, 'utf8'));
      passed += r.numPassedTests ?? 0;
      failed += r.numFailedTests ?? 0;
      skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
      projects += 1;
    }
  }
}
walk(root);
console.log(`\n${projects} projects`);
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
