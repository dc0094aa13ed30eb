import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Test files share one PostgreSQL server; each gets its own schema, so files may run in parallel.
    fileParallelism: true,
  },
});
