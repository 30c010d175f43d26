// How the rxrl programs start. An installed package runs its built JavaScript
// (dist/). In the rxrl repository, where src/ sits beside bin/ (the published
// package ships dist/ only), they run the TypeScript sources through tsx and
// resolve every @rxrl package to its sources as well (the '@rxrl/source' export
// condition, as tsconfig and vitest do), so developing needs no build step.
import { existsSync } from 'node:fs';
import { register } from 'node:module';

const SOURCE_CONDITION = '@rxrl/source';
const fromSource = existsSync(new URL('../src/main.ts', import.meta.url));

async function enterSourceMode() {
  let tsx;
  try {
    tsx = await import('tsx/esm/api');
  } catch (e) {
    throw new Error(
      `rxrl: running from the repository's sources needs tsx (npm install): ${e.message}`,
    );
  }
  tsx.register();
  const hook = `export async function resolve(specifier, context, next) {
    return next(specifier, { ...context, conditions: [...context.conditions, ${JSON.stringify(SOURCE_CONDITION)}] });
  }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}

/** Imports the CLI's module `name` ('main', 'entry'): its source in the repository, its build when installed. */
export async function load(name) {
  if (!fromSource) return import(`../dist/${name}.js`);
  await enterSourceMode();
  return import(`../src/${name}.ts`);
}
