// The one place that sends HTTP to the API server: fetch over a Deno.createHttpClient with the
// cluster CA and client certificate, timeouts and cancellation, retries of connection errors,
// 429 and 5xx (honouring Retry-After), and one credential refresh after a 401.
// It knows URLs and status codes, never resources or handlers.

import * as backoff from "../async/backoff.ts";
import * as signals from "../async/signals.ts";
import * as clocks from "../async/clock.ts";
import type * as networking from "../settings/networking.ts";
import * as networkingDefaults from "../settings/networking.ts";
import type * as connections from "./connections.ts";
import * as errors from "./errors.ts";

/** Query parameters; `undefined` values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** One request to the API server. */
export interface RequestOptions {
  query?: Query | undefined;
  /** A JSON-serialisable body. */
  body?: unknown;
  /** @default {"application/json"} */
  contentType?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Overrides `requestTimeoutSeconds`; `Infinity` for streams. */
  timeoutSeconds?: number | undefined;
  /** Overrides the number of retries; 0 for none. */
  retries?: number | undefined;
  /** @default {"application/json"} */
  accept?: string | undefined;
}

/** Options of a transport beyond the connection. */
export interface TransportOptions {
  settings?: Partial<networking.NetworkingSettings>;
  clock?: clocks.Clock;
  random?: () => number;
  /**
   * Deno cannot skip TLS verification per client, only for the whole process
   * (`--unsafely-ignore-certificate-errors`). Set this to confirm the process was started so.
   */
  insecureSkipTlsVerifyProcessWide?: boolean;
  userAgent?: string;
  /** Called after every HTTP exchange (for metrics and request counting in tests). */
  onResponse?: (exchange: Exchange) => void;
}

/** One HTTP exchange, as reported to `onResponse`: status 0 when no response came. */
export interface Exchange {
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly contentType: string | undefined;
  /** Seconds from sending the request to its response headers (or to its failure). */
  readonly seconds: number;
}

/**
 * The resource of an exchange for counting requests: `pods`, `kopfexamples.kopf.dev`, with a
 * subresource after a slash (`kopfexamples.kopf.dev/status`); `""` for discovery.
 *
 * @example
 * ```ts
 * import { resourceOf } from "./transport.ts";
 * resourceOf({ url: "https://k/apis/kopf.dev/v1/namespaces/ns/kopfexamples/x/status" }); // "kopfexamples.kopf.dev/status"
 * ```
 */
export function resourceOf(exchange: Pick<Exchange, "url">): string {
  const parts = new URL(exchange.url).pathname.split("/").filter(Boolean);
  const core = parts[0] === "api";
  const group = core ? "" : parts[1] ?? "";
  let rest = parts.slice(core ? 2 : 3);
  if (rest[0] === "namespaces" && rest.length > 2) rest = rest.slice(2);
  const [plural, , subresource] = rest;
  if (plural === undefined) return "";
  const name = group ? `${plural}.${group}` : plural;
  return subresource ? `${name}/${subresource}` : name;
}

/**
 * The verb of an exchange as the API server's audit log names it, with the patch type:
 * `get`, `list`, `watch`, `create`, `update`, `delete`, `patch merge`, `patch json /status`,
 * `discovery` (for /api and /apis without a resource). For counting requests.
 */
export function verbOf(exchange: Pick<Exchange, "method" | "url" | "contentType">): string {
  const url = new URL(exchange.url);
  switch (exchange.method) {
    case "GET": {
      if (url.searchParams.get("watch")) return "watch";
      const parts = url.pathname.split("/").filter(Boolean);
      const rest = parts[0] === "api" ? parts.slice(2) : parts.slice(3);
      if (rest.length === 0) return "discovery";
      // …/plural or …/namespaces/ns/plural: an odd number of segments names a collection.
      return rest.length % 2 === 1 ? "list" : "get";
    }
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "DELETE":
      return "delete";
    case "PATCH": {
      const type = exchange.contentType?.includes("json-patch") ? "json" : "merge";
      return `patch ${type}${url.pathname.endsWith("/status") ? " /status" : ""}`;
    }
    default:
      return exchange.method.toLowerCase();
  }
}

