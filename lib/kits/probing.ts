// The liveness endpoint (`kopf run --liveness http://0.0.0.0:8080/healthz`): a tiny HTTP server
// that answers 200 while every watcher is alive and every probe handler (`on.probe`) succeeds,
// and 503 naming what is not; the probes' results are in the report, as Kopf serves them.
// Started by the CLI next to `run()`; the core never calls it. Unlike Kopf's, it checks the
// watch streams.

import { getLogger } from "@logtape/logtape";
import * as clocks from "../async/clock.ts";
import type * as watching from "../k8s/watching.ts";
import * as activities from "../handling/activities.ts";
import type * as contexts from "../registry/contexts.ts";
import type * as registries from "../registry/registries.ts";
import * as networking from "../settings/networking.ts";
import * as operatorSettings from "../settings/operator.ts";
import type * as indexes from "../structs/indexes.ts";
import * as coordinating from "../reactor/coordinating.ts";

const log = getLogger(["kopf", "probing"]);

/**
 * How much longer than the watch's own inactivity timeout a watcher may stay silent before the
 * probe calls it stale: the time to notice the silence, reconnect, and get the next bookmark.
 */
const STALE_MARGIN_SECONDS = 30;

/** How long probe results are reused before the probes run again (Kopf's 10 s). */
const PROBE_CACHE_SECONDS = 10;

/** What the endpoint answers, as JSON. */
export interface HealthReport {
  /** `ok` (200); `unhealthy` or `starting` (no watcher yet) (503). */
  status: "ok" | "unhealthy" | "starting";
  /** When the report was made (ISO 8601). */
  checkedAt: string;
  /** A watcher silent for longer than this is stale. */
  staleAfterSeconds: number;
  /** Every watcher by `resource[@namespace]`. */
  watchers: Record<string, WatcherReport>;
  /** The keys of the watchers that are not healthy. */
  unhealthy: string[];
  /** The results of the probe handlers that succeeded, by id (Kopf's whole report). */
  probes: Record<string, unknown>;
  /** Why the other probe handlers failed, by id; any makes the status `unhealthy`. */
  probeErrors: Record<string, string>;
  /** Peering: the mode, `active` or `paused`, what pauses it, each peering object or Lease. */
  peering?: Record<string, unknown>;
}

/** What the probe handlers gave, as the report shows it. */
export interface ProbeResults {
  /** By handler id: what each returned (as JSON). */
  probes: Record<string, unknown>;
  /** By handler id: why it failed, as one line. */
  probeErrors: Record<string, string>;
}

/** Where the probe handlers come from and what they get. */
export interface ProbeSource {
  /** The registry whose `on.probe` handlers run. */
  registry: registries.OperatorRegistry;
  /** The operator memo, as `run({ memo })` got it. @default {{}} */
  memo?: contexts.Memo;
  /** The operator's settings. @default {defaultSettings()} */
  settings?: operatorSettings.OperatorSettings;
  /** The operator's indexes (`operator({ indexes })`), given to probes as context fields. */
  indexes?: indexes.Indexes;
}

/** One watcher in the report: its `WatchHealth` with times in ISO 8601, and the verdict. */
export interface WatcherReport {
  healthy: boolean;
  /** Why it is not healthy: `backoff after: …`, `stopped`, `no activity for 120 s`. */
  problem?: string;
  phase: watching.WatchPhase;
  lastActivityAt: string;
  idleSeconds: number;
  syncedAt: string | null;
  relists: number;
  reconnects: number;
  errors: number;
  lastError: string | null;
}

/** How the health is judged. */
export interface HealthOptions {
  /** The clock the watchers stamp their activity with. @default {realClock} */
  clock?: clocks.Clock;
  /** The watch settings whose inactivity timeout (plus a margin) defines "stale". */
  watching?: Pick<networking.WatchingSettings, "inactivityTimeoutSeconds">;
  /** A silent watcher is stale after this long. @default {inactivity timeout + 30 s} */
  staleAfterSeconds?: number;
  /** The operator's peering state, shown under `peering` (a paused operator is healthy). */
  peering?: coordinating.PeeringReport;
}

