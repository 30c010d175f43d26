// A vitest reporter for mutation runs only: a test file that fails to load (its
// import threw, as when a mutant breaks a schema built at module load) becomes one
// failed test named after the error. StrykerJS's vitest runner (9.6.1) builds a
// mutant's result from the tests vitest collected, and such a file collects none,
// so without this a mutant that stops a module from loading counts as Survived
// (stryker-js#6150; the hand mutants of loss's module-level schemas were killed by
// hand while Stryker reported them surviving).

/** Tests under a suite, at any depth. */
function testsIn(suite) {
  return (suite.tasks ?? []).flatMap((t) => (t.type === 'test' ? [t] : testsIn(t)));
}

export default class LoadFailureReporter {
  onTestRunEnd(testModules) {
    for (const module of testModules) {
      const file = module.task;
      if (file.result?.state !== 'fail' || testsIn(file).length > 0) continue;
      const errors = file.result.errors?.length
        ? file.result.errors
        : [{ message: 'the test file failed to load' }];
      file.tasks.push({
        type: 'test',
        id: `${file.id}_load`,
        name: `loads (${errors[0].message ?? 'failed'})`.slice(0, 200),
        mode: 'run',
        file,
        meta: {},
        result: { state: 'fail', errors, duration: 0 },
      });
    }
  }
}
