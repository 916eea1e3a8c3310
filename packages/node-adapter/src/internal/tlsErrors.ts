/**
 * @internal
 * The one table from node:tls / OpenSSL failures to Go's crypto/tls texts. A failure is TLS's
 * when its code is a certificate verification code, Node's `ERR_TLS_*` or OpenSSL's `ERR_SSL_*`;
 * anything else (an errno) is left to core's errno table.
 */

import type { NetError } from "@vvnet/core"

/** The kinds of TLS failure (`TlsError.kind`). */
export type TlsFailureKind = NetError.TlsKind

/** A TLS failure, classified: its code, Go's text for it, and its kind. */
export interface TlsFailure {
  readonly code: string
  readonly reason: string
  readonly kind: TlsFailureKind
}

const unknownAuthority = "x509: certificate signed by unknown authority"
const expired = "x509: certificate has expired or is not yet valid"

/** OpenSSL's X509_V_ERR names (as Node reports them in `code`) → Go's x509 texts. */
const verificationCodes: ReadonlyMap<string, string> = new Map([
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", unknownAuthority],
  ["UNABLE_TO_GET_ISSUER_CERT", unknownAuthority],
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", unknownAuthority],
  ["SELF_SIGNED_CERT_IN_CHAIN", unknownAuthority],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", unknownAuthority],
  ["CERT_UNTRUSTED", unknownAuthority],
  ["CERT_HAS_EXPIRED", expired],
  ["CERT_NOT_YET_VALID", expired],
  ["CERT_REVOKED", "x509: certificate revoked"],
  ["CERT_REJECTED", "x509: certificate rejected"],
  ["CERT_SIGNATURE_FAILURE", "x509: certificate signature invalid"],
  ["CERT_CHAIN_TOO_LONG", "x509: too many intermediates for path length constraint"],
  ["PATH_LENGTH_EXCEEDED", "x509: too many intermediates for path length constraint"],
  ["INVALID_CA", "x509: certificate authority is not a CA"],
  ["INVALID_PURPOSE", "x509: certificate specifies an incompatible key usage"],
  ["HOSTNAME_MISMATCH", "x509: certificate is not valid for the requested name"],
  ["IP_ADDRESS_MISMATCH", "x509: certificate is not valid for the requested IP address"],
  ["UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY", "x509: malformed certificate"],
  ["UNABLE_TO_DECRYPT_CERT_SIGNATURE", "x509: certificate signature invalid"],
  ["ERROR_IN_CERT_NOT_BEFORE_FIELD", "x509: malformed validity"],
  ["ERROR_IN_CERT_NOT_AFTER_FIELD", "x509: malformed validity"]
])

/** OpenSSL's alert names (the part after `ALERT_`) → Go's alert texts (crypto/tls alert.go). */
const alerts: ReadonlyMap<string, string> = new Map([
  ["CLOSE_NOTIFY", "close notify"],
  ["UNEXPECTED_MESSAGE", "unexpected message"],
  ["BAD_RECORD_MAC", "bad record MAC"],
  ["DECRYPTION_FAILED", "decryption failed"],
  ["RECORD_OVERFLOW", "record overflow"],
  ["DECOMPRESSION_FAILURE", "decompression failure"],
  ["HANDSHAKE_FAILURE", "handshake failure"],
  ["NO_CERTIFICATE", "bad certificate"],
  ["BAD_CERTIFICATE", "bad certificate"],
  ["UNSUPPORTED_CERTIFICATE", "unsupported certificate"],
  ["CERTIFICATE_REVOKED", "revoked certificate"],
  ["CERTIFICATE_EXPIRED", "expired certificate"],
  ["CERTIFICATE_UNKNOWN", "unknown certificate"],
  ["ILLEGAL_PARAMETER", "illegal parameter"],
  ["UNKNOWN_CA", "unknown certificate authority"],
  ["ACCESS_DENIED", "access denied"],
  ["DECODE_ERROR", "error decoding message"],
  ["DECRYPT_ERROR", "error decrypting message"],
  ["EXPORT_RESTRICTION", "export restriction"],
  ["PROTOCOL_VERSION", "protocol version not supported"],
  ["INSUFFICIENT_SECURITY", "insufficient security level"],
  ["INTERNAL_ERROR", "internal error"],
  ["INAPPROPRIATE_FALLBACK", "inappropriate fallback"],
  ["USER_CANCELLED", "user canceled"],
  ["NO_RENEGOTIATION", "no renegotiation"],
  ["MISSING_EXTENSION", "missing extension"],
  ["UNSUPPORTED_EXTENSION", "unsupported extension"],
  ["CERTIFICATE_UNOBTAINABLE", "certificate unobtainable"],
  ["UNRECOGNIZED_NAME", "unrecognized name"],
  ["BAD_CERTIFICATE_STATUS_RESPONSE", "bad certificate status response"],
  ["BAD_CERTIFICATE_HASH_VALUE", "bad certificate hash value"],
  ["UNKNOWN_PSK_IDENTITY", "unknown PSK identity"],
  ["CERTIFICATE_REQUIRED", "certificate required"],
  ["NO_APPLICATION_PROTOCOL", "no application protocol"]
])

