/**
 * The natives of `std/random.vv`, over one generator per program run: `seed(n)` restarts it
 * (the same seed gives the same numbers, within this runtime), `float()` is in [0.0, 1.0),
 * `int(min, max)` in [min, max) (an error unless min < max). Unseeded, it starts from the
 * clock and `Math.random`.
 *
 * @since 0.2.0
 */
import { none } from "../../Values.js"
import { fail, intArg, native, type NativeModule, nativeModule } from "./args.js"

const mask64 = (1n << 64n) - 1n

/** SplitMix64: a small 64-bit generator, fully determined by its seed. */
class SplitMix64 {
  private state: bigint
  constructor(seed: bigint) {
    this.state = BigInt.asUintN(64, seed)
  }
  next(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & mask64
    let z = this.state
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask64
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask64
    return z ^ (z >> 31n)
  }
  /** A float in [0, 1) from the top 53 bits. */
  float(): number {
    return Number(this.next() >> 11n) / 2 ** 53
  }
  /** An int in [0, n) without modulo bias (n > 0). */
  below(n: bigint): bigint {
    const limit = (1n << 64n) - ((1n << 64n) % n)
    for (;;) {
      const x = this.next()
      if (x < limit) return x % n
    }
  }
}

/**
 * The natives of `std/random.vv` (a fresh generator each call: one per program run).
 *
 * @since 0.2.0
 * @category constructors
 */
export const randomNatives = (): NativeModule => {
  const initial = BigInt(Date.now()) * 1_000_003n + BigInt(Math.floor(Math.random() * 2 ** 32))
  let generator = new SplitMix64(initial)
  return nativeModule([
    native("seed", ["n"], ([n]) => {
      generator = new SplitMix64(intArg("seed", "n", n!))
      return none()
    }),
    native("float", [], () => generator.float()),
    native("int", ["min", "max"], ([min, max]) => {
      const lo = intArg("int", "min", min!)
      const hi = intArg("int", "max", max!)
      if (hi <= lo) return fail("int", `max must be greater than min, got min = ${lo}, max = ${hi}`)
      return BigInt.asIntN(64, lo + generator.below(hi - lo))
    })
  ])
}
