/**
 * Forking the built children (see build.ts): plain `node`, no loader, with IPC.
 */
import { type ChildProcess, fork } from "node:child_process"

export const forkJs = (
  file: string,
  args: ReadonlyArray<string>,
  nodeFlags: ReadonlyArray<string> = []
): ChildProcess =>
  fork(file, [...args], {
    execArgv: [...nodeFlags],
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
