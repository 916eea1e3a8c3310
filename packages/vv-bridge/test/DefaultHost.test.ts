import { describe, expect, it } from "vitest"
import { DefaultHost, VvRuntimeError } from "../src/index.js"

const { VvChar, VvFunction, VvList, VvRecord, VvUserdata, chars, equals, kindOf, show } = DefaultHost

describe("DefaultHost values", () => {
  it("kinds are told apart by typeof and instanceof", () => {
    expect(kindOf(true)).toBe("bool")
    expect(kindOf(1n)).toBe("int")
    expect(kindOf(1.5)).toBe("float")
    expect(kindOf(VvChar.of(97))).toBe("char")
    expect(kindOf(chars("hi"))).toBe("list")
    expect(kindOf(DefaultHost.none())).toBe("record")
    expect(kindOf(DefaultHost.fun("f", 0, () => true))).toBe("fun")
    expect(kindOf(new VvUserdata({}))).toBe("userdata")
  }, 5_000)

  it("chars are interned code points", () => {
    expect(VvChar.of(0x20ac)).toBe(VvChar.of(0x20ac))
    expect(VvChar.of(0x20ac).toString()).toBe("€")
    expect(() => VvChar.of(0x110000)).toThrow(RangeError)
    expect(DefaultHost.text(chars("a€𝄞"))).toBe("a€𝄞")
    expect(chars("a€𝄞").length).toBe(3)
  }, 5_000)

  it("ints are 64-bit: int() wraps", () => {
    expect(DefaultHost.int(5)).toBe(5n)
    expect(DefaultHost.int(2n ** 63n)).toBe(-(2n ** 63n))
    expect(DefaultHost.int(-1n)).toBe(-1n)
  }, 5_000)

  it("byte lists read as ints and convert to arrays in place when a non-byte is stored", () => {
    const data = Uint8Array.from([1, 2, 3])
    const l = VvList.fromBytes(data)
    const alias = l
    expect(l.isBytes).toBe(true)
    expect(l.get(0)).toBe(1n)
    expect(l.get(3)).toBeUndefined()
    expect(l.set(1, 200n)).toBe(true)
    expect(data[1]).toBe(200)
    l.push(4n)
    expect(l.isBytes).toBe(true)
    expect(l.toArray()).toEqual([1n, 200n, 3n, 4n])
    l.set(0, VvChar.of(120))
    expect(l.isBytes).toBe(false)
    expect(alias.get(0)).toBe(VvChar.of(120))
    expect(alias.toArray()).toEqual([VvChar.of(120), 200n, 3n, 4n])
    l.push(256n)
    expect(l.length).toBe(5)
    expect(l.set(5, 1n)).toBe(false)
  }, 5_000)

  it("list operations keep vv semantics in both storages", () => {
    for (const make of [(xs: Array<number>) => VvList.fromBytes(Uint8Array.from(xs)), DefaultHost.ints]) {
      const l = make([1, 2, 3, 4])
      expect(l.pop()).toBe(4n)
      expect(l.shift()).toBe(1n)
      expect(l.toArray()).toEqual([2n, 3n])
      expect(l.slice(1).toArray()).toEqual([3n])
      expect(l.slice(-5, 99).toArray()).toEqual([2n, 3n])
      expect(l.concat(make([9])).toArray()).toEqual([2n, 3n, 9n])
      expect(Array.from(l)).toEqual([2n, 3n])
      expect(make([]).pop()).toBeUndefined()
      expect(make([]).shift()).toBeUndefined()
    }
    const bytes = VvList.fromBytes(Uint8Array.from([1]))
    expect(bytes.concat(VvList.fromBytes(Uint8Array.from([2]))).isBytes).toBe(true)
    expect(bytes.concat(chars("a")).toArray()).toEqual([1n, VvChar.of(97)])
  }, 5_000)

  it("equals follows vv's ==", () => {
    expect(equals(chars("hi"), VvList.of(VvChar.of(104), VvChar.of(105)))).toBe(true)
    expect(equals(VvList.fromBytes(Uint8Array.from([104, 105])), DefaultHost.ints([104, 105]))).toBe(true)
    expect(equals(DefaultHost.ints([1]), DefaultHost.ints([1, 2]))).toBe(false)
    expect(equals(DefaultHost.ints([1]), 1n)).toBe(false)
    expect(equals(DefaultHost.ok(chars("x")), DefaultHost.ok(chars("x")))).toBe(true)
    expect(equals(DefaultHost.ok(1n), DefaultHost.error("x"))).toBe(false)
    expect(equals(DefaultHost.none(), 1n)).toBe(false)
    expect(() => equals(1n, VvChar.of(49))).toThrow(new VvRuntimeError("cannot compare an int with a char"))
    expect(() => equals(1n, 1.0)).toThrow("cannot compare an int with a float")
    const u = new VvUserdata({})
    expect(equals(u, u)).toBe(true)
    expect(equals(u, new VvUserdata({}))).toBe(false)
  }, 5_000)

  it("show is the one printer (console.print, the log lines), in the reference runtime's format", () => {
    expect(show(chars("hello"))).toBe("hello")
    expect(show(DefaultHost.ints([104, 105]))).toBe("[104, 105]")
    expect(show(VvList.fromBytes(new Uint8Array([1, 2])))).toBe("[1, 2]")
    // an empty list is the empty string; inside a list it is []
    expect(show(VvList.of())).toBe("")
    expect(show(VvList.of(VvList.of(), chars("ab"), VvChar.of(99), 1n))).toBe(`[[], "ab", 'c', 1]`)
    // record fields print as at top level; the empty record is {  }
    expect(show(DefaultHost.error("timeout"))).toBe("{ type = error, value = timeout }")
    expect(show(new VvRecord({ b: 1n, a: true, c: VvChar.of(120), d: VvList.of() }))).toBe(
      "{ a = true, b = 1, c = x, d =  }"
    )
    expect(show(new VvRecord())).toBe("{  }")
    expect(show(new VvRecord({ l: VvList.of(chars("x"), new VvRecord()) }))).toBe(`{ l = ["x", {  }] }`)
    expect(show(new VvUserdata({}))).toBe("<userdata>")
    expect(show(DefaultHost.fun("handler", 1, () => true))).toBe("<function>")
    // floats as Go's %g
    expect([1.5, 1, 1e6, 123456, 1e-5, 0.0001, -0, NaN, -Infinity].map(show)).toEqual([
      "1.5",
      "1",
      "1e+06",
      "123456",
      "1e-05",
      "0.0001",
      "-0",
      "NaN",
      "-Inf"
    ])
    expect(DefaultHost.formatFloat(1.5e300)).toBe("1.5e+300")
    expect(show(VvChar.of(97))).toBe("a")
  }, 5_000)

  it("results are read back; none is not a result", () => {
    expect(DefaultHost.toResult(DefaultHost.ok(1n))).toEqual({ ok: true, value: 1n })
    const e = DefaultHost.toResult(DefaultHost.error("boom"))
    expect(e?.ok).toBe(false)
    expect(show(e!.value)).toBe("boom")
    expect(DefaultHost.toResult(DefaultHost.none())).toBeUndefined()
    expect(DefaultHost.isNone(DefaultHost.none())).toBe(true)
    expect(DefaultHost.toResult(1n)).toBeUndefined()
  }, 5_000)

  it("call checks that the callee is a function and its arity", async () => {
    const signal = new AbortController().signal
    const f = new VvFunction("f", 2, (args) => (args[0] as bigint) + (args[1] as bigint))
    expect(DefaultHost.call(f, [1n, 2n], { signal })).toBe(3n)
    expect(() => DefaultHost.call(f, [1n], { signal })).toThrow(new VvRuntimeError("f expects 2 arguments, got 1"))
    expect(() => DefaultHost.call(1n, [], { signal })).toThrow("cannot call an int")
    const variadic = DefaultHost.fun("print", undefined, (args) => BigInt(args.length))
    expect(DefaultHost.call(variadic, [1n, 2n, 3n], { signal })).toBe(3n)
    const async = DefaultHost.fun("later", 0, async () => 7n)
    await expect(DefaultHost.call(async, [], { signal })).resolves.toBe(7n)
  }, 5_000)

  it("the host reads byte views and lists", () => {
    const host = DefaultHost.host
    const l = host.bytes(Uint8Array.from([5, 6]))
    expect(host.toByteView?.(l)).toEqual(Uint8Array.from([5, 6]))
    expect(host.toByteView?.(chars("ab"))).toBeUndefined()
    expect(host.toList(l)).toEqual([5n, 6n])
    expect(host.toText(VvList.of())).toBe("")
    expect(host.toText(DefaultHost.ints([1]))).toBeUndefined()
    expect(host.toInt(3n)).toBe(3n)
    expect(host.toInt(3)).toBeUndefined()
    expect(host.toChar(VvChar.of(65))).toBe(65)
    expect(host.int(5)).toBe(5n)
    const handle = {}
    expect(host.toUserdata(host.userdata(handle))).toBe(handle)
  }, 5_000)

  it("lent bytes never change: a change of the list copies its storage first (copy-on-write)", () => {
    const host = DefaultHost.host
    const l = VvList.fromBytes(Uint8Array.from([1, 2, 3]))
    l.pop() // room to push in place
    const lent = host.lendBytes!(l)!
    expect(lent).toEqual(Uint8Array.from([1, 2]))
    expect(host.lendBytes!(l)!.buffer).toBe(lent.buffer) // lent again: still no copy
    l.set(0, 9n)
    l.push(8n)
    expect(lent).toEqual(Uint8Array.from([1, 2]))
    expect(Array.from(l)).toEqual([9n, 2n, 8n])
    const again = host.lendBytes!(l)!
    expect(again).toEqual(Uint8Array.from([9, 2, 8]))
    l.push(7n) // in place again, after a copy
    expect(again).toEqual(Uint8Array.from([9, 2, 8]))
    expect(Array.from(l)).toEqual([9n, 2n, 8n, 7n])
    const unlent = VvList.fromBytes(Uint8Array.from([1, 2]))
    const view = unlent.byteView()!
    unlent.set(0, 5n) // not lent: in place, as before
    expect(view[0]).toBe(5)
    expect(host.lendBytes?.(chars("ab"))).toBeUndefined()
    expect(host.lendBytes?.(VvList.of(1n, 256n))).toBeUndefined()
  }, 5_000)
})
