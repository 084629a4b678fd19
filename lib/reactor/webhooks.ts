// The webhook server of `on.validate`, `on.mutate` and `on.convert`: HTTPS on `Deno.serve` (or
// plain HTTP behind a TLS proxy) with self-signed or file certificates (re-read and served anew
// when they change), routing `/<id>` to admission reviews and `/convert/<crd>` to conversions,
// and the managed webhook configurations and CRD conversions in the cluster. Started by
// `operator()` (running.ts) when webhook handlers are registered; it never runs handlers of
// objects' causes, and it never logs a key or a request body.

import { getLogger } from "@logtape/logtape";
import * as clocks from "../async/clock.ts";
import type * as transports from "../k8s/transport.ts";
import * as admissionEngine from "../engines/admission.ts";
import * as certificates from "../engines/certificates.ts";
import * as configurations from "../engines/configurations.ts";
import * as conversion from "../engines/conversion.ts";
import * as logging from "../engines/logging.ts";
import type * as admission from "../registry/admission.ts";
import type * as contexts from "../registry/contexts.ts";
import type * as registries from "../registry/registries.ts";
import * as selectors from "../registry/selectors.ts";
import type * as admissionSettings from "../settings/admission.ts";
import type * as indexes from "../structs/indexes.ts";
import type * as references from "../structs/references.ts";

const log = getLogger(["kopf", "webhooks"]);

/** What the webhook server needs. */
export interface WebhooksOptions {
  /** Whose webhook handlers are served (`registry.admission`). */
  readonly registry: registries.OperatorRegistry;
  readonly settings: admissionSettings.AdmissionSettings;
  /** For the managed configurations and CRD conversions; without it, none are managed. */
  readonly transport?: transports.Transport | undefined;
  /** The served resources (every version): the handlers' selectors are resolved against them. */
  readonly resources: readonly references.Resource[];
  /** The operator memo; each request's handlers get a shallow copy. */
  readonly memo?: contexts.Memo | undefined;
  /** The operator's indexes, as context fields of admission handlers. */
  readonly indexes?: indexes.Indexes | undefined;
  /** Times the certificate file checks. @default {realClock} */
  readonly clock?: clocks.Clock | undefined;
  /** Aborted when handlers must stop (given to them as `signal`). */
  readonly signal?: AbortSignal | undefined;
}

/** A running webhook server. */
export interface Webhooks {
  /** Where it listens, with the actual port: `https://127.0.0.1:9443`. */
  readonly url: string;
  /** How the API server reaches it (without handler ids), as configurations carry it. */
  readonly clientConfig: configurations.ClientConfig;
  /** The CA bundle (PEM) the API server must trust; undefined in the plain HTTP mode. */
  readonly ca: string | undefined;
  /** The served resources changed: the managed configurations follow. */
  reconcile(resources: readonly references.Resource[]): void;
  /** Removes the non-persistent managed webhooks, then stops serving. */
  stop(): Promise<void>;
}

/**
 * Starts serving the registry's webhook handlers, then creates or updates the managed
 * configurations and points the CRDs of conversion handlers at the server. Undefined when the
 * registry has no webhook handlers. Fails with one line when it cannot listen, read its
 * certificate files, or configure the cluster.
 *
 * @example A server for a test, without managed configurations
 * ```ts
 * import { OperatorRegistry } from "../registry/registries.ts";
 * import * as on from "../registry/admission.ts";
 * import { defaultAdmission } from "../settings/admission.ts";
 * import { startWebhooks } from "./webhooks.ts";
 *
 * const registry = new OperatorRegistry();
 * on.validate("kopfexamples", { registry }, function check() {});
 * const settings = { ...defaultAdmission(), address: "127.0.0.1", port: 0 };
 * const webhooks = await startWebhooks({ registry, settings, resources: [] });
 * console.log(webhooks?.url); // https://127.0.0.1:<port>
 * await webhooks?.stop();
 * ```
 */
