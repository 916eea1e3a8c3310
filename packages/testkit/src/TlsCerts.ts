/**
 * Certificates made at run time without the network: keys from Node's crypto (native RSA key
 * generation), certificates built and signed with node-forge. Nothing is written to disk; each
 * process (a test file, the demo, a bench child) makes its own set on first use and keeps it.
 * For tests, the demo and the bench only: a real server loads its own from files.
 *
 * - `serverCerts()`: `ca`, a certificate authority the clients trust (`ca` option), and `server`,
 *   signed by `ca`, valid now, for `localhost`, `127.0.0.1` and `::1`. Two keys: what the demo
 *   and the bench's TLS scenario need.
 * - `testCerts()`: the same `ca` and `server`, and what the TLS tests need besides:
 *   - `expired`: signed by `ca`, for the same names, valid only in the past (CERT_HAS_EXPIRED).
 *   - `wrongHost`: signed by `ca`, valid now, for `other.example` only (host name mismatch).
 *   - `selfSigned`: a server certificate that signs itself (unknown authority).
 *   - `client`: signed by `ca`, for client authentication.
 *   - `otherCa` / `otherClient`: a second authority and a client it signed (not trusted by servers).
 */
import type * as Forge from "node-forge"
import * as Crypto from "node:crypto"
import { createRequire } from "node:module"

// node-forge is CommonJS (`module.exports = forge`): required, so the same code runs under any
// loader (vitest, tsx, the bench's bundle, where it stays external); on first use, so a process
// that makes no certificate (a bench child without TLS) never loads it
let forgeModule: typeof Forge | undefined
const forge = (): typeof Forge => (forgeModule ??= createRequire(import.meta.url)("node-forge") as typeof Forge)

/** A PEM certificate (chain) and its PEM private key. */
export interface KeyPair {
  readonly cert: string
  readonly key: string
}

/** A CA (PEM) and a server certificate it signed, for `localhost`, `127.0.0.1` and `::1`. */
export interface ServerCerts {
  readonly ca: string
  readonly server: KeyPair
}

/** `ServerCerts` and the certificates the TLS tests need besides (see the module's comment). */
export interface TestCerts extends ServerCerts {
  readonly expired: KeyPair
  readonly wrongHost: KeyPair
  readonly selfSigned: KeyPair
  readonly client: KeyPair
  readonly otherCa: string
  readonly otherClient: KeyPair
}

const day = 24 * 60 * 60 * 1000

interface Key {
  readonly pem: string
  readonly privateKey: Forge.pki.rsa.PrivateKey
  readonly publicKey: Forge.pki.rsa.PublicKey
}

const newKey = (): Key => {
  const { privateKey, publicKey } = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString()
  const pubPem = publicKey.export({ type: "spki", format: "pem" }).toString()
  return {
    pem: keyPem,
    privateKey: forge().pki.privateKeyFromPem(keyPem),
    publicKey: forge().pki.publicKeyFromPem(pubPem)
  }
}

let serial = 1

interface CertSpec {
  readonly commonName: string
  readonly isCa?: boolean
  readonly dns?: ReadonlyArray<string>
  readonly ips?: ReadonlyArray<string>
  readonly notBefore: Date
  readonly notAfter: Date
  readonly usage: "ca" | "server" | "client"
}

interface Issuer {
  readonly cert: Forge.pki.Certificate
  readonly key: Key
}

