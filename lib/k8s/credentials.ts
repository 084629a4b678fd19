// Authenticators for a kubeconfig `user` and for the in-cluster service account: static bearer
// tokens, token files re-read on a timer and after a 401, basic auth, client certificates and
// the oidc auth-provider's id-token. Called by kubeconfig.ts, incluster.ts and exec_plugins.ts;
// never puts a token, password or key into a message, a `toString()` or `Deno.inspect`.

import * as path from "node:path";
import * as clock from "../async/clock.ts";
import type * as connections from "./connections.ts";
import * as sections from "./_sections.ts";
import * as errors from "./errors.ts";

/** How often a token file is re-read, as client-go does for projected service-account tokens. */
export const TOKEN_FILE_RELOAD_INTERVAL_SECONDS = 60;

const inspectSymbol = Symbol.for("Deno.customInspect");

/** True when both carry the same header and the same client certificate. */
export function sameCredentials(a: connections.Credentials, b: connections.Credentials): boolean {
  return a.authorization === b.authorization &&
    a.clientCertificate?.cert === b.clientCertificate?.cert &&
    a.clientCertificate?.key === b.clientCertificate?.key;
}

/** Fixed credentials that describe themselves without showing the secret. */
class FixedAuthenticator implements connections.Authenticator {
  readonly #credentials: connections.Credentials;
  readonly #description: string;

  constructor(credentials: connections.Credentials, description: string) {
    this.#credentials = credentials;
    this.#description = description;
  }

  credentials(): Promise<connections.Credentials> {
    return Promise.resolve(this.#credentials);
  }

  refresh(): Promise<boolean> {
    return Promise.resolve(false);
  }

  toString(): string {
    return this.#description;
  }

  [inspectSymbol](): string {
    return this.#description;
  }
}

/** Sends `Authorization: Bearer <token>`; a 401 is final (there is nothing to refresh). */
export function bearerToken(
  token: string,
  description = "bearer token",
): connections.Authenticator {
  return new FixedAuthenticator({ authorization: `Bearer ${token}` }, description);
}

/** Sends `Authorization: Basic base64(username:password)` (UTF-8), as client-go does. */
export function basicAuth(username: string, password: string): connections.Authenticator {
  const encoded = encodeBase64(`${username}:${password}`);
  return new FixedAuthenticator(
    { authorization: `Basic ${encoded}` },
    `basic auth as "${username}"`,
  );
}

/** Base64 of the UTF-8 bytes of `text` (`btoa` alone fails beyond Latin-1). */
export function encodeBase64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
}

/**
 * A client certificate from the kubeconfig, added to what `base` gives (a token, basic auth)
 * unless `base` brings its own certificate (an exec plugin that returns one wins).
 */
export function withClientCertificate(
  certificate: connections.ClientCertificate,
  base?: connections.Authenticator,
): connections.Authenticator {
  if (base === undefined) {
    return new FixedAuthenticator({ clientCertificate: certificate }, "client certificate");
  }
  return new CertificateAuthenticator(certificate, base);
}

class CertificateAuthenticator implements connections.Authenticator {
  readonly #certificate: connections.ClientCertificate;
  readonly #base: connections.Authenticator;

  constructor(certificate: connections.ClientCertificate, base: connections.Authenticator) {
    this.#certificate = certificate;
    this.#base = base;
  }

