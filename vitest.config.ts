import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration tests share one broker and one Postgres server on 2 cores: one file at a time.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // The property tests check hundreds of thousands of cases: 3-4 s alone, over 7 s beside a benchmark.
          // They assert results, not speed, so a busy machine must not fail them.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
