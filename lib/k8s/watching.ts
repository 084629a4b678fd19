// The watcher: keeps one resource's objects flowing as typed events, surviving whatever the
// API server and the network do. It is an explicit state machine:
//
//   listing ──► watching ──(stream ends)──► watching (resumed from the last resourceVersion)
//      ▲            │
//      └─(410)──────┘   streaming (WatchList: sendInitialEvents) ──► watching, or ──► listing on failure
//
// Recovery:
// - a clean end of the stream (server timeout): re-watch from the last resourceVersion at once;
// - 410 Gone / an ERROR event with reason Expired: relist; objects that vanished meanwhile are
//   reported as synthetic DELETED events, and unchanged objects are not reported again;
// - connection errors, silence beyond the inactivity timeout, 5xx: back off (800 ms → 30 s,
//   reset by any received event) and re-watch from the last resourceVersion, no relist;
// - 429: wait as `Retry-After` says, then re-watch;
// - any other API error (401 after a refresh, 403, 404 when a CRD is gone): reported as an ERROR
//   event, then retried with backoff (404 with a relist): the watch never ends silently;
// - a pause (peering, leader election): the connection closes at once and nothing is requested
//   until the pause ends; then a relist, which reports only what changed or vanished meanwhile.
// Guarantees: resourceVersions are compared only for equality; RVs of the synthetic ADDED events
// of a streaming list are not used as resume points; the generator ends only when its consumer
// stops or the signal aborts. Caveat: the watcher keeps name, uid and RV of every object (not the
// bodies) to compute what vanished across a relist.

import * as backoff from "../async/backoff.ts";
import type * as toggles from "../async/toggles.ts";
import * as signals from "../async/signals.ts";
import * as clocks from "../async/clock.ts";
import * as references from "../structs/references.ts";
import type * as settingsModule from "../settings/networking.ts";
import * as networking from "../settings/networking.ts";
import * as api from "./api.ts";
import * as errors from "./errors.ts";
import * as linesModule from "./lines.ts";
import type * as transports from "./transport.ts";

/** The annotation on the bookmark that ends the initial events of a streaming list. */
export const INITIAL_EVENTS_END = "k8s.io/initial-events-end";

/** What the watcher yields. */
export type WatchEvent<T> =
  /** A real change seen on the watch stream; `synthetic` marks deletions inferred on a relist. */
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T; synthetic?: boolean }
  /** An object of an initial listing or of a relist (only new or changed ones on a relist). */
  | { type: "LISTED"; object: T }
  /** The listing is complete: the consumer now knows the full state as of `resourceVersion`. */
  | { type: "SYNCED"; resourceVersion: string }
  /** A failure; the watcher retries by itself after `retryInMs`. */
  | { type: "ERROR"; error: errors.KubernetesError; retryInMs: number };

/** The phases of the state machine, as the health endpoint reports them. */
export type WatchPhase = "listing" | "streaming" | "watching" | "backoff" | "paused" | "stopped";

/** Live state of one watcher, mutated in place; read by liveness probes and metrics. */
export interface WatchHealth {
  phase: WatchPhase;
  /** When the last byte or event arrived (clock milliseconds). */
  lastActivityAt: number;
  /** When the current listing was completed, if ever. */
  syncedAt: number | undefined;
  relists: number;
  reconnects: number;
  errors: number;
  lastError: string | undefined;
}

/** What to watch and how. */
export interface WatchOptions {
  /** Omit to watch all namespaces (or a cluster-scoped resource). */
  namespace?: string | undefined;
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  signal?: AbortSignal | undefined;
  settings?: Partial<settingsModule.WatchingSettings> | undefined;
  /** Updated in place as the watcher runs. */
  health?: WatchHealth | undefined;
  random?: (() => number) | undefined;
  /** While on, the watcher closes its connection and waits; a relist follows the resume. */
  pause?: Pick<toggles.ToggleSet, "on" | "listen" | "waitFor"> | undefined;
}

/** A fresh health record. */
export function newHealth(clock: clocks.Clock = clocks.realClock): WatchHealth {
  return {
    phase: "listing",
    lastActivityAt: clock.now(),
    syncedAt: undefined,
    relists: 0,
    reconnects: 0,
    errors: 0,
    lastError: undefined,
  };
}

