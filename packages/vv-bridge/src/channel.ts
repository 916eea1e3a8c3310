/**
 * The natives of `std/channel.vv`: unbuffered (rendezvous) channels, as Go's `make(chan T)`.
 *
 * | native              | result                                                                |
 * | ------------------- | --------------------------------------------------------------------- |
 * | `make()`            | a channel (userdata)                                                  |
 * | `send(ch, v)`       | none, once a receiver took `v` (blocks until then)                    |
 * | `recv(ch, ms)`      | ok(v), or error("timeout") after `ms` milliseconds; ms ≤ 0 waits forever |
 * | `select(chs, ms)`   | ok({ index, value }) from the first channel with a sender, or error("timeout") |
 *
 * Waiting senders and receivers are served first come, first served. When `select` finds
 * several channels with a waiting sender it picks one at random, as Go does, so no channel
 * starves; `index` counts from 0. Channels are never closed; a blocked task ends with its
 * bridge (`dispose`).
 *
 * @since 0.1.0
 */
import { Transport } from "@vvnet/core"
import type { Native } from "./Host.js"
import { type Args, defineNative, describe, type Handle } from "./internal/args.js"
import type { NativeContext } from "./internal/context.js"
import { Waiter } from "./internal/waiter.js"

/**
 * The logical module path these natives are registered under.
 *
 * @since 0.1.0
 * @category constants
 */
export const modulePath = "std/channel.vv"

/**
 * The text of `std/channel.vv`: the extern declarations of the natives.
 *
 * @since 0.1.0
 * @category constants
 */
export const source = `/// std/channel: unbuffered (rendezvous) channels between tasks.

/// A new channel.
pub extern "native" fun make()
/// Sends v: waits until a receiver takes it, then returns none.
pub extern "native" fun send(ch, v)
/// Receives a value: ok(v), or error("timeout") after ms milliseconds (ms <= 0 waits forever).
pub extern "native" fun recv(ch, ms)
/// Receives from whichever channel of the list has a sender first: ok({ index, value }),
/// or error("timeout") after ms milliseconds (ms <= 0 waits forever).
pub extern "native" fun select(chs, ms)
`

/** A sender waiting on a channel; `take` releases it, false when it no longer waits. */
interface Sender<V> {
  readonly value: V
  readonly take: () => boolean
}

/** A receiver waiting on a channel; `deliver` hands it a value, false when it no longer waits. */
interface Receiver<V> {
  readonly deliver: (value: V) => boolean
}

const remove = <A>(array: Array<A>, item: A): void => {
  const i = array.indexOf(item)
  if (i >= 0) array.splice(i, 1)
}

/**
 * The handle inside a channel's userdata: the senders and receivers waiting on it.
 *
 * @since 0.1.0
 * @category models
 */
export class Channel<V> implements Handle {
  /**
   * What `sys.type` and messages call this userdata.
   *
   * @since 0.1.0
   */
  readonly vvType = "channel"
  /** @internal */
  readonly senders: Array<Sender<V>> = []
  /** @internal */
  readonly receivers: Array<Receiver<V>> = []

  /** Whether a sender is waiting (a receive would not block). */
  get hasSender(): boolean {
    return this.senders.length > 0
  }

  /** @internal Hands `value` to the first waiting receiver; false when none waits. */
  offer(value: V): boolean {
    while (this.receivers.length > 0) {
      if (this.receivers.shift()!.deliver(value)) return true
    }
    return false
  }

  /** @internal Takes the value of the first waiting sender, releasing it. */
  take(): { readonly value: V } | undefined {
    while (this.senders.length > 0) {
      const sender = this.senders.shift()!
      if (sender.take()) return { value: sender.value }
    }
    return undefined
  }
}

/**
 * The natives of `std/channel.vv` for one bridge.
 *
 * @since 0.1.0
 * @category constructors
 */
export const natives = <V>(context: NativeContext<V>): ReadonlyMap<string, Native<V>> => {
  const { host } = context
  const define = (name: string, params: ReadonlyArray<string>, impl: (args: Args<V>) => V | Promise<V>) =>
    defineNative(host, context.ensureOpen, name, params, impl)
  const channel = (args: Args<V>) => args.handle(0, Channel<V>, "a channel")

  /** A receiving wait: error("timeout") after `ms` milliseconds unless ms ≤ 0. */
  const receiving = (ms: number): Waiter<V> => {
    const waiter = new Waiter<V>()
    if (ms > 0) waiter.onSettle(Transport.schedule(ms, () => waiter.settle(host.error("timeout"))))
    return waiter
  }

  const list: ReadonlyArray<Native<V>> = [
    define("make", [], () => host.userdata(new Channel<V>())),
    define("send", ["ch", "v"], (args) => {
      const ch = channel(args)
      const value = args.values[1]!
      if (ch.offer(value)) return host.none()
      const waiter = new Waiter<V>()
      const sender: Sender<V> = { value, take: () => waiter.settle(host.none()) }
      ch.senders.push(sender)
      waiter.onSettle(() => remove(ch.senders, sender))
      return context.wait("send", waiter)
    }),
    define("recv", ["ch", "ms"], (args) => {
      const ch = channel(args)
      const ms = args.int(1)
      const taken = ch.take()
      if (taken !== undefined) return host.ok(taken.value)
      const waiter = receiving(ms)
      const receiver: Receiver<V> = { deliver: (value) => waiter.settle(host.ok(value)) }
      ch.receivers.push(receiver)
      waiter.onSettle(() => remove(ch.receivers, receiver))
      return context.wait("recv", waiter)
    }),
    define("select", ["chs", "ms"], (args) => {
      const expected = "a list of channels"
      const channels = args.list(0, expected).map((item, i) => {
        const handle = host.toUserdata(item)
        return handle instanceof Channel
          ? handle as Channel<V>
          : args.fail(0, expected, `a list with ${describe(host, item)} at index ${i}`)
      })
      const ms = args.int(1)
      const selected = (index: number, value: V) => host.ok(host.record({ index: host.int(index), value }))
      const ready: Array<number> = []
      for (let i = 0; i < channels.length; i++) if (channels[i]!.hasSender) ready.push(i)
      while (ready.length > 0) {
        // Go's select: a uniformly random ready case, so no channel starves
        const index = ready.splice(Math.floor(Math.random() * ready.length), 1)[0]!
        const taken = channels[index]!.take()
        if (taken !== undefined) return selected(index, taken.value)
      }
      const waiter = receiving(ms)
      channels.forEach((ch, index) => {
        const receiver: Receiver<V> = { deliver: (value) => waiter.settle(selected(index, value)) }
        ch.receivers.push(receiver)
        waiter.onSettle(() => remove(ch.receivers, receiver))
      })
      return context.wait("select", waiter)
    })
  ]
  return new Map(list.map((native) => [native.name, native]))
}