  async credentials(signal?: AbortSignal): Promise<connections.Credentials> {
    const credentials = await this.#base.credentials(signal);
    return credentials.clientCertificate
      ? credentials
      : { ...credentials, clientCertificate: this.#certificate };
  }

  refresh(used: connections.Credentials, signal?: AbortSignal): Promise<boolean> {
    // The base never saw our certificate: compare what it handed out with what it gets back.
    const ours = sameCredentials(used, { ...used, clientCertificate: this.#certificate });
    const { clientCertificate: _, ...withoutCertificate } = used;
    return this.#base.refresh(ours ? withoutCertificate : used, signal);
  }

  toString(): string {
    return `client certificate and ${String(this.#base)}`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

/** Options of {@link TokenFileAuthenticator}. */
export interface TokenFileOptions {
  /** The `token` next to `tokenFile`: used only while the file has never been read. */
  readonly token?: string;
  /** A value already read from the file (by the loader, to validate it), fresh as of now. */
  readonly initial?: string;
  /** The clock the reload interval is measured on. @default realClock */
  readonly clock?: clock.Clock;
  /** How long a read value is used before the file is read again. @default {60} */
  readonly reloadIntervalSeconds?: number;
}

/**
 * A bearer token read from a file (`tokenFile`, the service-account token): re-read every
 * `reloadIntervalSeconds` and after a 401, because kubelet rotates projected tokens. The last
 * successfully read value wins over `token`; a failed re-read keeps the last good value.
 */
export class TokenFileAuthenticator implements connections.Authenticator {
  readonly file: string;
  readonly #fallback: string | undefined;
  readonly #clock: clock.Clock;
  readonly #intervalMs: number;
  #token: string | undefined;
  #readAt = -Infinity;
  #failure: unknown;
  #reading: Promise<void> | undefined;

  constructor(file: string, options: TokenFileOptions = {}) {
    this.file = file;
    this.#fallback = options.token;
    this.#clock = options.clock ?? clock.realClock;
    this.#intervalMs = (options.reloadIntervalSeconds ?? TOKEN_FILE_RELOAD_INTERVAL_SECONDS) * 1000;
    if (options.initial !== undefined) {
      this.#token = options.initial;
      this.#readAt = this.#clock.now();
    }
  }

  /** The token as of the last read, re-reading the file when the interval has passed. */
  async credentials(): Promise<connections.Credentials> {
    if (this.#clock.now() - this.#readAt >= this.#intervalMs) await this.#reload();
    return this.#current();
  }

  /** Re-reads the file now; true when it now holds a different token than the one refused. */
  async refresh(used: connections.Credentials): Promise<boolean> {
    await this.#reload();
    return this.#current().authorization !== used.authorization;
  }

  toString(): string {
    return `token file "${this.file}"`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }

  #reload(): Promise<void> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(): Promise<void> {
    try {
      const token = (await Deno.readTextFile(this.file)).trim();
      if (token === "") throw new Error("the file is empty");
      this.#token = token;
      this.#failure = undefined;
    } catch (error) {
      this.#failure = error;
    } finally {
      this.#readAt = this.#clock.now();
    }
  }

  #current(): connections.Credentials {
    const token = this.#token ?? this.#fallback;
    if (token === undefined) {
      throw new errors.CredentialsError(
        `Cannot read the token file "${this.file}": ${sections.describeReadError(this.#failure)}`,
        { cause: this.#failure },
      );
    }
    return { authorization: `Bearer ${token}` };
  }
}

/** Settings that would change who we act as; silently ignoring them would be worse than refusing. */
const IMPERSONATION = ["as", "as-uid", "as-groups", "as-user-extra"];

/**
 * Checks what client-go checks of a kubeconfig user: at most one authentication method
 * (token or tokenFile, username/password, exec, auth-provider). Impersonation is refused.
 */
export function checkUser(user: sections.Section): void {
  for (const key of IMPERSONATION) {
    if (user.has(key)) {
      throw sections.fieldError(user.at(key), "is set, but impersonation is not supported");
    }
  }
  const methods = [
    (user.has("token") || user.has("tokenFile")) && "token",
    (user.has("username") || user.has("password")) && "username/password",
    user.section("exec") !== undefined && "exec",
    user.section("auth-provider") !== undefined && "auth-provider",
  ].filter((m): m is string => typeof m === "string");
  if (methods.length > 1) {
    throw sections.fieldError(
      { file: user.file, field: user.field },
      `sets ${methods.join(" and ")}, but client-go allows only one authentication method per user`,
    );
  }
}

/** The user's client certificate and key (`*-data` wins over the files); one without the other is refused. */
export async function clientCertificate(
  user: sections.Section,
): Promise<connections.ClientCertificate | undefined> {
  const cert = await sections.readPem(user, "client-certificate");
  const key = await sections.readPem(user, "client-key");
  if (cert !== undefined && key !== undefined) return { cert, key };
  if (cert === undefined && key === undefined) return undefined;
  const [set, missing] = cert === undefined
    ? ["client-key", "client-certificate"]
    : ["client-certificate", "client-key"];
  const field = user.has(`${set}-data`) ? `${set}-data` : set;
  throw sections.fieldError(
    user.at(field),
    `is set, but neither ${missing} nor ${missing}-data is`,
  );
}

/**
 * The authenticator of a user's token, tokenFile (read now, to refuse a missing file early),
 * username/password or auth-provider; undefined when it has none (exec is exec_plugins.ts's).
 */
export async function userAuthenticator(
  user: sections.Section,
  options: { readonly clock?: clock.Clock } = {},
): Promise<connections.Authenticator | undefined> {
  const provider = user.section("auth-provider");
  if (provider !== undefined) return authProvider(provider);
  const tokenFile = user.string("tokenFile");
  const token = user.string("token");
  if (tokenFile !== undefined) {
    const file = path.resolve(path.dirname(user.file), tokenFile);
    const initial = (await sections.readFile(user.at("tokenFile"), file)).trim();
    if (initial === "") throw sections.fieldError(user.at("tokenFile"), `"${file}" is empty`);
    return new TokenFileAuthenticator(file, {
      initial,
      ...(token === undefined ? {} : { token }),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }
  if (token !== undefined) return bearerToken(token);
  if (user.has("username") || user.has("password")) {
    return basicAuth(user.string("username") ?? "", user.string("password") ?? "");
  }
  return undefined;
}

/** Exec plugins that replace the auth-providers removed from client-go. */
const REPLACEMENTS: Record<string, string> = {
  gcp: "the exec plugin gke-gcloud-auth-plugin",
  azure: "the exec plugin kubelogin (https://azure.github.io/kubelogin/)",
};

/**
 * The legacy `auth-provider` of a user. Only `oidc` is supported, and only its
 * `config.id-token` (sent as a bearer token, never refreshed); every other provider is a
 * `ConfigError` suggesting an exec plugin.
 */
export function authProvider(provider: sections.Section): connections.Authenticator {
  const name = provider.string("name");
  if (name === undefined) throw sections.fieldError(provider.at("name"), "is not set");
  if (name !== "oidc") {
    const replacement = REPLACEMENTS[name];
    const problem = replacement === undefined
      ? `"${name}" is not supported (only the id-token of oidc is); use an exec plugin (users[].user.exec) instead`
      : `"${name}" is not supported: this auth-provider was removed from client-go; use ${replacement} instead`;
    throw sections.fieldError(provider.at("name"), problem);
  }
  const idToken = provider.section("config")?.string("id-token");
  if (idToken === undefined) {
    throw sections.fieldError(
      provider.at("config.id-token"),
      "is not set: only the id-token of the oidc auth-provider is used (it is never refreshed); " +
        "log in again, or use an exec plugin such as kubelogin",
    );
  }
  return bearerToken(idToken, "oidc id-token");
}
