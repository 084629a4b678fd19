// What the transport needs to reach one API server: where, which CAs to trust, and an
// authenticator that hands out (and refreshes) credentials. Produced by the kubeconfig and
// in-cluster loaders; consumed by the transport. Pure types, no I/O.

/** A client certificate and its key, both PEM. */
export interface ClientCertificate {
  readonly cert: string;
  readonly key: string;
}

/** What goes into one request: an `Authorization` header and/or a client certificate. */
export interface Credentials {
  /** The full header value, e.g. `Bearer abc` or `Basic dTpw`. */
  readonly authorization?: string;
  readonly clientCertificate?: ClientCertificate;
}

/**
 * A source of credentials. Implementations cache what they read and decide when to re-read
 * (token files every minute, exec plugins at their expiry).
 */
export interface Authenticator {
  /** Credentials for the next request. */
  credentials(signal?: AbortSignal): Promise<Credentials>;
  /**
   * Called after the server answered 401 to a request made with `used`. Drops cached values
   * and returns true when fresh credentials may succeed (then the request is retried once).
   */
  refresh(used: Credentials, signal?: AbortSignal): Promise<boolean>;
}

/** Everything needed to talk to one API server. */
export interface Connection {
  /** The base URL, without a trailing slash: `https://127.0.0.1:6443`. */
  readonly server: string;
  /** PEM certificates to trust in addition to Deno's roots (the cluster CA). */
  readonly caCerts: readonly string[];
  /** The kubeconfig asked to skip TLS verification (only possible process-wide in Deno). */
  readonly insecureSkipTlsVerify: boolean;
  /** `tls-server-name` from the kubeconfig: Deno's fetch cannot override SNI, so it is refused. */
  readonly tlsServerName?: string;
  /** `proxy-url` from the kubeconfig. */
  readonly proxyUrl?: string;
  /** The namespace of the context, else `default`. */
  readonly namespace: string;
  /** Where this came from, for messages: `kubeconfig /home/u/.kube/config, context "dev"`. */
  readonly source: string;
  readonly authenticator: Authenticator;
}

/** An authenticator that sends nothing: for servers that need no authentication. */
export const anonymous: Authenticator = {
  credentials: () => Promise.resolve({}),
  refresh: () => Promise.resolve(false),
};

/** An authenticator with fixed credentials (a static token, basic auth, a certificate). */
export function fixedCredentials(credentials: Credentials): Authenticator {
  return {
    credentials: () => Promise.resolve(credentials),
    refresh: () => Promise.resolve(false),
  };
}
