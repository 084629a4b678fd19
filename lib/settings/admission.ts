// Tunables of the webhook server (admission and conversion): where it listens, how the API server
// reaches it, its TLS material, and the managed webhook configurations (Kopf's
// `settings.admission`). Plain data with defaults; reactor/webhooks.ts reads them. No I/O here.

/** Where a webhook's API server reaches it through a Service, instead of a URL. */
export interface WebhookService {
  /** The Service's namespace. */
  namespace: string;
  /** The Service's name. */
  name: string;
  /** The Service's port. @default {443} */
  port?: number;
  /** A path prefix on the Service; the handler's id is appended. */
  path?: string;
}

/** How the webhook server runs and how webhooks are configured in the cluster. */
export interface AdmissionSettings {
  /** The address to listen on; `0.0.0.0` listens on every IPv4 interface. */
  address: string;
  /** The port to listen on; 0 takes a free one (the managed configurations get the actual one). */
  port: number;
  /**
   * The hostname the API server uses in the webhook URL (and the certificate's first name).
   * @default {the address, or 127.0.0.1 for 0.0.0.0 and ::1 for ::}
   */
  host: string | undefined;
  /** A root path for every webhook: `/admission` serves `/admission/<id>`. */
  path: string;
  /**
   * The whole URL the API server calls, e.g. a TLS proxy's in front of the plain HTTP mode;
   * handler ids are appended. @default {https://<host>:<port><path>}
   */
  url: string | undefined;
  /** Configure webhooks through this Service rather than a URL (in-cluster deployments). */
  service: WebhookService | undefined;
  /**
   * The serving certificate (PEM, the chain after it) as cert-manager mounts it; with `keyFile`.
   * Without both, a CA and a certificate are generated at start (self-signed mode).
   */
  certFile: string | undefined;
  /** The serving certificate's private key (PEM, PKCS#8). */
  keyFile: string | undefined;
  /**
   * The CA bundle (PEM) given to the API server as `caBundle`. @default {the self-signed CA, or
   * `certFile` itself when certificate files are given}
   */
  caFile: string | undefined;
  /** Write the CA bundle (never a key) to this file at start, e.g. for `curl --cacert`. */
  caDumpFile: string | undefined;
  /** More DNS names or IP addresses for the self-signed certificate. */
  extraSans: string[];
  /** How often certificate files are re-read; a change restarts the server with them. */
  fileCheckIntervalSeconds: number;
  /** Serve plain HTTP, for use behind a TLS-terminating proxy (then set `url`). */
  insecure: boolean;
  /** A review body larger than this is refused with 413 before it is parsed. */
  maxBodyBytes: number;
  /**
   * The name of the Validating/MutatingWebhookConfiguration to create at start and keep in sync
   * with the handlers (their webhooks are `<id>.<name>`); removed at exit unless `persistent`.
   * Unset: the configurations are the user's to make (Kopf's default).
   */
  managed: string | undefined;
  /** Point the CRDs of `on.convert` handlers at this server (`spec.conversion`) at start. */
  manageConversion: boolean;
  /** The `timeoutSeconds` of the managed webhooks: the API server's wait for an answer (1–30). */
  timeoutSeconds: number;
}

/**
 * The defaults: every IPv4 interface on port 9443, self-signed TLS, unmanaged configurations,
 * CRD conversion wired to the server, files checked every 60 s (as Kopf), bodies up to 3 MiB.
 *
 * @example Managed configurations, reached by the API server on loopback
 * ```ts
 * import { defaultAdmission } from "./admission.ts";
 * const admission = defaultAdmission();
 * admission.address = "127.0.0.1";
 * admission.managed = "kopfexamples.kopf.dev";
 * ```
 */
export function defaultAdmission(): AdmissionSettings {
  return {
    address: "0.0.0.0",
    port: 9443,
    host: undefined,
    path: "",
    url: undefined,
    service: undefined,
    certFile: undefined,
    keyFile: undefined,
    caFile: undefined,
    caDumpFile: undefined,
    extraSans: [],
    fileCheckIntervalSeconds: 60,
    insecure: false,
    maxBodyBytes: 3 * 1024 * 1024,
    managed: undefined,
    manageConversion: true,
    timeoutSeconds: 30,
  };
}
