import type { TestProjectConfiguration } from "vitest/config"

/** The vitest projects of the workspace: one per package that has tests. */
export const projects: Array<TestProjectConfiguration> = [
  {
    extends: true,
    test: { name: "core", include: ["packages/core/test/**/*.test.ts"] }
  },
  {
    extends: true,
    test: { name: "node-adapter", include: ["packages/node-adapter/test/**/*.test.ts"] }
  },
  {
    extends: true,
    test: { name: "vv-bridge", include: ["packages/vv-bridge/test/**/*.test.ts"] }
  },
  {
    extends: true,
    test: { name: "vv-runtime", include: ["packages/vv-runtime/test/**/*.test.ts"] }
  },
  {
    extends: true,
    test: { name: "examples", include: ["examples/test/**/*.test.ts"] }
  }
]

export default projects
