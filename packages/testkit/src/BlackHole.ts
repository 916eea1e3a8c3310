/**
 * A loopback "black hole": a TCP listener on 127.0.0.1 that never accepts and whose accept
 * queue is full (a python3 child: `listen(0)`, then a few non-blocking connects to itself), so
 * the kernel drops later SYNs and a dial to it stays in flight (SYN retransmits, about two
 * minutes). Needs python3 on PATH.
 */
import * as ChildProcess from "node:child_process"

/** The python3 program: prints `port N` once listening, then waits until its stdin closes. */
export const blackHoleScript = [
  "import socket, sys",
  "s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
  "s.bind(('127.0.0.1', 0))",
  "s.listen(0)",
  "port = s.getsockname()[1]",
  "fill = []",
  "for _ in range(4):",
  "    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)",
  "    c.setblocking(False)",
  "    try:",
  "        c.connect(('127.0.0.1', port))",
  "    except BlockingIOError:",
  "        pass",
  "    fill.append(c)",
  "print('port', port, flush=True)",
  "sys.stdin.read()"
].join("\n")

/**
 * Starts a black hole outside Effect: its address and `kill` (call it when done). Rejects
 * (having killed the child) when it does not start within 5 s.
 */
export const startBlackHole = async (): Promise<{ readonly address: string; readonly kill: () => void }> => {
  const child = ChildProcess.spawn("python3", ["-c", blackHoleScript], { stdio: ["pipe", "pipe", "inherit"] })
  const kill = () => {
    child.stdin.end()
    child.kill("SIGKILL")
  }
  try {
    const port = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the black hole did not start")), 5000)
      // the line may come in pieces
      let out = ""
      child.stdout.on("data", (data: Buffer) => {
        out += data.toString()
        const match = /^port (\d+)\n/.exec(out)
        if (match === null) return
        clearTimeout(timer)
        resolve(match[1]!)
      })
      child.once("error", (error) => {
        clearTimeout(timer)
        reject(error)
      })
    })
    return { address: `127.0.0.1:${port}`, kill }
  } catch (error) {
    kill()
    throw error
  }
}
