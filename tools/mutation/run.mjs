// `npm run mutation [-- <target>...]`: StrykerJS over the numerical core, one
// library at a time (targets.mjs), reports in reports/mutation/<target>/.
// `npm run mutation -- hand [<target>]` applies the hand-made mutants instead
// (handMutants.mjs). Slow (minutes to an hour a library on 2 cores), so not part of `npm test`.
// Options after the targets go to Stryker, e.g. `npm run mutation -- loss --force` (rerun every
// mutant, not only those whose code or tests changed) or `--mutate libs/loss/src/masked.ts`.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { targets } from './targets.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const firstOption = argv.findIndex((a) => a.startsWith('-'));
const args = firstOption < 0 ? argv : argv.slice(0, firstOption);
const strykerOptions = firstOption < 0 ? [] : argv.slice(firstOption);
const hand = args[0] === 'hand';
const names = hand ? args.slice(1) : args;
const chosen = names.length > 0 ? names : Object.keys(targets);
const unknown = chosen.filter((n) => !(n in targets));
if (unknown.length > 0) {
  console.error(
    `mutation: unknown target ${unknown.join(', ')}; one of ${Object.keys(targets).join(', ')} (or "hand")`,
  );
  process.exit(2);
}

if (hand) {
  const r = spawnSync(process.execPath, [join(root, 'tools/mutation/handMutants.mjs'), ...chosen], {
    cwd: root,
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

let status = 0;
for (const name of chosen) {
  console.log(`\nmutation: ${name} (${targets[name].mutate[0]})`);
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/@stryker-mutator/core/bin/stryker.js'),
      'run',
      'tools/mutation/stryker.config.mjs',
      ...strykerOptions,
    ],
    { cwd: root, stdio: 'inherit', env: { ...process.env, RXRL_MUTATION_TARGET: name } },
  );
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