export async function startWebhooks(options: WebhooksOptions): Promise<Webhooks | undefined> {
  const store = options.registry.admission;
  if (!store.any) return undefined;
  const settings = options.settings;
  const clock = options.clock ?? clocks.realClock;
  if (settings.managed !== undefined && settings.managed.split(".").length < 3) {
    throw new Error(
      `Cannot manage the webhook configuration "${settings.managed}": its name must be a domain ` +
        `of three or more parts, such as "my-operator.example.com"`,
    );
  }
  const files = certificateFiles(settings);
  let tls = settings.insecure
    ? undefined
    : files !== undefined
    ? await certificates.readCertificateFiles(files)
    : await certificates.selfSigned(hostnames(settings));
  let resources = options.resources;
  const handle = handler(options, () => resources);
  let server = listen(settings, settings.port, tls, handle);
  const port = server.addr.port;
  const url = servedUrl(settings, port);
  log.info(
    `Serving webhooks at ${url} (${
      tls === undefined
        ? "plain HTTP"
        : tls.source === "files"
        ? "certificate files"
        : "self-signed"
    })`,
  );
  let clientConfig = await makeClientConfig(settings, port, tls);
  await dumpCa(settings, tls);

  const transport = options.transport;
  const applied = new Map<string, string>();
  /** Applies what changed since the last time; `strict` rethrows failures (at start). */
  const configure = async (strict: boolean) => {
    if (transport === undefined) return;
    try {
      await configureCluster(transport, store, settings, clientConfig, resources, applied);
    } catch (error) {
      if (strict) throw error;
      log.error(`Cannot configure the webhooks in the cluster: ${messageOf(error)}`);
    }
  };
  try {
    await configure(true);
  } catch (error) {
    await server.shutdown();
    throw error;
  }

  // Certificate files are re-read every so often; a change serves them anew (a short restart).
  const stopping = new AbortController();
  let failedDigest: string | undefined;
  const watcher = files === undefined ? Promise.resolve() : (async () => {
    while (!stopping.signal.aborted) {
      try {
        await clock.sleep(settings.fileCheckIntervalSeconds * 1000, stopping.signal);
      } catch {
        return;
      }
      let digest: string;
      try {
        digest = await certificates.filesDigest(files);
      } catch (error) {
        const message = messageOf(error);
        if (failedDigest !== message) log.error(`${message}; serving the previous certificate`);
        failedDigest = message;
        continue;
      }
      if (digest === tls?.digest || digest === failedDigest) continue;
      try {
        const renewed = await certificates.readCertificateFiles(files);
        await server.shutdown();
        try {
          server = listen(settings, port, renewed, handle);
        } catch (error) {
          // The old certificate is all there is: serve it again rather than nothing.
          server = listen(settings, port, tls, handle);
          throw error;
        }
        const caChanged = renewed.ca !== tls?.ca;
        tls = renewed;
        failedDigest = undefined;
        log.info(`Serving webhooks with the renewed certificate files`);
        await dumpCa(settings, tls);
        if (caChanged) {
          clientConfig = await makeClientConfig(settings, port, tls);
          await configure(false);
        }
      } catch (error) {
        failedDigest = digest;
        log.error(`Cannot use the renewed certificate files: ${messageOf(error)}`);
      }
    }
  })();

  let stopped: Promise<void> | undefined;
  let pending = Promise.resolve();
  return {
    url,
    get clientConfig() {
      return clientConfig;
    },
    get ca() {
      return tls?.ca;
    },
    reconcile(current) {
      resources = current;
      // One configuration at a time, in order: the last one applied is the latest state.
      pending = pending.then(() => configure(false));
    },
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        await watcher;
        await pending;
        if (transport !== undefined && settings.managed !== undefined) {
          await releaseCluster(transport, store, settings, clientConfig, resources);
        }
        await server.shutdown();
        log.info("Stopped serving webhooks");
      })();
      return stopped;
    },
  };
}

