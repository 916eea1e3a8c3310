/**
 * Shared helpers of NodeNet's own tests: exits' failures, and a loopback "black hole" that
 * keeps dials pending. Resource accounting (open fds, active handles), child processes that are
 * always killed and the child-script bundler come from `@vvnet/testkit` (shared with the
 * examples' tests), re-exported here.
 */
import type { NetError } from "@vvnet/core"
import { blackHoleScript } from "@vvnet/testkit/BlackHole"
import { spawnChild } from "@vvnet/testkit/Child"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

export { alive, bundleChild, type Child, expectGone, spawnChild } from "@vvnet/testkit/Child"
export {
  awaitResources,
  baseline,
  expectBackTo,
  type Resources,
  resources,
  trackedKinds
} from "@vvnet/testkit/Resources"

export const MiB = 1024 * 1024

const decoder = new TextDecoder()
export const text = (bytes: Uint8Array): string => decoder.decode(bytes)

/** The `_tag` of an exit's failure, `"success"`, or the cause's tag for a defect/interruption. */
export const tagOf = <A>(exit: Exit.Exit<A, NetError.NetError>): string =>
  Exit.isSuccess(exit) ? "success" : exit.cause._tag === "Fail" ? exit.cause.error._tag : exit.cause._tag

/** The failure of an exit, asserting that it is a typed failure. */
export const failureOf = <A>(exit: Exit.Exit<A, NetError.NetError>): NetError.NetError => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail") {
    throw new Error(`expected a typed failure, got ${Exit.isSuccess(exit) ? "success" : exit.cause._tag}`)
  }
  return exit.cause.error
}

// ---- a black hole ------------------------------------------------------------------------

/**
 * A TCP listener on 127.0.0.1 that never accepts and whose accept queue is full (a python3
 * child: `listen(0)`, then a few non-blocking connects to itself), so the kernel drops later
 * SYNs and a dial to it stays pending (SYN retransmits, ~2 minutes). Killed with the Scope.
 */
export const blackHole = Effect.gen(function*() {
  const child = yield* spawnChild("python3", ["-c", blackHoleScript])
  const port = yield* child.nextLine("port ")
  return `127.0.0.1:${port}`
})
