/**
 * The natives of `std/net.vv` (design.md §4) over vvnet's `Net` service, and the bridge's own
 * `net.vv` text, which declares them and defines `reader` and `writer` in vv.
 *
 * | native                         | result                                                    |
 * | ------------------------------ | --------------------------------------------------------- |
 * | `dial(network, address)`       | ok(conn) or error(message)                                |
 * | `listen(network, address)`     | ok(listener) or error(message)                            |
 * | `accept(listener, handler)`    | none, at once; `handler(conn)` then runs per connection   |
 * | `read(conn, n)`                | ok(list of ints 0..255); ok([]) at EOF and for n = 0      |
 * | `write(conn, bytes)`           | ok(count)                                                 |
 * | `close(x)`                     | ok(none); error on a second close                         |
 * | `set_read_timeout(conn, ms)`   | ok(none); ms ≤ 0 clears                                   |
 * | `set_write_timeout(conn, ms)`  | ok(none); ms ≤ 0 clears                                   |
 *
 * Network failures are error results whose value is the `NetError`'s Go-style message
 * (`dial tcp 127.0.0.1:1: connect: connection refused`,
 * `read tcp 127.0.0.1:5000->127.0.0.1:8080: i/o timeout`). A wrong argument count or kind
 * throws `VvRuntimeError` before any I/O.
 *
 * @since 0.1.0
 */
import * as Conn from "@vvnet/core/Conn"
import type { Listener } from "@vvnet/core/Listener"
import * as Net from "@vvnet/core/Net"
import * as NetError from "@vvnet/core/NetError"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { type Native, VvRuntimeError } from "./Host.js"
import { type Args, defineNative, type Handle, messageOf } from "./internal/args.js"
import type { NativeContext } from "./internal/context.js"
import { Waiter } from "./internal/waiter.js"

/**
 * The logical module path these natives are registered under.
 *
 * @since 0.1.0
 * @category constants
 */
export const modulePath = "std/net.vv"

/**
 * The bridge's `std/net.vv`: the extern declarations of the natives, and `reader(conn)` /
 * `writer(conn)`, which wrap a connection in the generalized reader and writer records of
 * `std/io` (`{ conn, read = fun(r, n), close = fun(r) }`, `{ conn, write = fun(w, bytes),
 * close = fun(w) }`; method convention: the record comes first). As in the reference
 * runtime's `std/net.vv`, they return the record as an ok result: `try net.reader(c)`.
 *
 * @since 0.1.0
 * @category constants
 */
export const source = `/// std/net: TCP and unix-socket networking (vvnet's bridge over Go-style sockets).
///
/// Results are { type = "ok", value } or { type = "error", value = message }, with Go's
/// messages: "dial tcp 127.0.0.1:1: connect: connection refused". Networks: "tcp", "tcp4",
/// "tcp6", "unix". Addresses: "host:port", "[v6]:port", ":port", port 0 for any free port,
/// or a unix socket path.

/// Connects to address on network: ok(conn) or an error.
pub extern "native" fun dial(network, address)
/// Listens on address: ok(listener) or an error.
pub extern "native" fun listen(network, address)
/// Runs handler(conn) for every connection, each as its own task, concurrently with the
/// program; returns none at once. A handler's error is logged and the loop goes on. The
/// handler owns its connection: close it with defer net.close(conn).
pub extern "native" fun accept(listener, handler)
/// Reads at most n bytes: ok(list of ints 0..255) as soon as any arrived; ok([]) at the end
/// of the stream and for n = 0.
pub extern "native" fun read(conn, n)
/// Writes every element, ints and chars each sent as its low 8 bits: ok(count).
pub extern "native" fun write(conn, bytes)
/// Closes a connection or a listener: ok(none), or an error if it was already closed.
pub extern "native" fun close(x)
/// Sets the read deadline ms milliseconds from now, for this and later reads; 0 or less
/// clears it. A read past it is an error containing "i/o timeout" and loses no data.
pub extern "native" fun set_read_timeout(conn, ms)
/// Sets the write deadline, as set_read_timeout does for reads.
pub extern "native" fun set_write_timeout(conn, ms)

/// The connection as a generalized reader, ok({ conn, read = fun(r, n), close = fun(r) }):
/// let r = try net.reader(conn).
pub fun reader(conn)
    return { type = "ok", value = {
        conn = conn,
        read = fun(r, n) return read(r.conn, n) end,
        close = fun(r) return close(r.conn) end
    } }
end

/// The connection as a generalized writer, ok({ conn, write = fun(w, bytes), close = fun(w) }):
/// let w = try net.writer(conn).
pub fun writer(conn)
    return { type = "ok", value = {
        conn = conn,
        write = fun(w, bytes) return write(w.conn, bytes) end,
        close = fun(w) return close(w.conn) end
    } }
end
`

