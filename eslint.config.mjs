// Lint rules. Type-aware rules catch floating promises; the workflow block keeps
// workflow code deterministic: no Node built-ins, no activity values, no wall clock.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'web/dist/', '.wysera/', 'test-results/', 'eslint.config.mjs', 'tests/fixtures/lint/'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // tests/fixtures/lint/workflows holds a file that breaks each rule on purpose.
    files: ['workflows/**/*.ts', 'tests/fixtures/lint/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node built-ins.' })),
          patterns: [
            {
              group: ['**/activities', '**/activities/**'],
              allowTypeImports: true,
              message: 'Workflows may only import activity types (import type), never values.',
            },
            {
              group: ['**/api/**', '**/db/**', '**/workers/**', '**/platform/**', '**/sim/**'],
              message: 'Workflow code may import only workflows/, domain/ and @temporalio/workflow.',
            },
            { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'], message: 'Not in workflow code.' },
            { group: ['pg', 'knex', 'stripe', 'express', 'pino', '@sendgrid/*'], message: 'No I/O libraries in workflow code.' },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'No direct clock reads in workflows: use sleep/condition timers or times carried in signals.' },
        { object: 'Math', property: 'random', message: 'Use uuid4() or a seeded value from @temporalio/workflow.' },
      ],
      'no-restricted-globals': ['error', 'process', 'setInterval', 'fetch'],
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'domain/ is pure logic without I/O.' })),
          patterns: [{ group: ['pg', 'knex', 'stripe', 'express', '@temporalio/*', '**/db/**', '**/activities/**'], message: 'domain/ is pure logic without I/O.' }],
        },
      ],
    },
  },
);
