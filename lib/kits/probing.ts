// The liveness endpoint (`kopf run --liveness http://0.0.0.0:8080/healthz`): a tiny HTTP server
// that answers 200 while every watcher is alive and 503 naming the ones that are not. Started by
// the CLI next to `run()`; the core never calls it. Unlike Kopf's, it checks the watch streams.

import { getLogger } from "@logtape/logtape";
import * as clocks from "../async/clock.ts";
import type * as watching from "../k8s/watching.ts";
import * as networking from "../settings/networking.ts";

const log = getLogger(["kopf", "probing"]);

/**
 * How much longer than the watch's own inactivity timeout a watcher may stay silent before the
 * probe calls it stale: the time to notice the silence, reconnect, and get the next bookmark.
 */
const STALE_MARGIN_SECONDS = 30;

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
}

/** Options of `serveLiveness()`. */
export interface LivenessOptions extends HealthOptions {
  /** Closes the server when aborted. */
  signal?: AbortSignal;
}

/** A running liveness server. */
export interface LivenessServer {
  /** The endpoint as served, with the actual port (useful with port 0). */
  readonly url: string;
  /** Stops serving; resolves when the port is released. */
  close(): Promise<void>;
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
  const status = health.size === 0 ? "starting" : unhealthy.length > 0 ? "unhealthy" : "ok";
  return {
    status,
    checkedAt: new Date(now).toISOString(),
    staleAfterSeconds,
    watchers,
    unhealthy,
  };
}

/**
 * Serves the watchers' health at the URL's host, port and path (`http:` only, as Kopf): GET
 * answers 200 with a `HealthReport` when every watcher is healthy, else 503 with the same JSON.
 * Other paths answer 404. Binding fails at once (address in use, no permission) by throwing.
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
  const handler = (request: Request): Response => {
    const path = new URL(request.url).pathname;
    if (path !== endpoint.path) return new Response("Not found\n", { status: 404 });
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const report = healthReport(health, options);
    if (report.status !== "ok") {
      log.debug(
        `Liveness probe: ${report.status}: ${report.unhealthy.join(", ") || "no watchers"}`,
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