interface RawEvent {
  type?: string;
  object?: api.KubernetesObject & errors.Status;
}

class InactivityError extends errors.TransportError {
  override name = "InactivityError";
}

/** Thrown inside the machine when a streaming list must give way to list + watch. */
class FallbackToList extends Error {}

/** Ends a watch connection when the watcher is paused. */
class Paused extends Error {}

/**
 * Watches a resource: lists (or stream-lists) the current state, then follows changes forever.
 *
 * @example Following ConfigMaps in one namespace
 * ```ts ignore
 * for await (const event of watching.watch(transport, configmaps, { namespace: "default" })) {
 *   if (event.type === "SYNCED") console.log("initial state complete");
 * }
 * ```
 */
export async function* watch<T extends api.KubernetesObject = api.KubernetesObject>(
  transport: transports.Transport,
  resource: references.Resource,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent<T>, void, undefined> {
  for await (const batch of watchBatches<T>(transport, resource, options)) yield* batch;
}

/**
 * Watches a resource like `watch()`, yielding the events in batches: one batch per network
 * chunk or listing. The reactor uses this form, as it costs one await per batch, not per event.
 */
export async function* watchBatches<T extends api.KubernetesObject = api.KubernetesObject>(
  transport: transports.Transport,
  resource: references.Resource,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent<T>[], void, undefined> {
  const settings = { ...networking.defaultWatching(), ...options.settings };
  const clock = transport.clock;
  const random = options.random ?? Math.random;
  const health = options.health ?? newHealth(clock);
  const delays = new backoff.Backoff({
    initialMs: settings.reconnectInitialDelaySeconds * 1000,
    maxMs: settings.reconnectMaxDelaySeconds * 1000,
    clock,
    random,
  });
  const path = references.path(resource, { namespace: options.namespace });
  const selectors = { labelSelector: options.labelSelector, fieldSelector: options.fieldSelector };
  // What the consumer has been told exists, to find what vanished across a relist. Keyed by
  // uid: names never change for a uid, so a change costs one lookup and a field write.
  const known = new Map<string, Known>();
  const remember = (uid: string, object: api.KubernetesObject) => {
    const rv = object.metadata?.resourceVersion ?? "";
    const entry = known.get(uid);
    if (entry) entry.resourceVersion = rv;
    else known.set(uid, { key: keyOf(object), resourceVersion: rv });
  };
  let resourceVersion: string | undefined; // undefined = must (re)list
  let streamList = settings.watchList;
  let listed = false;
  // A pause closes the open connection at once and makes the next round a relist.
  let connection: AbortController | undefined;
  let pausedMeanwhile = false;
  const unlisten = options.pause?.listen((on) => {
    if (!on) return;
    pausedMeanwhile = true;
    connection?.abort(new Paused());
  });

  const serverTimeout = () =>
    Math.round(
      settings.serverTimeoutMinSeconds +
        random() * (settings.serverTimeoutMaxSeconds - settings.serverTimeoutMinSeconds),
    );

  /**
   * Turns a complete listing into events: synthetic DELETED for what vanished (first, so a
   * consumer keyed by name sees a re-created object after its predecessor's deletion), then
   * LISTED for what is new or changed (everything on the first listing), then SYNCED.
   */
  function finishListing(items: T[], rv: string): WatchEvent<T>[] {
    const batch: WatchEvent<T>[] = [];
    const seen = new Set<string>();
    for (const object of items) seen.add(uidOf(object));
    for (const [uid, before] of known) {
      if (!seen.has(uid)) {
        batch.push({
          type: "DELETED",
          object: stub<T>(resource, uid, before),
          synthetic: true,
        });
        known.delete(uid);
      }
    }
    for (const object of items) {
      const uid = uidOf(object);
      const before = known.get(uid)?.resourceVersion;
      remember(uid, object);
      if (!listed || before === undefined || before !== object.metadata?.resourceVersion) {
        batch.push({ type: "LISTED", object });
      }
    }
    listed = true;
    resourceVersion = rv;
    health.syncedAt = clock.now();
    batch.push({ type: "SYNCED", resourceVersion: rv });
    return batch;
  }

  /** Follows one watch connection until it ends; throws on errors. */
  async function* follow(
    mode: "watch" | "stream",
  ): AsyncGenerator<WatchEvent<T>[], void, undefined> {
    const ownConnection = new AbortController();
    connection = ownConnection;
    const linked = signals.linkedSignal([options.signal, ownConnection.signal]);
    const signal = linked.signal;
    const inactivityMs = settings.inactivityTimeoutSeconds * 1000;
    const startedAt = clock.now();
    let lastActivity = clock.now();
    let received = 0;
    const initial: T[] = [];
    const deadline = mode === "stream"
      ? startedAt + settings.watchListTimeoutSeconds * 1000
      : Infinity;
    const stopTimer = new AbortController();
    // One sleeping watchdog instead of a timer per chunk: it wakes at the earliest moment the
    // stream could be considered silent (or the streaming list overdue) and checks again.
    const watchdog = (async () => {
      while (!stopTimer.signal.aborted) {
        const due = Math.min(lastActivity + inactivityMs, deadline);
        const wait = due - clock.now();
        if (wait <= 0) {
          ownConnection.abort(
            clock.now() >= deadline ? new FallbackToList() : new InactivityError(
              `No data from the watch of ${
                references.fullName(resource)
              } for ${settings.inactivityTimeoutSeconds} s`,
              "GET",
              transport.connection.server + path,
            ),
          );
          return;
        }
        await clock.sleep(wait, stopTimer.signal).catch(() => {});
      }
    })();
    try {
      const query: transports.Query = {
        watch: 1,
        allowWatchBookmarks: true,
        timeoutSeconds: serverTimeout(),
        ...selectors,
      };
      if (mode === "stream") {
        query.sendInitialEvents = true;
        query.resourceVersionMatch = "NotOlderThan";
      } else {
        query.resourceVersion = resourceVersion;
      }
      let body: ReadableStream<Uint8Array>;
      try {
        body = await transport.stream("GET", path, { query, signal });
      } catch (error) {
        if (mode === "stream" && error instanceof errors.ApiError && !errors.isRetriable(error)) {
          throw new FallbackToList();
        }
        throw error;
      }
      health.phase = mode === "stream" ? "streaming" : "watching";
      const chunks = touch(body, () => {
        lastActivity = clock.now();
        health.lastActivityAt = lastActivity;
      });
      for await (const batch of linesModule.lineBatches(chunks)) {
        // Time the consumer spends on events is not silence of the server.
        lastActivity = clock.now();
        const events: WatchEvent<T>[] = [];
        for (const line of batch) {
          const event = JSON.parse(line) as RawEvent;
          const object = event.object;
          if (event.type === "ERROR") {
            throw errors.apiError(object ?? {}, {
              code: object?.code ?? 500,
              method: "GET",
              url: transport.connection.server + path,
            });
          }
          if (!object) continue;
          received++;
          delays.reset(); // the stream works: the next failure starts the backoff afresh
          const rv = object.metadata?.resourceVersion;
          if (event.type === "BOOKMARK") {
            if (mode === "stream" && health.phase === "streaming") {
              if (object.metadata?.annotations?.[INITIAL_EVENTS_END] !== "true") continue;
              health.phase = "watching";
              events.push(...finishListing(initial.splice(0), rv ?? ""));
            } else if (rv) {
              resourceVersion = rv;
            }
            continue;
          }
          if (mode === "stream" && health.phase === "streaming") {
            // Initial events arrive out of RV order: buffer them, never resume from their RVs.
            if (event.type === "ADDED") initial.push(object as T);
            continue;
          }
          if (rv) resourceVersion = rv;
          const uid = uidOf(object);
          if (event.type === "DELETED") {
            known.delete(uid);
          } else {
            remember(uid, object);
          }
          if (event.type === "ADDED" || event.type === "MODIFIED" || event.type === "DELETED") {
            events.push({ type: event.type, object: object as T });
          }
        }
        if (events.length > 0) {
          yield events;
          lastActivity = clock.now();
        }
      }
      if (mode === "stream" && health.phase === "streaming") throw new FallbackToList();
      // A watch that ends at once with nothing in it is a failure in disguise (client-go's
      // "very short watch"): let the backoff slow the loop down.
      if (received === 0 && clock.now() - startedAt < 1000) {
        throw new errors.TransportError(
          `The watch of ${references.fullName(resource)} ended at once without events`,
          "GET",
          transport.connection.server + path,
        );
      }
    } catch (error) {
      const reason = ownConnection.signal.reason;
      if (ownConnection.signal.aborted && !options.signal?.aborted) throw reason;
      if (error instanceof SyntaxError) {
        throw new errors.TransportError(
          `The watch of ${
            references.fullName(resource)
          } sent a line that is not JSON: ${error.message}`,
          "GET",
          transport.connection.server + path,
          error,
        );
      }
      if (error instanceof TypeError || (error instanceof Error && error.name === "Http")) {
        throw new errors.TransportError(
          `The watch of ${references.fullName(resource)} lost its connection: ${error.message}`,
          "GET",
          transport.connection.server + path,
          error,
        );
      }
      throw error;
    } finally {
      stopTimer.abort();
      ownConnection.abort();
      if (connection === ownConnection) connection = undefined;
      linked.dispose();
      await watchdog;
    }
  }

  try {
    while (!options.signal?.aborted) {
      try {
        if (pausedMeanwhile || options.pause?.on) {
          pausedMeanwhile = false;
          if (options.pause?.on) {
            health.phase = "paused";
            await options.pause.waitFor(false, options.signal);
          }
          resourceVersion = undefined; // what changed meanwhile comes with a relist
          continue;
        }
        if (resourceVersion === undefined && streamList) {
          health.phase = "streaming";
          yield* follow("stream");
        } else if (resourceVersion === undefined) {
          health.phase = "listing";
          const listing = await api.listObjects<T>(transport, resource, {
            namespace: options.namespace,
            signal: options.signal,
            ...selectors,
          });
          yield finishListing(listing.items, listing.resourceVersion);
          continue;
        } else {
          yield* follow("watch");
        }
        health.reconnects++;
      } catch (error) {
        if (options.signal?.aborted) break;
        if (error instanceof Paused) continue;
        if (error instanceof FallbackToList) {
          streamList = false; // the server cannot stream lists: list + watch from now on
          continue;
        }
        if (errors.isExpired(error)) {
          resourceVersion = undefined;
          health.relists++;
          continue;
        }
        if (!(error instanceof errors.KubernetesError)) throw error; // a bug, not a cluster problem
        const failure = error;
        const retryInMs =
          failure instanceof errors.ApiError && failure.retryAfterSeconds !== undefined
            ? failure.retryAfterSeconds * 1000
            : delays.next();
        if (failure instanceof errors.ApiNotFoundError) resourceVersion = undefined;
        health.errors++;
        health.lastError = failure.message;
        health.phase = "backoff";
        yield [{ type: "ERROR", error: failure, retryInMs }];
        try {
          await clock.sleep(retryInMs, options.signal);
        } catch {
          break;
        }
        health.reconnects++;
      }
    }
  } finally {
    unlisten?.();
    health.phase = "stopped";
  }
}

/** Passes chunks through, calling `onChunk` for each: the watchdog's heartbeat. */
async function* touch(
  body: ReadableStream<Uint8Array>,
  onChunk: () => void,
): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const chunk of body) {
    onChunk();
    yield chunk;
  }
}

function keyOf(object: api.KubernetesObject): string {
  const meta = object.metadata ?? {};
  return meta.namespace ? `${meta.namespace}/${meta.name ?? ""}` : meta.name ?? "";
}

/** What the watcher remembers of an object: its "namespace/name" and last resourceVersion. */
interface Known {
  readonly key: string;
  resourceVersion: string;
}

/** The uid, or for the rare object without one, its namespace/name. */
function uidOf(object: api.KubernetesObject): string {
  return object.metadata?.uid ?? keyOf(object);
}

/** The last known identity of a vanished object, shaped like an object of the resource. */
function stub<T>(resource: references.Resource, uid: string, known: Known): T {
  const { key, resourceVersion } = known;
  const slash = key.indexOf("/");
  const metadata: api.ObjectMeta = slash >= 0
    ? { namespace: key.slice(0, slash), name: key.slice(slash + 1) }
    : { name: key };
  metadata.uid = uid;
  if (resourceVersion) metadata.resourceVersion = resourceVersion;
  return { apiVersion: references.apiVersion(resource), kind: resource.kind, metadata } as T;
}