/** A transport: typed JSON requests and raw streams to one API server. */
export class Transport implements Disposable {
  readonly connection: connections.Connection;
  readonly settings: networking.NetworkingSettings;
  readonly clock: clocks.Clock;
  readonly #random: () => number;
  readonly #userAgent: string;
  readonly #onResponse: ((exchange: Exchange) => void) | undefined;
  #clients = new Map<string, Deno.HttpClient>();
  #lane = 0;

  constructor(connection: connections.Connection, options: TransportOptions = {}) {
    if (connection.insecureSkipTlsVerify && !options.insecureSkipTlsVerifyProcessWide) {
      throw new errors.ConfigError(
        `Cannot honour insecure-skip-tls-verify of ${connection.source}: Deno can skip TLS verification only process-wide; ` +
          `start Deno with --unsafely-ignore-certificate-errors=${
            hostOf(connection.server)
          } and set KOPF_INSECURE_SKIP_TLS_VERIFY=1, ` +
          `or give the cluster a certificate-authority`,
        { field: "insecure-skip-tls-verify" },
      );
    }
    if (connection.tlsServerName) {
      throw new errors.ConfigError(
        `Cannot honour tls-server-name "${connection.tlsServerName}" of ${connection.source}: Deno's fetch cannot override the TLS server name; ` +
          `use a server URL whose host name the certificate names`,
        { field: "tls-server-name" },
      );
    }
    this.connection = connection;
    this.settings = { ...networkingDefaults.defaultNetworking(), ...options.settings };
    this.clock = options.clock ?? clocks.realClock;
    this.#random = options.random ?? Math.random;
    this.#userAgent = options.userAgent ?? "kopf-deno";
    this.#onResponse = options.onResponse;
  }

