// The build's post-tsc step: relative specifiers get the extension Node's ESM loader needs.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JS tool without types
import { finishDist, rewriteSpecifiers } from './finishDist.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = mkdtempSync(join(tmpdir(), 'rxrl-finish-'));
afterAll(() => rmSync(pkg, { recursive: true, force: true }));

function write(path: string, text: string) {
  mkdirSync(dirname(join(pkg, path)), { recursive: true });
  writeFileSync(join(pkg, path), text);
}

describe('finishDist', () => {
  it('adds .js to modules and /index.js to directories, in code, re-exports and .d.ts types', () => {
    write('dist/a.js', 'export const a = 1;\n');
    write('dist/ops/index.js', 'export * from "../a";\n');
    write(
      'dist/sub/b.js',
      [
        "// see './a' (a comment stays as it is)",
        "import { a } from '../a';",
        "export * from '../ops';",
        "export { a as c } from '..';",
        "const s = './not-an-import';",
        "export const lazy = () => import('./c');",
        "import 'zod';",
        '',
      ].join('\n'),
    );
    write('dist/sub/c.js', 'export {};\n');
    write('dist/index.js', "export * from './sub/b';\n");
    write('dist/sub/b.d.ts', 'export declare const x: import("..").T;\nexport * from "./c";\n');
    write('dist/sub/c.d.ts', 'export {};\n');
    write('src/worker.mjs', "await import('./x.ts');\n");
    finishDist(pkg);
    const b = readFileSync(join(pkg, 'dist/sub/b.js'), 'utf8');
    expect(b).toContain("// see './a' (a comment stays as it is)");
    expect(b).toContain("import { a } from '../a.js';");
    expect(b).toContain("export * from '../ops/index.js';");
    expect(b).toContain("export { a as c } from '../index.js';");
    expect(b).toContain("const s = './not-an-import';");
    expect(b).toContain("import('./c.js')");
    expect(b).toContain("import 'zod';");
    expect(readFileSync(join(pkg, 'dist/ops/index.js'), 'utf8')).toBe('export * from "../a.js";\n');
    expect(readFileSync(join(pkg, 'dist/sub/b.d.ts'), 'utf8')).toBe(
      'export declare const x: import("../index.js").T;\nexport * from "./c.js";\n',
    );
    // hand-written worker entries are copied as they are
    expect(readFileSync(join(pkg, 'dist/worker.mjs'), 'utf8')).toBe("await import('./x.ts');\n");
    // idempotent: a second pass changes nothing
    finishDist(pkg);
    expect(readFileSync(join(pkg, 'dist/sub/b.js'), 'utf8')).toBe(b);
  });

  it('fails the build on a relative import that names no emitted file', () => {
    write('dist/broken.js', "import './missing';\n");
    expect(() => rewriteSpecifiers("import './missing';\n", join(pkg, 'dist/broken.js'))).toThrow(
      /cannot resolve '\.\/missing'/,
    );
    rmSync(join(pkg, 'dist/broken.js'));
  });
});

describe('the workspace resolves @rxrl packages to their sources', () => {
  it("the root tsconfig's paths (for tsx) name exactly the packages' @rxrl/source entry points", () => {
    const paths = (
      JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as {
        compilerOptions: { paths: Record<string, string[]> };
      }
    ).compilerOptions.paths;
    const expected: Record<string, string[]> = {};
    for (const parent of ['libs', 'apps']) {
      for (const dir of readdirSync(join(root, parent))) {
        const manifest = JSON.parse(
          readFileSync(join(root, parent, dir, 'package.json'), 'utf8'),
        ) as { name: string; exports?: Record<string, string | Record<string, string>> };
        for (const [sub, target] of Object.entries(manifest.exports ?? {})) {
          if (typeof target === 'object' && target['@rxrl/source']) {
            expected[manifest.name + sub.slice(1)] = [
              `./${parent}/${dir}/${target['@rxrl/source'].slice(2)}`,
            ];
          }
        }
      }
    }
    expect(paths).toEqual(expected);
  });
});