/** Options of `serveLiveness()`. */
export interface LivenessOptions extends HealthOptions {
  /** Prometheus metrics served on the same server, at their own path. */
  metrics?: { path: string; render: () => string };
  /** Closes the server when aborted. */
  signal?: AbortSignal;
  /** The probe handlers to run when the endpoint is requested. */
  probes?: ProbeSource;
  /** Probe results are reused for this long, failures too. @default {10} */
  probeCacheSeconds?: number;
}

/** A running liveness server. */
export interface LivenessServer {
  /** The endpoint as served, with the actual port (useful with port 0). */
  readonly url: string;
  /** Stops serving; resolves when the port is released. */
  close(): Promise<void>;
}

/**
 * Serves Prometheus metrics (`kopf run --metrics http://0.0.0.0:9090/metrics`) on a server of
 * their own: `render` is called for each scrape. Use `serveLiveness({ metrics })` to serve
 * them next to the liveness probe on one port.
 *
 * @example Serving an operator's metrics
 * ```ts ignore
 * import { OperatorMetrics } from "../structs/metrics.ts";
 * const metrics = new OperatorMetrics();
 * const server = serveMetrics("http://127.0.0.1:9090/metrics", () => metrics.render());
 * await server.close();
 * ```
 */
export function serveMetrics(url: string, render: () => string): LivenessServer {
  const endpoint = parseEndpoint(url);
  const server = Deno.serve({
    hostname: endpoint.hostname,
    port: endpoint.port,
    onListen: () => {},
  }, (request) => {
    if (new URL(request.url).pathname !== endpoint.path) {
      return new Response("Not found\n", { status: 404 });
    }
    if (request.method !== "GET") {
      return new Response("Method not allowed\n", { status: 405, headers: { allow: "GET" } });
    }
    return metricsResponse(render);
  });
  const host = endpoint.hostname.includes(":") ? `[${endpoint.hostname}]` : endpoint.hostname;
  const served = `http://${host}:${server.addr.port}${endpoint.path}`;
  log.info(`Serving the metrics at ${served}`);
  let closing: Promise<void> | undefined;
  return {
    url: served,
    close() {
      closing ??= server.shutdown().then(() => server.finished);
      return closing;
    },
  };
}

function metricsResponse(render: () => string): Response {
  return new Response(render(), {
    headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
  });
}

/**
 * Judges the watchers: healthy unless in `backoff` or `stopped`, or silent for longer than
 * the stale time. An empty map means the operator has not started watching yet.
 *
 * @example A watcher that has been silent for too long
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { FakeClock } from "../async/clock.ts";
 * import { newHealth } from "../k8s/watching.ts";
 * import { healthReport } from "./probing.ts";
 *
 * const clock = new FakeClock();
 * const health = new Map([["kopfexamples.v1.kopf.dev@default", newHealth(clock)]]);
 * health.get("kopfexamples.v1.kopf.dev@default")!.phase = "watching";
 * equal(healthReport(health, { clock }).status, "ok");
 * clock.advance(101_000);
 * equal(healthReport(health, { clock }).status, "unhealthy");
 * ```
 */
export function healthReport(
  health: ReadonlyMap<string, watching.WatchHealth>,
  options: HealthOptions = {},
  probed: ProbeResults = { probes: {}, probeErrors: {} },
): HealthReport {
  const clock = options.clock ?? clocks.realClock;
  const now = clock.now();
  const inactivity = options.watching?.inactivityTimeoutSeconds ??
    networking.defaultWatching().inactivityTimeoutSeconds;
  const staleAfterSeconds = options.staleAfterSeconds ?? inactivity + STALE_MARGIN_SECONDS;
  const watchers: Record<string, WatcherReport> = {};
  const unhealthy: string[] = [];
  for (const [key, watcher] of [...health].sort(([a], [b]) => a.localeCompare(b))) {
    const idleSeconds = Math.max(0, (now - watcher.lastActivityAt) / 1000);
    const problem = problemOf(watcher, idleSeconds, staleAfterSeconds);
    if (problem !== undefined) unhealthy.push(key);
    watchers[key] = {
      healthy: problem === undefined,
      ...(problem === undefined ? {} : { problem }),
      phase: watcher.phase,
      lastActivityAt: new Date(watcher.lastActivityAt).toISOString(),
      idleSeconds: Math.round(idleSeconds * 10) / 10,
      syncedAt: watcher.syncedAt === undefined ? null : new Date(watcher.syncedAt).toISOString(),
      relists: watcher.relists,
      reconnects: watcher.reconnects,
      errors: watcher.errors,
      lastError: watcher.lastError ?? null,
    };
  }
  const failed = unhealthy.length > 0 || Object.keys(probed.probeErrors).length > 0;
  const status = health.size === 0 ? "starting" : failed ? "unhealthy" : "ok";
  return {
    status,
    checkedAt: new Date(now).toISOString(),
    staleAfterSeconds,
    watchers,
    unhealthy,
    probes: probed.probes,
    probeErrors: probed.probeErrors,
    ...(options.peering ? { peering: coordinating.describe(options.peering) } : {}),
  };
}

