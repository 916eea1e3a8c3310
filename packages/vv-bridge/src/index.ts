/**
 * @since 0.1.0
 */

/**
 * A bridge instance: the natives of one vv program, its Effect runtime and Scope, `dispose`.
 *
 * @since 0.1.0
 */
export * as Bridge from "./Bridge.js"

/**
 * The default representation of vv values (`VvValue`, `VvList`, `VvChar`, `VvRecord`, …) and
 * the default host over it.
 *
 * @since 0.1.0
 */
export * as DefaultHost from "./DefaultHost.js"

/**
 * The host interface (`Host`, `Native`, `Kind`) and `VvRuntimeError`.
 *
 * @since 0.1.0
 */
export * as Host from "./Host.js"

/**
 * The natives of `std/channel.vv`: unbuffered rendezvous channels.
 *
 * @since 0.1.0
 */
export * as StdChannel from "./channel.js"

/**
 * The natives of `std/net.vv` and the bridge's `net.vv` text.
 *
 * @since 0.1.0
 */
export * as StdNet from "./net.js"

/**
 * The natives of `std/sync.vv`: mutexes.
 *
 * @since 0.1.0
 */
export * as StdSync from "./sync.js"

export {
  /**
   * A vv runtime error raised by a native (wrong argument count or kind, unlocking an unlocked
   * mutex, a call after the bridge was disposed). Also `Host.VvRuntimeError`.
   *
   * @since 0.1.0
   * @category errors
   */
  VvRuntimeError
} from "./Host.js"
