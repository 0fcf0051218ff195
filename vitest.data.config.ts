import { defineConfig } from 'vitest/config';

/** The advisory-data suite: reads ../shared/advisories (PORTCULLIS_ADVISORY_DATA); never part of `npm test`. */
export default defineConfig({
  test: {
    include: ['test/data/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    testTimeout: 300_000,
    pool: 'forks',
  },
});