/**
 * Runs the probe handlers of a registry, one attempt each, and keeps their results for
 * `cacheSeconds`: requests in between get the same results, and concurrent requests share one
 * run. A probe that throws (or times out) is reported with its error, not retried.
 *
 * @example A probe's result
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { OperatorRegistry } from "../registry/registries.ts";
 * import * as on from "../registry/registering.ts";
 * import { ProbeCache } from "./probing.ts";
 *
 * const registry = new OperatorRegistry();
 * on.probe({ registry }, function answer() {
 *   return 42;
 * });
 * deepEqual(await new ProbeCache({ registry }).results(), { probes: { answer: 42 }, probeErrors: {} });
 * ```
 */
export class ProbeCache {
  readonly #source: ProbeSource;
  readonly #clock: clocks.Clock;
  readonly #cacheMs: number;
  readonly #signal: AbortSignal | undefined;
  readonly #settings: operatorSettings.OperatorSettings;
  #cached: { at: number; results: ProbeResults } | undefined;
  #running: Promise<ProbeResults> | undefined;

  constructor(
    source: ProbeSource,
    options: { clock?: clocks.Clock; cacheSeconds?: number; signal?: AbortSignal } = {},
  ) {
    this.#source = source;
    this.#clock = options.clock ?? clocks.realClock;
    this.#cacheMs = (options.cacheSeconds ?? PROBE_CACHE_SECONDS) * 1000;
    this.#signal = options.signal;
    this.#settings = source.settings ?? operatorSettings.defaultSettings();
  }

  /** The probes' results: cached if fresh, else from a new run (shared by concurrent callers). */
  results(): Promise<ProbeResults> {
    const cached = this.#cached;
    if (cached !== undefined && this.#clock.now() - cached.at < this.#cacheMs) {
      return Promise.resolve(cached.results);
    }
    this.#running ??= this.#collect().finally(() => this.#running = undefined);
    return this.#running;
  }

  /** Forgets the results: the next call runs the probes again. */
  invalidate(): void {
    this.#cached = undefined;
  }

  async #collect(): Promise<ProbeResults> {
    const handlers = this.#source.registry.activityHandlers("probe");
    const results: ProbeResults = { probes: {}, probeErrors: {} };
    if (handlers.length > 0) {
      const outcome = await activities.executeActivity({
        activity: "probe",
        handlers,
        memo: this.#source.memo ?? {},
        settings: this.#settings,
        indexes: this.#source.indexes,
        clock: this.#clock,
        signal: this.#signal,
        once: true,
      });
      for (const [id, result] of outcome.results) results.probes[id] = result;
      for (const [id, message] of outcome.failures) results.probeErrors[id] = message;
    }
    this.#cached = { at: this.#clock.now(), results };
    return results;
  }
}

/**
 * Serves the watchers' health at the URL's host, port and path (`http:` only, as Kopf): GET
 * answers 200 with a `HealthReport` when every watcher is healthy and every probe handler of
 * `options.probes` succeeds, else 503 with the same JSON. Probes run on request, at most every
 * `probeCacheSeconds` (always while no watcher has started: the startup may be under way). Other paths answer 404. Binding fails at once (address in use, no
 * permission) by throwing.
 *
 * @example Serving the health map that `run()` fills
 * ```ts ignore
 * import { run } from "../reactor/running.ts";
 * import { serveLiveness } from "./probing.ts";
 *
 * const health = new Map();
 * const server = serveLiveness("http://0.0.0.0:8080/healthz", health);
 * try {
 *   Deno.exitCode = await run({ namespaces: ["default"], health });
 * } finally {
 *   await server.close();
 * }
 * ```
 */
