/**
 * Certificates for the demo's TLS echo server (and the bench's TLS scenario, which imports this
 * file), made at start without the network: RSA keys from Node's crypto, a CA and a server
 * certificate for 127.0.0.1 built and signed with node-forge (as the node-adapter tests make
 * theirs). A real server loads its own from files.
 */
import type * as Forge from "node-forge"
import * as Crypto from "node:crypto"
/** PEM certificates: a CA, and a server certificate (127.0.0.1) it signed, with its key. */
export interface TlsMaterial {
  readonly ca: string
  readonly cert: string
  readonly key: string
}

const day = 24 * 60 * 60 * 1000

type ForgeModule = typeof Forge

const newKey = (forge: ForgeModule) => {
  const { privateKey, publicKey } = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString()
  return {
    pem,
    privateKey: forge.pki.privateKeyFromPem(pem),
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString())
  }
}

const certificate = (
  forge: ForgeModule,
  commonName: string,
  key: KeyPair,
  issuer: { readonly cert: Forge.pki.Certificate; readonly key: KeyPair } | undefined
): Forge.pki.Certificate => {
  const cert = forge.pki.createCertificate()
  const now = Date.now()
  cert.publicKey = key.publicKey
  cert.serialNumber = "01" + Crypto.randomBytes(8).toString("hex")
  cert.validity.notBefore = new Date(now - day)
  cert.validity.notAfter = new Date(now + day)
  const subject = [{ name: "commonName", value: commonName }]
  cert.setSubject(subject)
  cert.setIssuer(issuer === undefined ? subject : issuer.cert.subject.attributes)
  cert.setExtensions(
    issuer === undefined
      ? [{ name: "basicConstraints", cA: true, critical: true }, {
        name: "keyUsage",
        keyCertSign: true,
        critical: true
      }]
      : [
        { name: "basicConstraints", cA: false },
        { name: "extKeyUsage", serverAuth: true },
        { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }
      ]
  )
  cert.sign((issuer?.key ?? key).privateKey, forge.md.sha256.create())
  return cert
}

interface KeyPair {
  readonly pem: string
  readonly privateKey: Forge.pki.rsa.PrivateKey
  readonly publicKey: Forge.pki.rsa.PublicKey
}

let made: TlsMaterial | undefined

/** The CA and the server's certificate and key (PEM), made on first use. */
export const tlsMaterial = async (): Promise<TlsMaterial> => {
  if (made === undefined) {
    // loaded here, only when a TLS server is wanted (a bench child without one never loads it)
    const imported = await import("node-forge") as ForgeModule & { readonly default?: ForgeModule }
    const forge = imported.default ?? imported
    const caKey = newKey(forge)
    const ca = certificate(forge, "vvnet example CA", caKey, undefined)
    const serverKey = newKey(forge)
    const server = certificate(forge, "127.0.0.1", serverKey, { cert: ca, key: caKey })
    made = { ca: forge.pki.certificateToPem(ca), cert: forge.pki.certificateToPem(server), key: serverKey.pem }
  }
  return made
}