const makeCert = (spec: CertSpec, subjectKey: Key, issuer: Issuer | undefined): Forge.pki.Certificate => {
  const cert = forge().pki.createCertificate()
  cert.publicKey = subjectKey.publicKey
  cert.serialNumber = (serial++).toString(16).padStart(2, "0") + Crypto.randomBytes(8).toString("hex")
  cert.validity.notBefore = spec.notBefore
  cert.validity.notAfter = spec.notAfter
  const subject = [{ name: "commonName", value: spec.commonName }, { name: "organizationName", value: "vvnet test" }]
  cert.setSubject(subject)
  cert.setIssuer(issuer === undefined ? subject : issuer.cert.subject.attributes)
  const extensions: Array<Record<string, unknown>> = [
    { name: "basicConstraints", cA: spec.isCa === true, critical: true },
    spec.isCa === true
      ? { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true }
      : { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "subjectKeyIdentifier" }
  ]
  if (spec.usage === "server") extensions.push({ name: "extKeyUsage", serverAuth: true })
  if (spec.usage === "client") extensions.push({ name: "extKeyUsage", clientAuth: true })
  const altNames = [
    ...(spec.dns ?? []).map((value) => ({ type: 2, value })),
    ...(spec.ips ?? []).map((ip) => ({ type: 7, ip }))
  ]
  if (altNames.length > 0) extensions.push({ name: "subjectAltName", altNames })
  if (issuer !== undefined) {
    extensions.push({
      name: "authorityKeyIdentifier",
      keyIdentifier: issuer.cert.generateSubjectKeyIdentifier().getBytes()
    })
  }
  cert.setExtensions(extensions)
  cert.sign((issuer?.key ?? subjectKey).privateKey, forge().md.sha256.create())
  return cert
}

const pem = (cert: Forge.pki.Certificate) => forge().pki.certificateToPem(cert)

const local = { dns: ["localhost"], ips: ["127.0.0.1", "::1"] }

/** The CA and the server's certificate, with what `testCerts` signs more with. */
interface Base {
  readonly now: number
  readonly valid: { readonly notBefore: Date; readonly notAfter: Date }
  readonly ca: Issuer
  readonly serverKey: Key
  readonly certs: ServerCerts
}

const makeBase = (): Base => {
  const now = Date.now()
  const valid = { notBefore: new Date(now - day), notAfter: new Date(now + 30 * day) }
  const caKey = newKey()
  const caCert = makeCert({ commonName: "vvnet test CA", isCa: true, usage: "ca", ...valid }, caKey, undefined)
  const ca = { cert: caCert, key: caKey }
  const serverKey = newKey()
  const server = {
    cert: pem(makeCert({ commonName: "localhost", usage: "server", ...local, ...valid }, serverKey, ca)),
    key: serverKey.pem
  }
  return { now, valid, ca, serverKey, certs: { ca: pem(caCert), server } }
}

const makeTestCerts = ({ ca, certs, now, serverKey, valid }: Base): TestCerts => {
  const leaf = (spec: CertSpec, issuer = ca): KeyPair => {
    const key = newKey()
    return { cert: pem(makeCert(spec, key, issuer)), key: key.pem }
  }
  // same key as the server: keygen is the slow part
  const expired = {
    cert: pem(makeCert(
      {
        commonName: "localhost",
        usage: "server",
        ...local,
        notBefore: new Date(now - 60 * day),
        notAfter: new Date(now - 30 * day)
      },
      serverKey,
      ca
    )),
    key: serverKey.pem
  }
  const wrongHost = {
    cert: pem(
      makeCert({ commonName: "other.example", usage: "server", dns: ["other.example"], ...valid }, serverKey, ca)
    ),
    key: serverKey.pem
  }
  const selfSigned = {
    cert: pem(makeCert({ commonName: "localhost", usage: "server", ...local, ...valid }, serverKey, undefined)),
    key: serverKey.pem
  }
  const client = leaf({ commonName: "vvnet test client", usage: "client", ...valid })
  const otherCaKey = newKey()
  const otherCaCert = makeCert(
    { commonName: "vvnet other CA", isCa: true, usage: "ca", ...valid },
    otherCaKey,
    undefined
  )
  const otherClient = leaf({ commonName: "vvnet other client", usage: "client", ...valid }, {
    cert: otherCaCert,
    key: otherCaKey
  })
  return { ...certs, expired, wrongHost, selfSigned, client, otherCa: pem(otherCaCert), otherClient }
}

let base: Base | undefined
let all: TestCerts | undefined

/** The CA and the server's certificate and key (PEM), made on first use. */
export const serverCerts = (): ServerCerts => (base ??= makeBase()).certs

/** Every test certificate (PEM), made on first use; `ca` and `server` are `serverCerts()`'s. */
export const testCerts = (): TestCerts => (all ??= makeTestCerts(base ??= makeBase()))
