/**
 * The variant registry: the extension point for new variants.
 *
 * Each entry loads its module lazily, so a child process imports only the variant it measures
 * (and effect, which every child loads: see child.ts). Order here is the table's row order.
 *
 * Adding the vv-bridge bulk path later:
 *   1. write `src/variants/vv-bridge.ts` exporting `variant: Variant` with `id: "vv-bridge"` and
 *      only `bulk` implemented (drive the bridge's `std/net.vv` natives: dial, write a vv list
 *      of ints per 64 KiB chunk, a server reading with `read(conn, n)`; count the received bytes
 *      with `PatternCounter` so the check stays the same);
 *   2. add `"vv-bridge": () => import("./vv-bridge.js")` below and `"@vvnet/vv-bridge"` to
 *      bench/package.json;
 *   3. its target (design.md §5: bulk ≥ 0.5× raw) is already in `targets` in scenarios.ts.
 * Scenarios a variant leaves out show "—" in the table.
 */
import type { Variant } from "../types.js"

export const registry: Record<string, () => Promise<{ readonly variant: Variant }>> = {
  raw: () => import("./raw.js"),
  "effect-floor": () => import("./effect-floor.js"),
  platform: () => import("./platform.js"),
  vvnet: () => import("./vvnet.js"),
  "vv-bridge": () => import("./vv-bridge.js")
}

/** Variants measured when `--variants` is not given. */
export const defaultVariants: ReadonlyArray<string> = ["raw", "effect-floor", "platform", "vvnet", "vv-bridge"]

/** Row labels (kept here so the harness can label rows without loading the modules). */
export const labels: Record<string, string> = {
  raw: "raw node:net",
  "effect-floor": "effect floor (thinnest Effect over node:net)",
  platform: "@effect/platform-node NodeSocket",
  vvnet: "vvnet NodeNet",
  "vv-bridge": "vv-bridge (std/net.vv natives)"
}

/** Which scenarios each variant implements (so the harness schedules no child for a gap). */
export const supports: Record<string, ReadonlyArray<string>> = {
  raw: [
    "bulk64k",
    "tlsbulk64k",
    "bulk4k",
    "pingpong",
    "accept",
    "idle",
    "server-load",
    "server-load-w1",
    "server-load-w2"
  ],
  "effect-floor": ["bulk64k", "bulk4k", "pingpong", "accept", "idle", "server-load"],
  platform: ["bulk64k", "bulk4k", "pingpong", "accept", "idle", "server-load"],
  vvnet: [
    "bulk64k",
    "tlsbulk64k",
    "bulk4k",
    "pingpong",
    "accept",
    "idle",
    "server-load",
    "server-load-w1",
    "server-load-w2"
  ],
  "vv-bridge": ["bulk64k", "pingpong", "accept", "server-load"]
}