/** The request handler: routing, body limits, parsing, and one clear line per bad request. */
function handler(
  options: WebhooksOptions,
  resources: () => readonly references.Resource[],
): (request: Request) => Promise<Response> {
  const store = options.registry.admission;
  const prefix = options.settings.path.replace(/\/+$/, "");
  const maxBytes = options.settings.maxBodyBytes;
  const loggerOf = (resource: references.Resource, body: Record<string, unknown>) =>
    logging.admissionLogger(resource, body);
  return async (request) => {
    const path = new URL(request.url).pathname;
    const refuse = (status: number, message: string): Response => {
      log.warning(`Webhook request ${request.method} ${path} answered ${status}: ${message}`);
      return Response.json({ message }, { status });
    };
    try {
      if (path !== prefix && !path.startsWith(`${prefix}/`)) {
        return refuse(404, `Nothing is served at "${path}"`);
      }
      let route: string;
      try {
        route = decodeURIComponent(path.slice(prefix.length).replace(/^\/+/, ""));
      } catch {
        return refuse(400, `The path "${path}" is not properly encoded`);
      }
      if (request.method !== "POST") {
        await request.body?.cancel();
        return refuse(405, `Only POST is served, not ${request.method}`);
      }
      const text = await readLimited(request, maxBytes);
      if (text === undefined) {
        return refuse(413, `The body is larger than ${maxBytes} bytes`);
      }
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (error) {
        return refuse(400, `The body is not JSON: ${messageOf(error)}`);
      }
      const isAdmission = route === "" || store.webhooks().some((h) => h.id === route);
      if (!isAdmission && route.startsWith("convert/")) {
        const reviewed = await conversion.convertReview(conversion.parseConversionReview(data), {
          handlers: store.conversions(),
          crd: route.slice("convert/".length),
          resources: resources(),
          memo: options.memo ?? {},
          loggerOf,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        return Response.json(reviewed);
      }
      const reviewed = await admissionEngine.review(admissionEngine.parseReview(data), {
        handlers: store.webhooks(),
        webhook: route === "" ? undefined : route,
        resources: resources(),
        headers: Object.fromEntries(request.headers),
        memo: options.memo ?? {},
        indexes: options.indexes,
        loggerOf,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return Response.json(reviewed);
    } catch (error) {
      if (
        error instanceof admissionEngine.WebhookError ||
        error instanceof conversion.ConversionRequestError
      ) {
        return refuse(error.status, error.message);
      }
      log.error(`Webhook request ${request.method} ${path} failed: ${messageOf(error)}`, { error });
      return Response.json({ message: "The webhook failed unexpectedly" }, { status: 500 });
    }
  };
}

/** The body as text, or undefined when it is larger than `maxBytes` (not read further). */
async function readLimited(request: Request, maxBytes: number): Promise<string | undefined> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await request.body?.cancel();
    return undefined;
  }
  if (request.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    if (size > maxBytes) return undefined; // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

function listen(
  settings: admissionSettings.AdmissionSettings,
  port: number,
  tls: certificates.TlsMaterial | undefined,
  handle: (request: Request) => Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({
      hostname: settings.address,
      port,
      ...(tls === undefined ? {} : { cert: tls.cert, key: tls.key }),
      onListen: () => {},
      onError: (error) => {
        log.error(`The webhook server failed: ${messageOf(error)}`);
        return new Response("Internal error", { status: 500 });
      },
    }, handle);
  } catch (error) {
    const reason = error instanceof Deno.errors.AddrInUse
      ? "the address is in use"
      : messageOf(error).split("\n")[0];
    throw new Error(`Cannot serve webhooks at ${settings.address}:${port}: ${reason}`);
  }
}

function certificateFiles(
  settings: admissionSettings.AdmissionSettings,
): certificates.CertificateFiles | undefined {
  if (settings.insecure) return undefined;
  if ((settings.certFile === undefined) !== (settings.keyFile === undefined)) {
    throw new Error(
      "Cannot serve webhooks: give both a certificate file and its key file, or neither " +
        "(for a self-signed certificate)",
    );
  }
  if (settings.certFile === undefined || settings.keyFile === undefined) return undefined;
  return { certFile: settings.certFile, keyFile: settings.keyFile, caFile: settings.caFile };
}

/** The names of the self-signed certificate: the advertised host, the address, and the extras. */
function hostnames(settings: admissionSettings.AdmissionSettings): string[] {
  const accessible = accessibleAddress(settings.address);
  const names = [settings.host ?? accessible, accessible];
  if (settings.url !== undefined) {
    names.push(new URL(settings.url).hostname.replace(/^\[|\]$/g, ""));
  }
  if (settings.service !== undefined) {
    const { name, namespace } = settings.service;
    names.push(`${name}.${namespace}.svc`, `${name}.${namespace}.svc.cluster.local`);
  }
  return [...names, ...settings.extraSans];
}

/** A catch-all listening address is not reachable as such: its loopback is (Kopf's rule). */
function accessibleAddress(address: string): string {
  if (address === "0.0.0.0" || address === "") return "127.0.0.1";
  if (address === "::") return "::1";
  return address;
}

function servedUrl(settings: admissionSettings.AdmissionSettings, port: number): string {
  const scheme = settings.insecure ? "http" : "https";
  const host = settings.host ?? accessibleAddress(settings.address);
  const shown = host.includes(":") ? `[${host}]` : host;
  return `${scheme}://${shown}:${port}${settings.path.replace(/\/+$/, "")}`;
}

async function makeClientConfig(
  settings: admissionSettings.AdmissionSettings,
  port: number,
  tls: certificates.TlsMaterial | undefined,
): Promise<configurations.ClientConfig> {
  const config: configurations.ClientConfig = {};
  if (settings.service !== undefined) {
    const service = settings.service;
    config.service = {
      namespace: service.namespace,
      name: service.name,
      ...(service.port === undefined ? {} : { port: service.port }),
      path: service.path ?? settings.path,
    };
  } else {
    config.url = settings.url ?? servedUrl(settings, port);
  }
  // In the plain HTTP mode, a CA file is the TLS proxy's CA.
  const ca = tls?.ca ??
    (settings.caFile === undefined ? undefined : await Deno.readTextFile(settings.caFile));
  if (ca !== undefined) config.caBundle = btoa(ca);
  return config;
}

async function dumpCa(
  settings: admissionSettings.AdmissionSettings,
  tls: certificates.TlsMaterial | undefined,
): Promise<void> {
  if (settings.caDumpFile === undefined || tls === undefined) return;
  await Deno.writeTextFile(settings.caDumpFile, tls.ca);
}

/** The CRDs (`plural.group`) that the conversion handlers serve, and the handlers serving none. */
function conversionCrds(
  handlers: readonly admission.ConversionHandler[],
  resources: readonly references.Resource[],
): { crds: string[]; unserved: admission.ConversionHandler[] } {
  const crds = new Set<string>();
  const unserved: admission.ConversionHandler[] = [];
  for (const handler of handlers) {
    const selector = selectors.parse(handler.selector);
    const found = resources.filter((r) =>
      r.group !== "" && selectors.check(selector, { ...r, version: selector.version ?? r.version })
    );
    if (found.length === 0) unserved.push(handler);
    for (const r of found) crds.add(`${r.plural}.${r.group}`);
  }
  return { crds: [...crds], unserved };
}

async function configureCluster(
  transport: transports.Transport,
  store: admission.AdmissionRegistry,
  settings: admissionSettings.AdmissionSettings,
  clientConfig: configurations.ClientConfig,
  resources: readonly references.Resource[],
  applied: Map<string, string>,
): Promise<void> {
  const changed = (key: string, value: unknown): boolean => {
    const text = JSON.stringify(value);
    if (applied.get(key) === text) return false;
    applied.set(key, text);
    return true;
  };
  const name = settings.managed;
  if (name !== undefined) {
    for (const kind of ["validating", "mutating"] as const) {
      const handlers = store.webhooks(kind);
      if (handlers.length === 0) continue;
      const webhooks = configurations.buildWebhooks(handlers, {
        resources,
        name,
        clientConfig,
        timeoutSeconds: settings.timeoutSeconds,
      });
      if (!changed(kind, webhooks)) continue;
      try {
        await configurations.applyConfiguration(transport, kind, name, webhooks);
      } catch (error) {
        applied.delete(kind);
        throw error;
      }
    }
  }
  if (settings.manageConversion && store.conversions().length > 0) {
    const { crds, unserved } = conversionCrds(store.conversions(), resources);
    for (const handler of unserved) {
      if (changed(`unserved:${handler.id}`, true)) {
        log.warning(`The conversion handler '${handler.id}' serves no CRD of the cluster (yet)`);
      }
    }
    for (const crd of crds) {
      if (!changed(`crd:${crd}`, clientConfig)) continue;
      try {
        await configurations.applyCrdConversion(transport, crd, clientConfig);
      } catch (error) {
        applied.delete(`crd:${crd}`);
        throw error;
      }
    }
  }
}

async function releaseCluster(
  transport: transports.Transport,
  store: admission.AdmissionRegistry,
  settings: admissionSettings.AdmissionSettings,
  clientConfig: configurations.ClientConfig,
  resources: readonly references.Resource[],
): Promise<void> {
  const name = settings.managed;
  if (name === undefined) return;
  for (const kind of ["validating", "mutating"] as const) {
    const handlers = store.webhooks(kind);
    if (handlers.length === 0) continue;
    const persistent = configurations.buildWebhooks(handlers, {
      resources,
      name,
      clientConfig,
      timeoutSeconds: settings.timeoutSeconds,
      persistentOnly: true,
    });
    try {
      await configurations.releaseConfiguration(transport, kind, name, persistent);
    } catch (error) {
      log.error(`Cannot remove the ${kind} webhooks "${name}": ${messageOf(error)}`);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
