import { NetError } from "@vvnet/core"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as NodeNetModule from "node:net"
import { toOsError } from "./socket.js"

/** @internal The unix socket file a listener created, identified by device and inode. */
export interface SocketFile {
  readonly path: string
  readonly dev: number
  readonly ino: number
}

export const sameFile = (file: SocketFile): boolean => {
  try {
    const st = Fs.lstatSync(file.path)
    return st.dev === file.dev && st.ino === file.ino
  } catch {
    return false
  }
}

/**
 * @internal
 * Closes a unix server without letting libuv unlink a file that is no longer ours: libuv
 * unlinks the bound path on close, so a foreign file at the path is moved aside for the close
 * and put back (three synchronous syscalls).
 */
export const closeUnixServer = (server: NodeNetModule.Server, file: SocketFile | undefined): void => {
  if (file === undefined || sameFile(file) || !Fs.existsSync(file.path)) {
    server.close()
    return
  }
  const aside = `${file.path}.vvnet-${process.pid}-${Date.now()}`
  let moved = false
  try {
    Fs.renameSync(file.path, aside)
    moved = true
  } catch {
    // could not move it: closing would unlink it, so keep the handle's path intact by closing anyway
  }
  server.close()
  if (moved) {
    try {
      Fs.renameSync(aside, file.path)
    } catch {
      // best effort
    }
  }
}

/**
 * @internal
 * A unix path held by a file: a live listener → AddressInUse; a stale socket (a probe dial is
 * refused) → removed when `reclaim` is set, AddressInUse otherwise; any other file → AddressInUse.
 * `shared` (a node:cluster worker, whose listen the primary binds and shares): a socket file is
 * left to the primary's bind (a sibling's shared listener is reused without a bind; a foreign or
 * stale file fails that bind with EADDRINUSE), so no probe dial reaches a sibling's server;
 * with `reclaim`, the probe runs and a live listener is taken for the shared one, and a file
 * another worker removed first is no error.
 */
export const prepareUnixPath = (network: string, address: string, path: string, reclaim: boolean, shared = false) =>
  Effect.gen(function*() {
    let st: Fs.Stats
    try {
      st = Fs.lstatSync(path)
    } catch {
      return
    }
    const inUse = (reason: string) =>
      NetError.make("AddressInUse", { op: "listen", network, address, syscall: "bind", code: "EADDRINUSE", reason })
    if (!st.isSocket()) return yield* inUse("address already in use (not a socket file)")
    if (shared && !reclaim) return
    const alive = yield* Effect.async<boolean>((resume) => {
      const probe = NodeNetModule.connect({ path })
      probe.once("connect", () => {
        probe.destroy()
        resume(Effect.succeed(true))
      })
      probe.once("error", (error: NodeJS.ErrnoException) => {
        probe.destroy()
        resume(Effect.succeed(error.code !== "ECONNREFUSED"))
      })
      return Effect.sync(() => probe.destroy())
    })
    if (alive) return shared ? undefined : yield* inUse("address already in use")
    if (!reclaim) return yield* inUse("address already in use (stale socket file; set reclaimStaleSocket to remove it)")
    try {
      Fs.unlinkSync(path)
    } catch (error) {
      if (shared && (error as NodeJS.ErrnoException).code === "ENOENT") return
      return yield* NetError.fromErrno(toOsError(error), { op: "listen", network, address })
    }
  })