/** This side's handshake failures (OpenSSL reason codes, Node's `ERR_TLS_*`) → Go's texts. */
const handshakeCodes: ReadonlyMap<string, string> = new Map([
  ["ERR_SSL_WRONG_VERSION_NUMBER", "tls: first record does not look like a TLS handshake"],
  ["ERR_SSL_PACKET_LENGTH_TOO_LONG", "tls: first record does not look like a TLS handshake"],
  ["ERR_SSL_HTTP_REQUEST", "tls: first record does not look like a TLS handshake"],
  ["ERR_SSL_UNSUPPORTED_PROTOCOL", "tls: client offered only unsupported versions"],
  ["ERR_SSL_NO_PROTOCOLS_AVAILABLE", "tls: no supported versions satisfy MinVersion and MaxVersion"],
  ["ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION", "remote error: tls: protocol version not supported"],
  ["ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE", "tls: client didn't provide a certificate"],
  ["ERR_SSL_NO_SHARED_CIPHER", "tls: no cipher suite supported by both client and server"],
  ["ERR_SSL_NO_APPLICATION_PROTOCOL", "tls: client requested unsupported application protocols"],
  ["ERR_SSL_UNEXPECTED_EOF_WHILE_READING", "tls: unexpected EOF"],
  ["ERR_TLS_HANDSHAKE_TIMEOUT", "tls: handshake timed out"]
])

const alertPattern = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13|SSL|TLS)_(?:ALERT_)?(.+)$/

/** `ERR_SSL_SOME_REASON` → `some reason`. */
const spoken = (code: string): string => code.replace(/^ERR_(?:SSL|TLS)_/, "").toLowerCase().replace(/_/g, " ")

interface PeerCert {
  readonly subjectaltname?: string
}

/** Go's `x509.HostnameError` text, from Node's ERR_TLS_CERT_ALTNAME_INVALID (its `host` and `cert`). */
const hostnameReason = (error: { readonly host?: unknown; readonly cert?: unknown }): string => {
  const host = typeof error.host === "string" ? error.host : "?"
  const sans = typeof (error.cert as PeerCert | undefined)?.subjectaltname === "string"
    ? (error.cert as PeerCert).subjectaltname!.split(", ")
    : []
  const isIp = /^[0-9.]+$/.test(host) || host.includes(":")
  if (isIp) {
    const ips = sans.filter((s) => s.startsWith("IP Address:")).map((s) => s.slice(11))
    return ips.length === 0
      ? `x509: cannot validate certificate for ${host} because it doesn't contain any IP SANs`
      : `x509: certificate is valid for ${ips.join(", ")}, not ${host}`
  }
  const names = sans.filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4))
  return names.length === 0
    ? `x509: certificate is not valid for any names, but wanted to match ${host}`
    : `x509: certificate is valid for ${names.join(", ")}, not ${host}`
}

/**
 * Classifies a node:tls failure, or returns undefined when it is not TLS's (an errno such as
 * ECONNRESET, for core's errno table).
 */
export const classify = (error: unknown): TlsFailure | undefined => {
  const e = error as {
    readonly code?: unknown
    readonly message?: unknown
    readonly host?: unknown
    readonly cert?: unknown
  }
  const code = typeof e?.code === "string" ? e.code : undefined
  if (code === undefined) return undefined
  const verification = verificationCodes.get(code)
  if (verification !== undefined) {
    return { code, kind: "verification", reason: `tls: failed to verify certificate: ${verification}` }
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return { code, kind: "verification", reason: `tls: failed to verify certificate: ${hostnameReason(e)}` }
  }
  const local = handshakeCodes.get(code)
  if (local !== undefined) {
    return { code, kind: code === "ERR_TLS_HANDSHAKE_TIMEOUT" ? "timeout" : "handshake", reason: local }
  }
  if (code.startsWith("ERR_SSL_") && code.includes("ALERT")) {
    const name = alertPattern.exec(code)?.[1]?.replace(/^ALERT_/, "") ?? ""
    return { code, kind: "alert", reason: `remote error: tls: ${alerts.get(name) ?? spoken(name)}` }
  }
  if (code === "ERR_SSL_TLSV1_UNRECOGNIZED_NAME") {
    return { code, kind: "alert", reason: "remote error: tls: unrecognized name" }
  }
  if (code.startsWith("ERR_SSL_")) return { code, kind: "handshake", reason: `tls: ${spoken(code)}` }
  if (code.startsWith("ERR_TLS_")) {
    const message = typeof e.message === "string" ? e.message : spoken(code)
    return { code, kind: "handshake", reason: `tls: ${message}` }
  }
  return undefined
}
