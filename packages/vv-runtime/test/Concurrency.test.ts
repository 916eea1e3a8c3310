/**
 * Tasks: handlers started by net.accept run concurrently with the main program and with each
 * other, share closures by reference, and stop when the main module ends. In process, over
 * MemoryNet (no sockets).
 */
import { afterAll, describe, expect, it } from "vitest"
import { cleanup, errorOf, output, run } from "./support/vv.js"

const timeout = 20_000
afterAll(cleanup)

const prelude = `
import net from "std/net.vv"
import channel from "std/channel.vv"
import sync from "std/sync.vv"
import console from "std/console.vv"
`

describe("handlers run concurrently and share closures", () => {
  it("a shared counter guarded by a mutex, completion signalled over a channel", { timeout }, async () => {
    expect(
      await output(`${prelude}
      let listener = try net.listen("tcp", "127.0.0.1:7000")
      defer net.close(listener)
      let mu = sync.mutex()
      let served = 0
      let done = channel.make()
      fun handler(conn)
        defer net.close(conn)
        sync.lock(mu)
        let seen = served
        let _ = channel.recv(channel.make(), 1)   // wait while holding the lock
        served = seen + 1
        sync.unlock(mu)
        channel.send(done, true)
      end
      net.accept(listener, handler)
      let i = 0
      while i < 30
        let c = try net.dial("tcp", "127.0.0.1:7000")
        net.close(c)
        i += 1
      end
      let j = 0
      while j < 30
        let _ = try channel.recv(done, 5000)
        j += 1
      end
      console.print("served", served)
    `)
    ).toBe("served 30\n")
  })

  it("a waiting handler lets the others and the main program run", { timeout }, async () => {
    expect(
      await output(`${prelude}
      let listener = try net.listen("tcp", "127.0.0.1:7001")
      let log = []
      let done = channel.make()
      fun handler(conn)
        defer net.close(conn)
        let data = try net.read(conn, 10)
        log = log + [len(data)]
        channel.send(done, true)
      end
      net.accept(listener, handler)
      let a = try net.dial("tcp", "127.0.0.1:7001")
      let b = try net.dial("tcp", "127.0.0.1:7001")
      try net.write(b, "second")
      let _ = try channel.recv(done, 5000)
      try net.write(a, "first")
      let _ = try channel.recv(done, 5000)
      console.print(log)
    `)
    ).toBe("[6, 5]\n")
  })

  it("defer net.close(conn) closes the connection when the handler ends", { timeout }, async () => {
    expect(
      await output(`${prelude}
      let listener = try net.listen("tcp", "127.0.0.1:7002")
      fun greet(conn)
        defer net.close(conn)
        try net.write(conn, "hi")
      end
      net.accept(listener, greet)
      let c = try net.dial("tcp", "127.0.0.1:7002")
      let got = try net.read(c, 10)
      let eof = try net.read(c, 10)
      console.print(got, eof == [], len(eof))
    `)
    ).toBe("[104, 105] true 0\n")
  })

  it("a handler's runtime error is logged with its location and the accept loop goes on", { timeout }, async () => {
    const outcome = await run(`${prelude}
      let listener = try net.listen("tcp", "127.0.0.1:7003")
      let done = channel.make()
      let n = 0
      fun handler(conn)
        defer net.close(conn)
        n += 1
        if n == 1
          let boom = n + "x"
        end
        channel.send(done, n)
      end
      net.accept(listener, handler)
      let first = try net.dial("tcp", "127.0.0.1:7003")
      let second = try net.dial("tcp", "127.0.0.1:7003")
      console.print("second handler saw n =", try channel.recv(done, 5000))
    `)
    expect(outcome.error).toBeUndefined()
    expect(outcome.stdout).toBe("second handler saw n = 2\n")
    expect(outcome.logs).toHaveLength(1)
    expect(outcome.logs[0]).toMatch(
      /^error: net\.accept: handler failed for .*: main\.vv:14:22: cannot add an int and a list with '\+'$/
    )
  })

  it("a handler's try of an error returns it from the handler (logged), the program goes on", { timeout }, async () => {
    const outcome = await run(`${prelude}
      let listener = try net.listen("tcp", "127.0.0.1:7004")
      let done = channel.make()
      fun handler(conn)
        defer channel.send(done, "handler ended")
        try net.set_read_timeout(conn, 20)
        let data = try net.read(conn, 10)
        console.print("not reached", data)
      end
      net.accept(listener, handler)
      let c = try net.dial("tcp", "127.0.0.1:7004")
      console.print(try channel.recv(done, 5000))
    `)
    expect(outcome.error).toBeUndefined()
    expect(outcome.stdout).toBe("handler ended\n")
    expect(outcome.logs).toHaveLength(1)
    expect(outcome.logs[0]).toMatch(/^error: net\.accept: handler returned an error for .*: read .*i\/o timeout$/)
  })
})