/** What the connection and listener handles share: close-once bookkeeping and Go's message. */
abstract class ClosableHandle {
  private closedByVv = false

  constructor(
    /**
     * @internal Releases it, once, when vv code closes it: closes the Scope a dialled
     * connection or a listener lives in, or an accepted connection itself. `dispose` releases
     * whatever vv code left open.
     */
    readonly release: () => Effect.Effect<void>
  ) {}

  /** Whether vv code closed it. */
  get isClosed(): boolean {
    return this.closedByVv
  }

  /** @internal Marks it closed; false when it already was. */
  claimClose(): boolean {
    if (this.closedByVv) return false
    this.closedByVv = true
    return true
  }

  /** @internal Where it is, for Go's message. */
  protected abstract get where(): { readonly network: string; readonly address: string; readonly source?: string }

  /** @internal Go's message for a second close. */
  closedMessage(): string {
    return NetError.make("Closed", { op: "close", ...this.where, reason: NetError.closedReason }).message
  }
}

/**
 * The handle inside a connection's userdata. `conn` is the vvnet connection, dialled or
 * accepted; the bridge tracks it until it is closed, by `close(conn)` from vv or by the
 * bridge's `dispose`, whichever comes first.
 *
 * @since 0.1.0
 * @category models
 */
export class ConnHandle extends ClosableHandle implements Handle {
  /**
   * What `sys.type` and messages call this userdata.
   *
   * @since 0.1.0
   */
  readonly vvType = "connection"

  constructor(readonly conn: Conn.Conn, release: () => Effect.Effect<void>) {
    super(release)
  }

  /** @internal */
  protected get where() {
    return { network: this.conn.network, address: this.conn.remoteAddress, source: this.conn.localAddress }
  }
}

/**
 * The handle inside a listener's userdata. `listener` lives in its own Scope under the
 * bridge's root Scope. Closing it stops its accept loops; connections already accepted stay
 * open (Go's semantics).
 *
 * @since 0.1.0
 * @category models
 */
export class ListenerHandle extends ClosableHandle implements Handle {
  /**
   * What `sys.type` and messages call this userdata.
   *
   * @since 0.1.0
   */
  readonly vvType = "listener"

  /** Completed when vv code closes the listener: its accept loops end then. */
  private readonly closing = Deferred.unsafeMake<void>(FiberId.none)

  constructor(readonly listener: Listener, release: () => Effect.Effect<void>) {
    super(() => Effect.zipRight(Deferred.succeed(this.closing, undefined), release()))
  }

  /** @internal Waits until vv code closes the listener. */
  get closed(): Effect.Effect<void> {
    return Deferred.await(this.closing)
  }

  /** @internal */
  protected get where() {
    return { network: this.listener.network, address: this.listener.address }
  }
}

/**
 * The natives of `std/net.vv` for one bridge.
 *
 * @since 0.1.0
 * @category constructors
 */
