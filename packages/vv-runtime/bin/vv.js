#!/usr/bin/env node
// The `vv` command (`vv run FILE` / `vv test FILE…`, src/cli.ts). The package's own manifest
// says what to load: in the repository its exports point at the TypeScript sources, which run
// through tsx's loader (no build step, so nothing to go stale); in the published package pnpm
// has replaced them with `publishConfig.exports`, and the compiled JavaScript runs.
import { readFileSync } from "node:fs"

const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))

let cli
if (manifest.exports["."].default.endsWith(".ts")) {
  const { register } = await import("tsx/esm/api")
  register()
  cli = await import("../src/cli.ts")
} else {
  cli = await import("../build/esm/cli.js")
}
cli.runMain(process.argv.slice(2))
