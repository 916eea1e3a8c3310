import { defineConfig } from "vitest/config"

/**
 * The soak run, `pnpm test:soak` (not part of `pnpm test` or CI): the seeded-fault property
 * tests, the files named `*.faults.test.ts` in any package, rerun with many runs each. The
 * normal suite runs the same files with each property's own small run count; here every
 * property takes its count from `VVNET_SOAK_RUNS` (default 1000), e.g.
 *
 *   VVNET_SOAK_RUNS=10000 npx -y pnpm@12.4.2 test:soak
 *
 * fast-check draws a fresh seed per run of the command and prints it with any counterexample.
 */
export default defineConfig({
  test: {
    // one project of its own, so the workspace's projects (vitest.workspace.ts) are not run
    projects: [{
      extends: true,
      test: { name: "soak", include: ["packages/*/test/**/*.faults.test.ts"] }
    }],
    env: { VVNET_SOAK_RUNS: process.env.VVNET_SOAK_RUNS ?? "1000" },
    testTimeout: 0,
    hookTimeout: 30_000,
    teardownTimeout: 10_000,
    pool: "forks",
    passWithNoTests: false,
    // one file per kind of fault, each in its own process, side by side: the properties wait
    // on the event loop more than they compute. Within a file, tests run one at a time (run
    // side by side in one process, they starve its event loop).
    maxWorkers: 3,
    minWorkers: 1,
    sequence: { concurrent: false }
  }
})