export function serveLiveness(
  url: string,
  health: ReadonlyMap<string, watching.WatchHealth>,
  options: LivenessOptions = {},
): LivenessServer {
  const endpoint = parseEndpoint(url);
  const closed = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, closed.signal]) : closed.signal;
  const probes = options.probes === undefined ? undefined : new ProbeCache(options.probes, {
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.probeCacheSeconds !== undefined ? { cacheSeconds: options.probeCacheSeconds } : {}),
    signal,
  });
  const handler = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    const metrics = options.metrics;
    if (metrics !== undefined && path === metrics.path && request.method === "GET") {
      return metricsResponse(metrics.render);
    }
    if (path !== endpoint.path) return new Response("Not found\n", { status: 404 });
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const probed = probes === undefined ? undefined : await probes.results();
    // While the operator starts, its startup handlers may still fill the memo the probes read.
    if (health.size === 0) probes?.invalidate();
    const report = healthReport(health, options, probed);
    if (report.status !== "ok") {
      const failed = Object.keys(report.probeErrors).map((id) => `probe "${id}"`);
      log.debug(
        `Liveness probe: ${report.status}: ${
          [...report.unhealthy, ...failed].join(", ") || "no watchers"
        }`,
      );
    }
    return Response.json(report, { status: report.status === "ok" ? 200 : 503 });
  };
  const server = Deno.serve({
    hostname: endpoint.hostname,
    port: endpoint.port,
    ...(options.signal ? { signal: options.signal } : {}),
    onListen: () => {},
  }, handler);
  const address = server.addr;
  const host = endpoint.hostname.includes(":") ? `[${endpoint.hostname}]` : endpoint.hostname;
  const served = `http://${host}:${address.port}${endpoint.path}`;
  log.info(`Serving the liveness probe at ${served}`);
  let closing: Promise<void> | undefined;
  return {
    url: served,
    close() {
      closing ??= (async () => {
        closed.abort();
        if (!options.signal?.aborted) await server.shutdown();
        await server.finished;
      })();
      return closing;
    },
  };
}

/**
 * The parts of a liveness URL, as Kopf reads them (localhost and port 80 unless given); throws
 * one clear line for anything but `http://host[:port][/path]`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseEndpoint } from "./probing.ts";
 *
 * deepEqual(parseEndpoint("http://0.0.0.0:8080/healthz"), {
 *   hostname: "0.0.0.0",
 *   port: 8080,
 *   path: "/healthz",
 * });
 * ```
 */
export function parseEndpoint(url: string): { hostname: string; port: number; path: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(
      `Cannot serve the liveness probe at "${url}": it is not a URL like http://0.0.0.0:8080/healthz`,
    );
  }
  if (parsed.protocol !== "http:") {
    throw new Error(
      `Cannot serve the liveness probe at "${url}": only http: is supported, not ${parsed.protocol}`,
    );
  }
  if (parsed.search || parsed.hash || parsed.username || parsed.password) {
    throw new Error(
      `Cannot serve the liveness probe at "${url}": a query, fragment or user is not supported`,
    );
  }
  return {
    hostname: parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost",
    port: parsed.port === "" ? 80 : Number(parsed.port),
    path: parsed.pathname || "/",
  };
}

function problemOf(
  watcher: watching.WatchHealth,
  idleSeconds: number,
  staleAfterSeconds: number,
): string | undefined {
  if (watcher.phase === "paused") return undefined; // a peer is active: silence is expected
  if (watcher.phase === "stopped") {
    return watcher.lastError ? `stopped after: ${watcher.lastError}` : "stopped";
  }
  if (watcher.phase === "backoff") {
    return `backing off after: ${watcher.lastError ?? "an error"}`;
  }
  if (idleSeconds > staleAfterSeconds) {
    return `no activity for ${Math.round(idleSeconds)} s (stale after ${staleAfterSeconds} s)`;
  }
  return undefined;
}
