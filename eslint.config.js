import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import layers from './scripts/eslint/layers.js';
import params from './scripts/eslint/params.js';

/** The repo's own rules: the layer table, and options objects at module boundaries. */
const berth = { rules: { ...layers.rules, ...params.rules } };

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.berth/**', 'src/ui/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    plugins: { berth },
    rules: {
      'berth/layers': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
    },
  },
  {
    // docs/STYLE.md: a function does one job in at most ~60 lines; an exported one takes at most
    // three positional parameters. Exceptions are marked where they are, with the reason
    // (a route table, a command tree, one parser). Tests are lists of steps and may run longer.
    files: ['src/**/*.ts', 'src/**/*.tsx'],
    ignores: ['**/*.test.ts', '**/*.test-suite.ts', '**/*.test-helper.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
      'berth/exported-max-params': ['error', 3],
    },
  },
  {
    // The web UI: React's rules of hooks.
    files: ['src/ui/**/*.tsx', 'src/ui/**/*.ts'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'warn' },
  },
  {
    files: ['bench/**', 'scripts/**', 'test/**', 'bin/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
