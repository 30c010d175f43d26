/**
 * The package export condition under which the @rxrl packages resolve to their
 * TypeScript sources (`src/`) rather than their built JavaScript (`dist/`). The
 * workspace sets it (tsconfig `customConditions`, vitest, the bins), so nothing
 * there needs a build; an installed package never sees it.
 */
export const SOURCE_CONDITION = '@rxrl/source';

/**
 * Whether the module at `moduleUrl` (pass `import.meta.url`) runs as TypeScript
 * source, i.e. in the workspace through tsx or vitest, rather than as the built
 * `.js` of an installed package. Modules that start worker threads or name a
 * sibling file by URL use it to pick `.ts` or `.js` and whether the worker needs tsx.
 */
export function isSourceModule(moduleUrl: string): boolean {
  return /\.[cm]?tsx?$/.test(new URL(moduleUrl).pathname);
}

/**
 * A sibling file of the module at `moduleUrl`, named without extension: `.ts`
 * when running from source, `.js` when built.
 */
export function siblingModule(moduleUrl: string, name: string): URL {
  return new URL(`${name}${isSourceModule(moduleUrl) ? '.ts' : '.js'}`, moduleUrl);
}

/**
 * `execArgv` for a worker thread started by the module at `moduleUrl`: the
 * source condition when running from source (so the worker's @rxrl imports load
 * sources too), nothing otherwise (the parent's own flags are not the worker's business).
 */
export function workerExecArgv(moduleUrl: string): string[] {
  return isSourceModule(moduleUrl) ? [`--conditions=${SOURCE_CONDITION}`] : [];
}