  /** Sends a request and returns the parsed JSON body (or `undefined` for an empty body). */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { response, done } = await this.#send(method, path, options);
    let text: string;
    try {
      text = await this.#readText(response, method, path, options.signal, done);
    } finally {
      done.dispose();
    }
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (cause) {
      throw new errors.TransportError(
        `${method} ${this.#url(path)} returned a body that is not JSON: ${text.slice(0, 200)}`,
        method,
        this.#url(path),
        cause,
      );
    }
  }

  /**
   * Opens a streaming response (a watch) and returns its body. No overall timeout applies;
   * the caller aborts through `signal`. Connection errors are not retried here: the watcher
   * owns its reconnect schedule. A 401 still gets one credential refresh.
   */
  async stream(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const { response, done } = await this.#send(method, path, {
      retries: 0,
      timeoutSeconds: Infinity,
      ...options,
    });
    done.dispose(); // no timeout to clear; the caller's signal goes straight to fetch
    if (!response.body) {
      throw new errors.TransportError(
        `${method} ${this.#url(path)} returned no body`,
        method,
        this.#url(path),
      );
    }
    return abortable(response, response.body.getReader(), options.signal);
  }

  /** Closes the underlying HTTP clients; open streams end. */
  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #url(path: string, query?: Query): string {
    let url = this.connection.server + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined) params.set(key, String(value));
      }
      const qs = params.toString();
      if (qs) url += `?${qs}`;
    }
    return url;
  }

  /** Sends with retries; `done` must be disposed once the body is read (it holds the timeout). */
  async #send(
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<{ response: Response; done: signals.LinkedSignal }> {
    const url = this.#url(path, options.query);
    const retries = options.retries ?? this.settings.retries;
    const delays = new backoff.Backoff({
      initialMs: this.settings.retryInitialDelaySeconds * 1000,
      maxMs: this.settings.retryMaxDelaySeconds * 1000,
      clock: this.clock,
      random: this.#random,
    });
    let refreshed = false;
    for (let attempt = 0;; attempt++) {
      let error: errors.KubernetesError;
      const credentials = await this.connection.authenticator.credentials(options.signal);
      try {
        const sent = await this.#fetch(method, url, credentials, options);
        if (sent.response.ok) return sent;
        try {
          error = await this.#errorOf(sent.response, method, url, options.signal);
        } finally {
          sent.done.dispose();
        }
      } catch (e) {
        if (!(e instanceof errors.TransportError)) throw e;
        error = e;
      }
      if (error instanceof errors.ApiUnauthorizedError && !refreshed) {
        refreshed = true;
        if (await this.connection.authenticator.refresh(credentials, options.signal)) {
          attempt--; // the refresh is not a retry
          continue;
        }
      }
      if (!errors.isRetriable(error) || attempt >= retries) throw error;
      const retryAfterMs = error instanceof errors.ApiError && error.retryAfterSeconds !== undefined
        ? Math.min(error.retryAfterSeconds * 1000, this.settings.retryMaxDelaySeconds * 1000)
        : undefined;
      await this.clock.sleep(retryAfterMs ?? delays.next(), options.signal);
    }
  }

  async #fetch(
    method: string,
    url: string,
    credentials: connections.Credentials,
    options: RequestOptions,
  ): Promise<{ response: Response; done: signals.LinkedSignal }> {
    const headers: Record<string, string> = {
      "Accept": options.accept ?? "application/json",
      // No compression: kube-apiserver gzips even watch streams when asked, and Deno's
      // decoding of an endless gzip stream ends it early and ignores aborts. Loopback and
      // in-cluster links gain nothing from it either (client-go disables it too).
      "Accept-Encoding": "identity",
      "User-Agent": this.#userAgent,
    };
    if (credentials.authorization) headers["Authorization"] = credentials.authorization;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["Content-Type"] = options.contentType ?? "application/json";
    }
    const timeoutSeconds = options.timeoutSeconds ?? this.settings.requestTimeoutSeconds;
    const streaming = !Number.isFinite(timeoutSeconds);
    // The timeout covers the body too: it is cleared when the caller disposes `done`.
    const done = signals.linkedSignal(streaming ? [] : [options.signal], timeoutSeconds * 1000);
    const signal = streaming ? options.signal : done.signal;
    const sentAt = performance.now();
    const report = (status: number) =>
      this.#onResponse?.({
        method,
        url,
        status,
        contentType: headers["Content-Type"],
        seconds: (performance.now() - sentAt) / 1000,
      });
    try {
      const response = await fetch(url, {
        method,
        headers,
        body: body ?? null,
        client: this.#client(credentials.clientCertificate, streaming),
        ...(signal ? { signal } : {}),
      });
      report(response.status);
      return { response, done };
    } catch (cause) {
      done.dispose();
      report(0);
      if (options.signal?.aborted) throw options.signal.reason;
      if (done.timedOut) {
        throw new errors.TransportError(
          `${method} ${url} timed out after ${timeoutSeconds} s`,
          method,
          url,
          cause,
        );
      }
      throw new errors.TransportError(
        describeFetchFailure(method, url, cause, this.connection),
        method,
        url,
        cause,
      );
    }
  }

  async #readText(
    response: Response,
    method: string,
    path: string,
    signal?: AbortSignal,
    done?: signals.LinkedSignal,
  ): Promise<string> {
    try {
      return await response.text();
    } catch (cause) {
      if (signal?.aborted) throw signal.reason;
      const url = this.#url(path);
      if (done?.timedOut) {
        throw new errors.TransportError(
          `${method} ${url} timed out while reading the response`,
          method,
          url,
          cause,
        );
      }
      throw new errors.TransportError(
        `${method} ${url} lost the connection while reading the response`,
        method,
        url,
        cause,
      );
    }
  }

  async #errorOf(
    response: Response,
    method: string,
    url: string,
    signal?: AbortSignal,
  ): Promise<errors.ApiError> {
    let text = "";
    try {
      text = await response.text();
    } catch {
      if (signal?.aborted) throw signal.reason;
    }
    let status: errors.Status;
    try {
      const parsed = JSON.parse(text) as unknown;
      status = isStatus(parsed) ? parsed : { message: text.slice(0, 500) };
    } catch {
      // Proxies and load balancers answer with text or HTML: keep the start of it.
      status = { message: text.trim().slice(0, 500) || response.statusText };
    }
    const header = response.headers.get("Retry-After");
    const retryAfter = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : undefined;
    return errors.apiError(status, {
      code: response.status,
      method,
      url,
      ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
    });
  }

  #client(
    certificate: connections.ClientCertificate | undefined,
    streaming: boolean,
  ): Deno.HttpClient {
    // Exec plugins may rotate the client certificate: one HTTP client per certificate. Streams
    // get connections of their own: multiplexed with a burst of patches on one HTTP/2
    // connection, a watch was read too slowly and kube-apiserver closed it as unresponsive.
    // Requests take turns over a few connections: on one, a burst queued behind the server's
    // per-connection stream limit and fell 10 s behind a client creating 5,000 objects.
    const pool = Math.max(1, this.settings.connections);
    const lane = streaming ? "stream" : `request${this.#lane++ % pool}`;
    const key = `${lane}:${certificate ? certificate.cert : ""}`;
    let client = this.#clients.get(key);
    if (!client) {
      const options: Deno.CreateHttpClientOptions & Partial<Deno.TlsCertifiedKeyPem> = {
        caCerts: [...this.connection.caCerts],
      };
      if (certificate) {
        options.cert = certificate.cert;
        options.key = certificate.key;
      }
      if (this.connection.proxyUrl) options.proxy = { url: this.connection.proxyUrl };
      try {
        client = Deno.createHttpClient(options);
      } catch (cause) {
        throw new errors.ConfigError(
          `Cannot use the TLS material of ${this.connection.source}: ${messageOf(cause)}`,
          { cause },
        );
      }
      this.#clients.set(key, client);
    }
    return client;
  }
}

