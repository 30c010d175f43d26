// Lint is where the architecture in DESIGN.md is enforced: Nx tags in each
// package.json say which layer a project is in, and the rules below say which
// layers it may import. Adding a library is adding a folder with tags.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const tfFree = {
  patterns: [
    {
      group: ['@tensorflow/*'],
      message: 'This library must stay free of TensorFlow.js (DESIGN.md).',
    },
  ],
  paths: [
    {
      name: '@rxrl/core',
      message:
        "Import '@rxrl/core/base': the root entry loads TensorFlow.js, which this library must not.",
    },
  ],
};

// Which layers each project may import (DESIGN.md), by Nx tags.
const boundaries = {
  allow: [],
  enforceBuildableLibDependency: false,
  // The CLI lazy-loads @rxrl/core; its TensorFlow.js-free entry '@rxrl/core/base' may be
  // imported statically. (Nx finds secondary entry points by the `import` condition,
  // dist/, so it no longer tells the sources' entry points apart itself.)
  checkDynamicDependenciesExceptions: ['@rxrl/core/base'],
  depConstraints: [
    { sourceTag: 'layer:core', onlyDependOnLibsWithTags: ['layer:core'] },
    { sourceTag: 'stage:isolated', onlyDependOnLibsWithTags: ['layer:core'] },
    { sourceTag: 'stage:rollout', onlyDependOnLibsWithTags: ['layer:core', 'lib:model'] },
    {
      sourceTag: 'stage:checkpoint',
      onlyDependOnLibsWithTags: ['layer:core', 'lib:model', 'lib:optimizer'],
    },
    {
      sourceTag: 'stage:parallel',
      onlyDependOnLibsWithTags: ['layer:core', 'lib:model', 'lib:optimizer', 'lib:loss'],
    },
    {
      sourceTag: 'layer:pipeline',
      onlyDependOnLibsWithTags: ['layer:core', 'layer:stage'],
    },
    {
      sourceTag: 'layer:algorithms',
      onlyDependOnLibsWithTags: ['layer:core', 'layer:stage', 'layer:pipeline'],
    },
    {
      sourceTag: 'layer:app',
      onlyDependOnLibsWithTags: [
        'layer:core',
        'layer:stage',
        'layer:pipeline',
        'layer:algorithms',
        'layer:app',
      ],
    },
    { sourceTag: 'tf:none', bannedExternalImports: ['@tensorflow/*'] },
  ],
};

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.nx/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  prettier,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
      '@nx/enforce-module-boundaries': ['error', boundaries],
    },
  },
  {
    // The CLI imports heavy libraries lazily so `rxrl --help` starts fast; its tests may
    // import them statically (they are never bundled or on a start-up path).
    files: ['**/*.test.ts', '**/test/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        { ...boundaries, checkDynamicDependenciesExceptions: ['@rxrl/*', '@rxrl/core/base'] },
      ],
    },
  },
  {
    files: [
      'libs/data/**/*.ts',
      'libs/reward/**/*.ts',
      'libs/logging/**/*.ts',
      'libs/config/**/*.ts',
    ],
    rules: { 'no-restricted-imports': ['error', tfFree] },
  },
  {
    files: ['libs/core/src/base/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@tensorflow/*'],
              message: 'core/base is the TensorFlow.js-free part of core.',
            },
          ],
        },
      ],
    },
  },
];
