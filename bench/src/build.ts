/**
 * Builds the child processes' code before a run: esbuild bundles `child.ts` (with the variants
 * and the workspace packages' TypeScript sources), `idle-clients.ts` and `load-clients.ts` (the
 * helper processes, plain node:net) into plain ESM under
 * bench/results/.build/, with source maps; effect and @effect/* stay external and load from
 * node_modules as an application would load them.
 *
 * Why not run the children under tsx: tsx's transform adds `__name(fn, "name")` around every
 * function expression (esbuild's keepNames), which costs a `defineProperty` each time a closure
 * is created on a hot path of the TypeScript code (vvnet, the harness) but not of effect's
 * published JavaScript, and it puts each file on one line, so profiles cannot point at a line.
 * The bundle is the code as a build (tsc or a bundler) would ship it; it also starts faster.
 */
import * as esbuild from "esbuild"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const srcDir = fileURLToPath(new URL(".", import.meta.url))
export const buildDir = Path.join(srcDir, "..", "results", ".build")

export interface Built {
  readonly child: string
  readonly idleClients: string
  readonly loadClients: string
}

export const build = async (): Promise<Built> => {
  Fs.mkdirSync(buildDir, { recursive: true })
  await esbuild.build({
    entryPoints: {
      child: Path.join(srcDir, "child.ts"),
      "idle-clients": Path.join(srcDir, "idle-clients.ts"),
      "load-clients": Path.join(srcDir, "load-clients.ts")
    },
    outdir: buildDir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    splitting: false,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    sourcesContent: false,
    minify: false,
    keepNames: false,
    // node-forge (CommonJS, requires node built-ins) loads at run time, only in a TLS scenario
    // (@vvnet/testkit/TlsCerts requires it on first use, from here: bench depends on it too)
    external: ["effect", "effect/*", "@effect/*", "node-forge"],
    logLevel: "warning"
  })
  return {
    child: Path.join(buildDir, "child.mjs"),
    idleClients: Path.join(buildDir, "idle-clients.mjs"),
    loadClients: Path.join(buildDir, "load-clients.mjs")
  }
}