/**
 * Wraps a response body so that aborting `signal` ends a pending read. Deno stops a body read
 * on abort only while its Response is alive: once the Response is garbage-collected, an
 * aborted watch would hang until the server ends it. The closure keeps the Response, and the
 * abort cancels the reader explicitly.
 */
function abortable(
  response: Response,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  signal: AbortSignal | undefined,
): ReadableStream<Uint8Array> {
  let unsubscribe: (() => void) | undefined;
  const detach = () => {
    unsubscribe?.();
    unsubscribe = undefined;
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const onAbort = () => {
        controller.error(signal?.reason);
        reader.cancel(signal?.reason).catch(() => {});
        detach();
      };
      if (signal?.aborted) onAbort();
      else if (signal) unsubscribe = signals.onAbort(signal, onAbort);
    },
    async pull(controller) {
      void response; // keeps the Response reachable as long as its body is read
      try {
        const { done, value } = await reader.read();
        if (done) {
          detach();
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (error) {
        detach();
        if (!signal?.aborted) controller.error(error);
      }
    },
    cancel(reason) {
      detach();
      return reader.cancel(reason);
    },
  });
}

function isStatus(value: unknown): value is errors.Status {
  return typeof value === "object" && value !== null &&
    (value as { kind?: unknown }).kind === "Status";
}

function hostOf(server: string): string {
  try {
    return new URL(server).hostname;
  } catch {
    return server;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Turns fetch's TypeError into one line that says what failed and what to check. */
function describeFetchFailure(
  method: string,
  url: string,
  cause: unknown,
  connection: connections.Connection,
): string {
  // Deno nests the reason: "error sending request for url (…): client error (Connect): <reason>".
  let text = messageOf(cause);
  if (cause instanceof Error && cause.cause) text = messageOf(cause.cause);
  text = text.split("\n")[0] ?? "";
  const reason = text.slice(text.lastIndexOf("): ") + 1).replace(/^: /, "").trim() || text;
  if (/certificate|tls|handshake|x509|issuer/i.test(reason)) {
    return `${method} ${url} failed: TLS verification failed: ${reason}; check the certificate-authority of ${connection.source}`;
  }
  if (/refused/i.test(reason)) {
    return `${method} ${url} failed: ${reason}; is the API server of ${connection.source} running?`;
  }
  return `${method} ${url} failed: ${reason}`;
}
