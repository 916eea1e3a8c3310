/**
 * The natives of `std/encoding/sjis.vv`, one character at a time, on Node's (full ICU)
 * Shift_JIS decoder:
 *
 * - `decode(bytes)`: the character at the start of `bytes`: ok({ char, size }) where size is 1
 *   or 2 (2 when the first byte is a lead byte, 0x81–0x9F or 0xE0–0xFC);
 *   error("truncated SJIS sequence") when a lead byte ends the input (or there is no byte);
 *   error("invalid SJIS sequence") when the bytes are not Shift_JIS.
 * - `encode(c)`: the Shift_JIS bytes of char `c`. The encoder carries no table of its own: the
 *   first call derives it by decoding every two-byte sequence with the same decoder (duplicates
 *   keep the first sequence outside the NEC-selected IBM extension rows, as the WHATWG encoder
 *   does). A char Shift_JIS cannot encode is a runtime error, as on the reference.
 *
 * @since 0.2.0
 */
import { describeKind, error, ok, VvChar, VvList, VvRecord } from "../../Values.js"
import { charArg, fail, listArg, native, type NativeModule, nativeModule } from "./args.js"

const decoder = () => new TextDecoder("shift_jis", { fatal: true })

const isLead = (b: number): boolean => (b >= 0x81 && b <= 0x9f) || (b >= 0xe0 && b <= 0xfc)

let encodeTable: Map<number, readonly [number, number]> | undefined

/** Code point → two bytes, derived from the decoder (see the module comment). */
const table = (): Map<number, readonly [number, number]> => {
  if (encodeTable !== undefined) return encodeTable
  const map = new Map<number, readonly [number, number]>()
  const d = decoder()
  const pair = new Uint8Array(2)
  for (let lead = 0x81; lead <= 0xfc; lead++) {
    if (!isLead(lead)) continue
    for (let trail = 0x40; trail <= 0xfc; trail++) {
      if (trail === 0x7f) continue
      const pointer = (lead - (lead < 0xa0 ? 0x81 : 0xc1)) * 188 + trail - (trail < 0x7f ? 0x40 : 0x41)
      if (pointer >= 8272 && pointer <= 8835) continue
      pair[0] = lead
      pair[1] = trail
      let text: string
      try {
        text = d.decode(pair)
      } catch {
        continue
      }
      const cps = Array.from(text)
      if (cps.length !== 1) continue
      const cp = cps[0]!.codePointAt(0)!
      if (!map.has(cp)) map.set(cp, [lead, trail])
    }
  }
  encodeTable = map
  return map
}

const encodeChar = (cp: number): ReadonlyArray<number> | undefined => {
  if (cp < 0x80) return [cp]
  if (cp === 0xa5) return [0x5c]
  if (cp === 0x203e) return [0x7e]
  if (cp >= 0xff61 && cp <= 0xff9f) return [cp - 0xff61 + 0xa1]
  return table().get(cp)
}

/**
 * The natives of `std/encoding/sjis.vv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const sjisNatives = (): NativeModule =>
  nativeModule([
    native("encode", ["c"], ([c]) => {
      const ch = charArg("encode", "c", c!)
      const bytes = encodeChar(ch.codePoint)
      if (bytes === undefined) {
        return fail("encode", `'${ch.toString()}' (U+${hex(ch.codePoint)}) has no Shift_JIS encoding`)
      }
      return VvList.from(bytes.map(BigInt))
    }),
    native("decode", ["bytes"], ([value]) => {
      const items = listArg("decode", "bytes", value!)
      const bytes: Array<number> = []
      for (const item of items) {
        if (typeof item !== "bigint") {
          return fail("decode", `expects bytes to be a list of ints, got ${describeKind(item)} in it`)
        }
        bytes.push(Number(BigInt.asUintN(8, item)))
        if (bytes.length === 2) break
      }
      if (bytes.length === 0) return error("truncated SJIS sequence")
      const size = isLead(bytes[0]!) ? 2 : 1
      if (bytes.length < size) return error("truncated SJIS sequence")
      let text: string
      try {
        text = decoder().decode(Uint8Array.from(bytes.slice(0, size)))
      } catch {
        return error("invalid SJIS sequence")
      }
      const cps = Array.from(text)
      if (cps.length !== 1) return error("invalid SJIS sequence")
      return ok(new VvRecord([["char", VvChar.of(cps[0]!.codePointAt(0)!)], ["size", BigInt(size)]]))
    })
  ])

const hex = (cp: number): string => cp.toString(16).toUpperCase().padStart(4, "0")
