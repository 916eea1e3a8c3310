/**
 * The natives of `std/fs/file.vv` and `std/fs/dir.vv`, over Node's synchronous `fs` calls, with
 * the reference's result shapes and Go's error wording (`open /x: no such file or directory`):
 *
 * - file: `open(path, is_append)` and `open_write(path, is_append)` return the file itself
 *   (a failure is a runtime error, as on the reference); `open_read(path)` and `create(path)`
 *   return ok(file) or error(message); `exists(path)` ok(bool); `close(f)` ok(none);
 *   `read(f, n)` ok(list of up to n byte ints; [] at the end); `write(f, content)` ok(number of
 *   bytes written), where `content` is a list of ints (each written as its low byte) or chars
 *   (each written as its UTF-8 bytes).
 * - dir: `read(path)` ok(the entry names, sorted); `create(path)` (with its parents) and
 *   `remove(path)` (with its contents; a missing path is fine) ok(none); `exists(path)`
 *   ok(whether it is a directory).
 *
 * @since 0.2.0
 */
import * as Fs from "node:fs"
import { describeKind, error, none, ok, VvChar, VvList, VvUserdata, type VvValue } from "../../Values.js"
import {
  boolArg,
  fail,
  intArg,
  listArg,
  native,
  type NativeModule,
  nativeModule,
  textArg,
  userdataArg
} from "./args.js"

/** An open file: what a `std/fs/file.vv` userdata holds. */
class OpenFile {
  closed = false
  constructor(readonly fd: number, readonly path: string) {}
}

/** Go's wording of a failed system call: `open /x: no such file or directory`. */
const goMessage = (op: string, path: string, e: unknown): string => {
  const message = e instanceof Error ? e.message : String(e)
  const description = message.replace(/^[A-Z0-9_]+: /, "").split(", ")[0]!
  return `${op} ${path}: ${description}`
}

const attempt = <A>(op: string, path: string, f: () => A): { readonly value: A } | { readonly message: string } => {
  try {
    return { value: f() }
  } catch (e) {
    return { message: goMessage(op, path, e) }
  }
}

const asResult = <A>(r: { readonly value: A } | { readonly message: string }, f: (a: A) => VvValue): VvValue =>
  "message" in r ? error(r.message) : ok(f(r.value))

const fileArg = (native: string, value: VvValue): OpenFile => {
  const handle = userdataArg(native, "fd", value).handle
  return handle instanceof OpenFile ? handle : fail(native, "invalid file descriptor")
}

const alreadyClosed = (op: string, file: OpenFile): VvValue => error(`${op} ${file.path}: file already closed`)

const openFile = (native: string, path: string, flags: number): VvValue => {
  const r = attempt("open", path, () => Fs.openSync(path, flags, 0o666))
  return "message" in r ? fail(native, r.message) : new VvUserdata(new OpenFile(r.value, path))
}

const encoder = new TextEncoder()

const contentBytes = (content: VvList): Uint8Array => {
  const bytes: Array<number> = []
  let i = 0
  for (const item of content) {
    if (typeof item === "bigint") bytes.push(Number(BigInt.asUintN(8, item)))
    else if (item instanceof VvChar) {
      if (item.codePoint < 0x80) bytes.push(item.codePoint)
      else for (const b of encoder.encode(item.toString())) bytes.push(b)
    } else {
      return fail("write", `content must be a list of chars or ints, got ${describeKind(item)} at index ${i}`)
    }
    i++
  }
  return Uint8Array.from(bytes)
}

const { O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } = Fs.constants

/**
 * The natives of `std/fs/file.vv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const fileNatives = (): NativeModule =>
  nativeModule([
    native("open", ["path", "is_append"], ([p, a]) => {
      const path = textArg("open", "path", p!)
      return openFile("open", path, O_RDWR | (boolArg("open", "is_append", a!) ? O_APPEND : 0))
    }),
    native("open_read", ["path"], ([p]) => {
      const path = textArg("open_read", "path", p!)
      return asResult(
        attempt("open", path, () => Fs.openSync(path, O_RDONLY)),
        (fd) => new VvUserdata(new OpenFile(fd, path))
      )
    }),
    native("open_write", ["path", "is_append"], ([p, a]) => {
      const path = textArg("open_write", "path", p!)
      const append = boolArg("open_write", "is_append", a!)
      return openFile("open_write", path, O_WRONLY | (append ? O_APPEND : O_TRUNC))
    }),
    native("create", ["path"], ([p]) => {
      const path = textArg("create", "path", p!)
      return asResult(
        attempt("open", path, () => Fs.openSync(path, O_RDWR | O_CREAT | O_TRUNC, 0o666)),
        (fd) => new VvUserdata(new OpenFile(fd, path))
      )
    }),
    native("exists", ["path"], ([p]) => {
      const path = textArg("exists", "path", p!)
      const r = attempt("stat", path, () => Fs.statSync(path, { throwIfNoEntry: false }) !== undefined)
      return asResult(r, (exists) => exists)
    }),
    native("close", ["fd"], ([f]) => {
      const file = fileArg("close", f!)
      if (file.closed) return alreadyClosed("close", file)
      file.closed = true
      return asResult(attempt("close", file.path, () => Fs.closeSync(file.fd)), () => none())
    }),
    native("read", ["fd", "length"], ([f, n]) => {
      const file = fileArg("read", f!)
      const length = intArg("read", "length", n!)
      if (length < 0n || length > 1n << 30n) return fail("read", `expects length between 0 and 2^30, got ${length}`)
      if (file.closed) return alreadyClosed("read", file)
      const buffer = new Uint8Array(Number(length))
      return asResult(
        attempt("read", file.path, () => length === 0n ? 0 : Fs.readSync(file.fd, buffer, 0, buffer.length, null)),
        (count) => VvList.fromBytes(buffer.slice(0, count))
      )
    }),
    native("write", ["fd", "content"], ([f, c]) => {
      const file = fileArg("write", f!)
      const bytes = contentBytes(listArg("write", "content", c!))
      if (file.closed) return alreadyClosed("write", file)
      return asResult(
        attempt("write", file.path, () => {
          let written = 0
          while (written < bytes.length) written += Fs.writeSync(file.fd, bytes, written)
          return written
        }),
        (count) => BigInt(count)
      )
    })
  ])

/**
 * The natives of `std/fs/dir.vv`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const dirNatives = (): NativeModule =>
  nativeModule([
    native("read", ["path"], ([p]) => {
      const path = textArg("read", "path", p!)
      return asResult(
        attempt("open", path, () => Fs.readdirSync(path).sort()),
        (names) => VvList.from(names.map((name) => VvList.fromText(name)))
      )
    }),
    native("create", ["path"], ([p]) => {
      const path = textArg("create", "path", p!)
      return asResult(attempt("mkdir", path, () => Fs.mkdirSync(path, { recursive: true, mode: 0o755 })), () => none())
    }),
    native("remove", ["path"], ([p]) => {
      const path = textArg("remove", "path", p!)
      return asResult(attempt("unlinkat", path, () => Fs.rmSync(path, { recursive: true, force: true })), () => none())
    }),
    native("exists", ["path"], ([p]) => {
      const path = textArg("exists", "path", p!)
      const r = attempt("stat", path, () => Fs.statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false)
      return asResult(r, (isDir) => isDir)
    })
  ])
