import { defineConfig } from 'vitest/config';

// One runner for every TypeScript test: pure unit tests beside their modules
// (host/src/**) and the cross-language / root-only end-to-end tests (test/**).
export default defineConfig({
  test: {
    include: ['host/src/**/*.test.ts', 'test/**/*.test.ts', 'ohos-app/test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // End-to-end tests share the two CPUs and the BPF subsystem: run files one at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