describe("the end of the main module", () => {
  it("stops handlers blocked in a native and handlers that compute forever", { timeout }, async () => {
    const started = Date.now()
    const outcome = await run(`${prelude}
      let listener = try net.listen("tcp", "127.0.0.1:7005")
      let spins = 0
      fun handler(conn)
        if spins == 0
          spins = 1
          while true
            spins += 1
          end
        end
        let _ = net.read(conn, 1)
      end
      net.accept(listener, handler)
      let a = try net.dial("tcp", "127.0.0.1:7005")
      let b = try net.dial("tcp", "127.0.0.1:7005")
      let _ = channel.recv(channel.make(), 100)
      console.print("main ends; the spinning handler ran:", 1 < spins)
    `)
    expect(outcome.error).toBeUndefined()
    expect(outcome.stdout).toBe("main ends; the spinning handler ran: true\n")
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it("an unhandled error in main also disposes the bridge", { timeout }, async () => {
    const outcome = await run(`${prelude}
      let listener = try net.listen("tcp", "127.0.0.1:7006")
      fun handler(conn)
        let _ = net.read(conn, 1)
      end
      net.accept(listener, handler)
      let a = try net.dial("tcp", "127.0.0.1:7006")
      let b = try net.dial("tcp", "127.0.0.1:1")
    `)
    expect(errorOf(outcome)).toMatch(/^unhandled error: dial tcp 127\.0\.0\.1:1: .*connection refused$/)
  })
})

describe("std/io over a connection", () => {
  it(
    "text.read_line decodes a character split across network reads, without waiting for EOF",
    { timeout },
    async () => {
      expect(
        await output(`${prelude}
      import text from "std/io/text.vv"
      import utf8 from "std/encoding/utf8.vv"
      let listener = try net.listen("tcp", "127.0.0.1:7007")
      let go = channel.make()
      fun writer(conn)
        try net.write(conn, [72, 105, 32, 226])
        let _ = try channel.recv(go, 5000)
        try net.write(conn, [130, 172, 13, 10, 111, 107, 10])
        let _ = try channel.recv(go, 5000)
        net.close(conn)
      end
      net.accept(listener, writer)
      let client = try net.dial("tcp", "127.0.0.1:7007")
      let r = try text.reader(try net.reader(client), utf8)
      let first = try text.peek(r)
      channel.send(go, true)
      let line = try text.read_line(r)
      let second = try text.read_line(r)
      console.print(first.char, "|{line}|", "|{second}|")
      channel.send(go, true)
      console.print(text.read_line(r))
    `)
      ).toBe("H |Hi €| |ok|\n{ type = error, value = EOF }\n")
    }
  )

  it("bytes.reader reads exactly n bytes across reads, partial at EOF", { timeout }, async () => {
    expect(
      await output(`${prelude}
      import bytes from "std/io/bytes.vv"
      let listener = try net.listen("tcp", "127.0.0.1:7008")
      fun writer(conn)
        defer net.close(conn)
        try net.write(conn, [1, 2])
        try net.write(conn, [3, 4, 5])
      end
      net.accept(listener, writer)
      let c = try net.dial("tcp", "127.0.0.1:7008")
      let r = try bytes.reader(try net.reader(c), 2)
      console.print(try r.read(r, 4), try r.peek(r, 3), try bytes.read_all(r), try r.read(r, 1) == [])
      console.print(r.close(r), r.close(r))
    `)
    ).toMatch(
      /^\[1, 2, 3, 4\] \[5\] \[5\] true\n\{ type = ok, value = \{ type = none \} \} \{ type = error, value = close .*use of closed network connection \}\n$/
    )
  })
})