export const natives = <V>(context: NativeContext<V>): ReadonlyMap<string, Native<V>> => {
  const { host, root } = context
  const define = (name: string, params: ReadonlyArray<string>, impl: (args: Args<V>) => V | Promise<V>) =>
    defineNative(host, context.ensureOpen, name, params, impl)

  const result = <A>(effect: Effect.Effect<A, NetError.NetError>, f: (a: A) => V) =>
    Effect.match(effect, { onFailure: (error) => host.error(error.message), onSuccess: f })

  /**
   * The outcome of a read or write from `Conn.readNow` / `Conn.writeNow`: when it ended at once
   * (an Exit), its value with no fiber at all; otherwise run as every native is.
   */
  const settle = <A>(native: string, effect: Effect.Effect<A, NetError.NetError>, f: (a: A) => V): V | Promise<V> => {
    if (Exit.isExit(effect)) {
      const exit = effect as Exit.Exit<A, NetError.NetError>
      if (Exit.isSuccess(exit)) return f(exit.value)
      const error = Cause.failureOption(exit.cause)
      if (Option.isSome(error)) return host.error(error.value.message)
    }
    return context.run(native, result(effect, f))
  }

  const readValue = (bytes: Uint8Array) => host.ok(host.bytes(bytes))

  /**
   * A read that has to wait, with no fiber: the connection calls back when a read may make
   * progress (`Conn.whenReadable`), and the read is tried again there; the promise is a
   * bridge waiter, so `dispose` rejects it. A Conn not built by vvnet's engine waits in a fiber.
   */
  const readLater = (conn: Conn.Conn, n: number, wait: Effect.Effect<Uint8Array, NetError.NetError>) => {
    const waiter = new Waiter<V>()
    const retry = () => {
      if (!waiter.isWaiting) return // given up (the bridge was disposed)
      const step = Conn.readNow(conn, n)
      if (!Exit.isExit(step)) {
        Conn.whenReadable(conn, retry)
        return
      }
      const now = step as Exit.Exit<Uint8Array, NetError.NetError>
      if (Exit.isSuccess(now)) waiter.settle(readValue(now.value))
      else {
        const error = Cause.failureOption(now.cause)
        if (Option.isSome(error)) waiter.settle(host.error(error.value.message))
        else waiter.fail(new VvRuntimeError(`read: ${Cause.pretty(now.cause)}`, { native: "read" }))
      }
    }
    if (!Conn.whenReadable(conn, retry)) return context.run("read", result(wait, readValue))
    return context.wait("read", waiter)
  }

  /**
   * Acquires a resource (a listener; a connection `Net.dialCallback` cannot make) in a Scope of
   * its own under the root, closed by vv's close or by dispose, so whatever else the `Net` put
   * in that Scope is released with it. `handle` makes the resource's handle from it and its
   * release.
   */
  const acquireIn = <A>(
    effect: Effect.Effect<A, NetError.NetError, Scope.Scope | Net.Net>,
    handle: (a: A, release: () => Effect.Effect<void>) => object
  ): Effect.Effect<V, never, Net.Net> =>
    Effect.flatMap(
      Scope.fork(root, ExecutionStrategy.sequential),
      (scope) =>
        Effect.matchEffect(Scope.extend(effect, scope), {
          onFailure: (error) => Effect.as(Scope.close(scope, Exit.void), host.error(error.message)),
          onSuccess: (a) => Effect.succeed(host.ok(host.userdata(handle(a, () => Scope.close(scope, Exit.void)))))
        })
    )

  /** Sends a line to the host's log; the host's log never ends the program. */
  const logNow = (level: "error" | "warning", message: string): void => {
    try {
      host.log(level, message)
    } catch {
      // the host's log must not end the accept loop
    }
  }

  /**
   * Connections, accepted or dialled with `Net.dialCallback`, that vv code has not closed:
   * closed when the root Scope closes (`dispose`). A set rather than a Scope per connection: such
   * a connection has nothing else to release, and `Conn.closeNow` closes it without a fiber.
   */
  const open = new Set<Conn.Conn>()
  Effect.runSync(Scope.addFinalizer(
    root,
    Effect.suspend(() => {
      const conns = Array.from(open)
      open.clear()
      return Effect.forEach(conns, (conn) => conn.close, { discard: true })
    })
  ))

  /** Takes a connection into `open` and gives it its handle, whose release closes it. */
  const adopt = (conn: Conn.Conn): ConnHandle => {
    open.add(conn)
    return new ConnHandle(conn, () => {
      open.delete(conn)
      return Conn.closeNow(conn)
    })
  }

  /**
   * The dial with no fiber (`Net.dialCallback`): the promise is a bridge waiter, and `dispose`,
   * which fails it, cancels the dial (what it opened is released). `undefined` when the layer's
   * `Net` cannot dial this way (MemoryNet, a name to look up, a dial that fails before
   * connecting): `Net.dial` then runs through `acquireIn`, and reports those outcomes.
   */
  const dialCallback = (network: string, address: string): Promise<V> | undefined => {
    const net = context.netService()
    if (net === undefined) return undefined
    const waiter = new Waiter<V>()
    let cancel: (() => void) | undefined
    try {
      cancel = Net.dialCallback(net, network, address, undefined, (result) => {
        waiter.settle(
          Either.isRight(result) ? host.ok(host.userdata(adopt(result.right))) : host.error(result.left.message)
        )
      })
    } catch {
      return undefined // an unexpected throw: the Effect dial runs and reports what happens
    }
    if (cancel === undefined) return undefined
    // after the dial called back, cancelling does nothing
    waiter.onSettle(cancel)
    return context.wait("dial", waiter)
  }

  const where = (conn: Conn.Conn) => conn.remoteAddress || "a connection"

  const handlerFailed = (conn: Conn.Conn, error: unknown): void =>
    logNow("error", `net.accept: handler failed for ${where(conn)}: ${messageOf(error)}`)

  const handlerReturned = (conn: Conn.Conn, value: V): void => {
    const returned = host.toResult(value)
    if (returned !== undefined && !returned.ok) {
      logNow("error", `net.accept: handler returned an error for ${where(conn)}: ${host.show(returned.value)}`)
    }
  }

  /**
   * What vv's accept loop does with each connection, called by `Net.serveCallback` on its fiber:
   * adopts it (the handler owns it: closing the listener leaves it open) and calls the handler
   * directly, with a signal of its own (made if the host asks for it) that `dispose` aborts
   * while the call runs. A handler that returns at once ends here; one that waits goes on as
   * its own task, and its outcome is logged when it settles, unless `dispose` stopped it by then.
   */
  const serveConnection = (handler: V) => (conn: Conn.Conn): void => {
    const userdata = host.userdata(adopt(conn))
    // a connection handed over while dispose runs (before it interrupts the loop) starts no
    // handler: it is closed with the others
    if (context.isDisposed()) return
    const call = context.beginCall()
    let returned: V | Promise<V>
    try {
      returned = host.call(handler, [userdata], call)
    } catch (error) {
      context.endCall(call)
      return handlerFailed(conn, error)
    }
    if (!(returned instanceof Promise)) {
      context.endCall(call)
      return handlerReturned(conn, returned)
    }
    returned.then(
      (value) => {
        context.endCall(call)
        if (!call.isStopped) handlerReturned(conn, value)
      },
      (error) => {
        context.endCall(call)
        if (!call.isStopped) handlerFailed(conn, error)
      }
    )
  }

  /**
   * vv's accept loop is core's `Net.serveCallback`, in a Scope that lasts until vv code closes
   * the listener (or `dispose` interrupts it): its fiber ends with the listener, so a program
   * that listens and closes again and again keeps no fiber per closed listener.
   */
  const acceptLoop = (handle: ListenerHandle, handler: V): Effect.Effect<void> =>
    Effect.scoped(Effect.zipRight(
      Effect.orDie(Net.serveCallback(handle.listener, serveConnection(handler), {
        onAcceptError: (error, retryMillis) =>
          Effect.sync(() => logNow("warning", `net.accept: ${error.message}; retrying in ${retryMillis} ms`))
      })),
      handle.closed
    ))

  const connection = (args: Args<V>) => args.handle(0, ConnHandle, "a connection")

  const timeout = (name: "set_read_timeout" | "set_write_timeout") =>
    define(name, ["conn", "ms"], (args) => {
      const conn = connection(args).conn
      const ms = Math.max(0, args.int(1))
      const set = name === "set_read_timeout" ? conn.setReadTimeout(ms) : conn.setWriteTimeout(ms)
      return context.run(name, result(set, () => host.ok(host.none())))
    })

  const list: ReadonlyArray<Native<V>> = [
    define("dial", ["network", "address"], (args) => {
      const network = args.text(0)
      const address = args.text(1)
      return dialCallback(network, address) ?? context.run(
        "dial",
        acquireIn(Net.dial(network, address), (conn, release) => new ConnHandle(conn, release))
      )
    }),
    define("listen", ["network", "address"], (args) => {
      const network = args.text(0)
      const address = args.text(1)
      return context.run(
        "listen",
        acquireIn(Net.listen(network, address), (listener, release) => new ListenerHandle(listener, release))
      )
    }),
    define("accept", ["listener", "handler"], (args) => {
      const handle = args.handle(0, ListenerHandle, "a listener")
      const handler = args.fun(1)
      context.fork("accept", acceptLoop(handle, handler))
      return host.none()
    }),
    define("read", ["conn", "n"], (args) => {
      const conn = connection(args).conn
      const n = args.count(1)
      const now = Conn.readNow(conn, n)
      if (Exit.isExit(now)) return settle("read", now, readValue)
      return readLater(conn, n, now)
    }),
    define("write", ["conn", "bytes"], (args) => {
      const conn = connection(args).conn
      const data = args.bytes(1)
      return settle("write", Conn.writeNow(conn, data), (n) => host.ok(host.int(n)))
    }),
    define("close", ["x"], (args) => {
      const handle = host.toUserdata(args.values[0]!)
      if (!(handle instanceof ConnHandle || handle instanceof ListenerHandle)) {
        return args.fail(0, "a connection or a listener")
      }
      if (!handle.claimClose()) return host.error(handle.closedMessage())
      const released = handle.release()
      if (Exit.isExit(released) && Exit.isSuccess(released)) return host.ok(host.none())
      return context.run("close", Effect.map(released, () => host.ok(host.none())))
    }),
    timeout("set_read_timeout"),
    timeout("set_write_timeout")
  ]
  return new Map(list.map((native) => [native.name, native]))
}
