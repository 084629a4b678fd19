// The webhook server's TLS material: a CA and a serving certificate generated at start (ECDSA
// P-256 over WebCrypto, X.509 by @peculiar/x509), or PEM files as cert-manager mounts them, read
// with a digest so that a change can be noticed. Called by reactor/webhooks.ts. Never logs or
// returns a private key anywhere but to the caller, and never writes one to disk.

/** What the server serves with and what the API server must trust. */
export interface TlsMaterial {
  /** The serving certificate, PEM (with its chain after it, as files give it). */
  readonly cert: string;
  /** Its private key, PEM (PKCS#8). Never log it. */
  readonly key: string;
  /** The CA bundle for the API server (`caBundle`), PEM. */
  readonly ca: string;
  /** Where it came from. */
  readonly source: "self-signed" | "files";
  /** A SHA-256 of the files' contents (undefined when generated): a change means a reload. */
  readonly digest: string | undefined;
}

/** A certificate file is missing, unreadable or not PEM; the message is one line naming it. */
export class CertificateError extends Error {
  override name = "CertificateError";
}

/** Which files make the TLS material. */
export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** The CA bundle to give the API server. @default {the certificate file itself} */
  readonly caFile?: string | undefined;
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const HOUR_MS = 3600_000;

/**
 * Generates a CA and a serving certificate signed by it for these DNS names and IP addresses
 * (the first one is the common name). The key lives in memory only.
 *
 * @example Serving HTTPS that a client trusts through the generated CA
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { selfSigned } from "./certificates.ts";
 *
 * const tls = await selfSigned(["localhost", "127.0.0.1"]);
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key,
 *   onListen() {} }, () => new Response("ok"));
 * const client = Deno.createHttpClient({ caCerts: [tls.ca] });
 * const response = await fetch(`https://127.0.0.1:${server.addr.port}/`, { client });
 * equal(await response.text(), "ok");
 * client.close();
 * await server.shutdown();
 * ```
 */
export async function selfSigned(
  hostnames: readonly string[],
  options: { validityDays?: number } = {},
): Promise<TlsMaterial> {
  const x509 = await library();
  const names = [...new Set(hostnames.filter((name) => name !== ""))];
  if (names.length === 0) throw new CertificateError("Cannot make a certificate for no hostname");
  const now = Date.now();
  const notBefore = new Date(now - HOUR_MS); // tolerate clocks a little behind
  const notAfter = new Date(now + (options.validityDays ?? 365) * 24 * HOUR_MS);
  const caKeys = await crypto.subtle.generateKey(ALGORITHM, false, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=Kopf webhooks CA for ${escapeName(names[0]!)}`,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${escapeName(names[0]!)}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((name) => ({
          type: isIpAddress(name) ? "ip" as const : "dns" as const,
          value: name,
        })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return {
    cert: cert.toString("pem"),
    key: x509.PemConverter.encode(pkcs8, "PRIVATE KEY"),
    ca: ca.toString("pem"),
    source: "self-signed",
    digest: undefined,
  };
}

/**
 * Reads the certificate, key and CA files. The digest covers all of them, so that a rotation
 * by cert-manager (which rewrites the files) shows as a new digest.
 *
 * @throws {CertificateError} one line naming the file and why it cannot be used.
 *
 * @example
 * ```ts ignore
 * const tls = await readCertificateFiles({ certFile: "/tls/tls.crt", keyFile: "/tls/tls.key" });
 * ```
 */
export async function readCertificateFiles(files: CertificateFiles): Promise<TlsMaterial> {
  const cert = await readPem(files.certFile, "certificate", "CERTIFICATE");
  const key = await readPem(files.keyFile, "key", "PRIVATE KEY");
  const ca = files.caFile === undefined ? cert : await readPem(files.caFile, "CA", "CERTIFICATE");
  return { cert, key, ca, source: "files", digest: await digestOf([cert, key, ca]) };
}

/**
 * The digest of the files as `readCertificateFiles` computes it, without parsing them: cheap
 * enough to poll. Fails as `readCertificateFiles` does when a file cannot be read.
 *
 * @example
 * ```ts ignore
 * if (await filesDigest(files) !== tls.digest) console.log("rotated");
 * ```
 */
export async function filesDigest(files: CertificateFiles): Promise<string> {
  const cert = await readText(files.certFile, "certificate");
  const key = await readText(files.keyFile, "key");
  const ca = files.caFile === undefined ? cert : await readText(files.caFile, "CA");
  return await digestOf([cert, key, ca]);
}

/**
 * Whether a name is an IPv4 or IPv6 address (it goes into the certificate as an IP SAN).
 *
 * @example
 * ```ts
 * import { isIpAddress } from "./certificates.ts";
 * isIpAddress("127.0.0.1"); // true
 * isIpAddress("::1"); // true
 * isIpAddress("localhost"); // false
 * ```
 */
export function isIpAddress(name: string): boolean {
  if (/^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(name)) return true;
  return name.includes(":") && /^[0-9a-fA-F:.]+$/.test(name);
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "it does not exist"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new CertificateError(`Cannot read the webhook ${what} file "${path}": ${reason}`);
  }
}

async function readPem(path: string, what: string, label: string): Promise<string> {
  const text = await readText(path, what);
  // "PRIVATE KEY" also matches "EC PRIVATE KEY" and "RSA PRIVATE KEY": rustls reads those too.
  if (!new RegExp(`-----BEGIN [A-Z ]*${label}-----`).test(text)) {
    throw new CertificateError(
      `Cannot use the webhook ${what} file "${path}": it has no PEM "${label}" block`,
    );
  }
  return text;
}

async function digestOf(parts: readonly string[]): Promise<string> {
  const data = new TextEncoder().encode(parts.join("\0"));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function serial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // a positive integer, as RFC 5280 wants
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function escapeName(name: string): string {
  return name.replace(/([,+"\\<>;=])/g, "\\$1");
}

type X509 = typeof import("@peculiar/x509");
let loaded: Promise<X509> | undefined;

/**
 * The X.509 library, loaded on first use: operators without webhooks never load it. It needs
 * the `reflect-metadata` polyfill (for its dependency injection) before it loads.
 */
function library(): Promise<X509> {
  loaded ??= (async () => {
    await import("reflect-metadata");
    return await import("@peculiar/x509");
  })();
  return loaded;
}
