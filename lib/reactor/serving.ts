// Serves one resource in one namespace (or cluster-wide): a watcher feeding per-object workers,
// each event processed (handlers run, a plan made) and its plan sent, with the consistency
// wait after our own writes and retries on timers. Runs until its signal aborts, then lets
// running processing finish. One object's troubles never stop the watch.

import type { Logger } from "@logtape/logtape";
import { getLogger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import * as scheduling from "../async/scheduling.ts";
import type * as toggles from "../async/toggles.ts";
import type * as api from "../k8s/api.ts";
import * as errors from "../k8s/errors.ts";
import type * as transports from "../k8s/transport.ts";
import * as watching from "../k8s/watching.ts";
import * as planning from "../processing/planning.ts";
import * as processing from "../processing/processing.ts";
import type * as contextTypes from "../registry/contexts.ts";
import type * as handlers from "../registry/handlers.ts";
import type * as registries from "../registry/registries.ts";
import type * as operator from "../settings/operator.ts";
import * as references from "../structs/references.ts";
import type * as indexing from "../engines/indexing.ts";
import * as daemons from "../engines/daemons.ts";
import * as logging from "../engines/logging.ts";
import * as applying from "./applying.ts";
import * as indexStages from "./indexing.ts";
import * as metricsModule from "../structs/metrics.ts";
import * as tracing from "../structs/tracing.ts";
import * as queueing from "./queueing.ts";

/** What the worker remembers of an object between events. */
export interface Memory extends processing.ObjectMemory {
  /** After our write: the resourceVersion to see on the watch before trusting its states. */
  expected: Expectation | undefined;
  /**
   * resourceVersions that arrived while the object was being processed: the echo of our write
   * may come on the watch before the write's own response does.
   */
  arrived: Set<string> | undefined;
}

/** What the watch must bring back after our writes before its states can be trusted. */
export interface Expectation {
  /** The resourceVersion of our last write. */
  readonly resourceVersion: string;
  /** Until when to wait for it; then later states are trusted anyway (someone else wrote). */
  readonly until: number;
  /** It arrived on the watch. */
  seen: boolean;
  /**
   * Our earlier writes not yet seen: the states between them are ours and stale for sure, so
   * they are skipped even after the timeout (a lagging watch would otherwise run a handler
   * again on the state before its success was written).
   */
  readonly superseded: ReadonlySet<string>;
}

/** Everything one watcher needs. */
export interface ServeOptions {
  readonly transport: transports.Transport;
  readonly resource: references.Resource;
  /** Undefined: all namespaces, or a cluster-scoped resource. */
  readonly namespace: string | undefined;
  readonly registry: registries.OperatorRegistry;
  readonly settings: operator.OperatorSettings;
  readonly clock: clocks.Clock;
  /** Stops the watch (and, after running work is done, this function returns). */
  readonly signal: AbortSignal;
  /** Cancels running handlers (aborted only after the grace period of a stop). */
  readonly handlerSignal: AbortSignal;
  /** Updated in place; the liveness endpoint reads it. */
  readonly health: watching.WatchHealth;
  /** Builds the per-object logger (`[namespace/name]`). */
  readonly objectLogger?:
    | ((resource: references.Resource, body: api.KubernetesObject) => Logger)
    | undefined;
  /** Called after each event is processed and its plan sent (for tests and metrics). */
  readonly onProcessed?: ((report: ProcessedReport) => void) | undefined;
  /** The operator memo: each object's memo starts as a shallow copy of it. */
  readonly memo?: contextTypes.Memo | undefined;
  /**
   * While on (a peer outranks this operator, or it is not the leader), the watch is closed and
   * no processing starts; after the pause, the relist's states go first.
   */
  readonly paused?: toggles.ToggleSet | undefined;
  /**
   * The operator's indexes. With them, the resource's index functions run first for each event,
   * handlers get the indexes, and no handler runs while the indexes are incomplete. Without
   * them, index functions do not run.
   */
  readonly indexes?: indexing.OperatorIndexes | undefined;
  /**
   * Where timers wait (one heap and one clock sleep for the whole operator).
   * @default {a scheduler of this watcher's own}
   */
  readonly scheduler?: scheduling.Scheduler | undefined;
}

/** What one processed event led to. */
export interface ProcessedReport {
  readonly resource: references.Resource;
  readonly event: queueing.ObjectEvent<api.KubernetesObject>;
  readonly result: processing.ProcessingResult;
}

const log = getLogger(["kopf", "reactor"]);

/** Watches and processes until the signal aborts. */
export async function serve(options: ServeOptions): Promise<void> {
  const { transport, resource, registry, settings, clock } = options;
  const where = options.namespace ? ` in namespace "${options.namespace}"` : "";
  const what = `${references.fullName(resource)}${where}`;
  const loggerOf = options.objectLogger ?? logging.objectLogger;
  const keyOf = (object: api.KubernetesObject) =>
    object.metadata?.uid ?? `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;

  // Index functions first, in a stage of their own: the gate below never holds it.
  const stage = options.indexes && registry.indexingHandlers(resource).length > 0
    ? new indexStages.IndexStage({
      indexes: options.indexes,
      resource,
      what,
      registry,
      settings,
      clock,
      keyOf,
      memo: options.memo,
      handlerSignal: options.handlerSignal,
      forward: registry.hasHandlers(resource) ? (event) => queue.push(event) : undefined,
    })
    : undefined;

  // Daemons and timers: one engine per watcher, fed by processing, patching on its own.
  const spawning = registry.spawningHandlers(resource).length > 0;
  const ownScheduler = spawning && options.scheduler === undefined
    ? new scheduling.Scheduler({ clock, coalescingMs: settings.background.coalescingMs })
    : undefined;
  const engine = !spawning ? undefined : new daemons.Daemons({
    resource,
    registry,
    settings,
    clock,
    scheduler: options.scheduler ?? ownScheduler!,
    paused: options.paused,
    signal: options.handlerSignal,
    indexes: options.indexes?.indexes,
    patch: async (body, patch, logger) => {
      const object = body as api.KubernetesObject;
      const requests = planning.plan(patch, object as Record<string, unknown>, resource);
      await applying.apply(transport, resource, object, requests, logger, options.handlerSignal);
    },
    // A stopped daemon of an object being deleted: process it again to release the finalizer.
    wake: (body) =>
      queue.push({ type: "MODIFIED", object: body as api.KubernetesObject, replay: true }),
  });

  const queue = new queueing.ObjectQueue<api.KubernetesObject, Memory>({
    workerLimit: settings.queueing.workerLimit,
    clock,
    errorDelaysSeconds: settings.queueing.errorDelaysSeconds,
    keyOf,
    newMemory: (event) => ({
      ...processing.newMemory(event.type === undefined, options.memo),
      ...(stage ? { memo: stage.memoOf(event.object) } : {}),
      expected: undefined,
      arrived: undefined,
    }),
    onArrival: (slot, event) => {
      const rv = event.object.metadata?.resourceVersion;
      if (rv === undefined) return;
      slot.memory.arrived?.add(rv);
      const expected = slot.memory.expected;
      if (expected && rv === expected.resourceVersion) expected.seen = true;
    },
    process: async (slot, event) => {
      const processed = await processOne(
        options,
        slot.memory,
        event,
        loggerOf(resource, event.object),
        engine,
      );
      if (processed.gone) stage?.forget(slot.key);
      return processed;
    },
    onError: (slot, error, delay) => {
      const logger = slot.last ? loggerOf(resource, slot.last.object) : log;
      logger.error(
        `Processing failed unexpectedly; it is retried in ${delay} s: ${explain(error)}`,
        { error },
      );
    },
  });

  // Held from a pause until the relist after it is queued: a retry due during the pause must not
  // run on a state the active peer may have changed meanwhile.
  const paused = options.paused;
  let relisting = paused?.on ?? false;
  if (paused?.on) queue.hold();
  const unlisten = paused?.listen((on) => {
    if (!on) return;
    relisting = true;
    queue.hold();
  });
  // Held while the operator's indexes are incomplete: no handler runs on a partial index.
  const runnable = () => !paused?.on && !relisting && !options.indexes?.incomplete.on;
  const unlistenIndexes = options.indexes && indexStages.holdWhileIncomplete(
    queue,
    options.indexes.incomplete,
    () => runnable() && !options.signal.aborted,
  );
  const accept = (event: queueing.ObjectEvent<api.KubernetesObject>) =>
    stage ? stage.push(event) : queue.push(event);

  const removeMetrics = queueMetrics(resource, options.namespace, () => queue.stats());

  const selector = serverSideLabelSelector(registry, resource);
  log.info(`Watching ${what}${selector ? ` with the label selector "${selector}"` : ""}`);
  try {
    for await (
      const batch of watching.watchBatches<api.KubernetesObject>(transport, resource, {
        namespace: options.namespace,
        labelSelector: selector,
        signal: options.signal,
        settings: settings.watching,
        health: options.health,
        pause: paused,
      })
    ) {
      for (const event of batch) {
        switch (event.type) {
          case "LISTED":
            accept({ type: undefined, object: event.object });
            break;
          case "ADDED":
          case "MODIFIED":
          case "DELETED":
            accept({ type: event.type, object: event.object });
            break;
          case "SYNCED":
            log.debug(`The listing of ${what} is complete (${stage?.size ?? queue.size} objects)`);
            if (!paused?.on) relisting = false;
            stage?.synced();
            if (runnable()) queue.release();
            // After a pause, the relist reports only what changed: the engine respawns the rest.
            if (runnable()) engine?.resume((key) => queue.pending(key));
            break;
          case "ERROR":
            reportWatchError(what, event.error, event.retryInMs);
            break;
        }
      }
    }
  } finally {
    removeMetrics();
    unlisten?.();
    unlistenIndexes?.();
    await stage?.close();
    await Promise.all([queue.close(), engine?.close()]);
    ownScheduler?.close();
    log.debug(`Stopped watching ${what}`);
  }
}

/** The queue's gauges in the operator's metrics, if it has any; returns their removal. */
function queueMetrics(
  resource: references.Resource,
  namespace: string | undefined,
  stats: () => ReturnType<queueing.ObjectQueue<unknown, unknown>["stats"]>,
): () => void {
  const metrics = metricsModule.currentMetrics.getStore();
  if (metrics === undefined) return () => {};
  const labels = { resource: references.fullName(resource), namespace: namespace ?? "" };
  const removals = [
    metrics.collect("kopf_objects", "Objects known per watched resource", "gauge", () => [
      { labels, value: stats().known },
    ]),
    metrics.collect(
      "kopf_queue_waiting",
      "Objects whose events wait to be processed",
      "gauge",
      () => [
        { labels, value: stats().waiting },
      ],
    ),
    metrics.collect(
      "kopf_queue_oldest_waiting_seconds",
      "How long the oldest waiting event has waited",
      "gauge",
      () => [{ labels, value: stats().oldestWaitingSeconds }],
    ),
  ];
  return () => removals.forEach((remove) => remove());
}

/** One event of one object: process it, send the plan, note what to expect on the watch. */
async function processOne(
  options: ServeOptions,
  memory: Memory,
  event: queueing.ObjectEvent<api.KubernetesObject>,
  logger: Logger,
  engine?: daemons.Daemons,
): Promise<queueing.Processed> {
  memory.arrived = new Set();
  const meta = event.object.metadata;
  const attributes = {
    "k8s.resource": references.fullName(options.resource),
    "k8s.namespace.name": meta?.namespace ?? "",
    "k8s.object.name": meta?.name ?? "",
    "k8s.object.uid": meta?.uid ?? "",
    "kopf.event": event.replay ? "retry" : event.type ?? "LISTED",
  };
  try {
    // One span per object cycle: its handlers' spans and its requests' fetch spans nest under it.
    return await tracing.inSpan("kopf.object", attributes, async (span) => {
      const processed = await processAndApply(options, memory, event, logger, engine);
      if (processed.delay !== undefined) span.setAttribute("kopf.delay", processed.delay);
      return processed;
    });
  } finally {
    memory.arrived = undefined;
  }
}

async function processAndApply(
  options: ServeOptions,
  memory: Memory,
  event: queueing.ObjectEvent<api.KubernetesObject>,
  logger: Logger,
  engine?: daemons.Daemons,
): Promise<queueing.Processed> {
  const { clock, settings } = options;
  const expected = memory.expected;
  const rv = event.object.metadata?.resourceVersion;
  const ours = expected !== undefined && !expected.seen && rv !== undefined &&
    expected.superseded.has(rv);
  const consistent = event.type === "DELETED" || !expected || expected.seen ||
    (!ours && clock.now() >= expected.until);
  if (consistent) memory.expected = undefined;
  const result = await processing.processEvent({
    resource: options.resource,
    registry: options.registry,
    settings,
    clock,
    logger,
    memory,
    event: { type: event.type, object: event.object as never },
    consistent,
    signal: options.handlerSignal,
    replay: event.replay,
    daemons: engine,
    indexes: options.indexes?.indexes,
  });
  const report = () => options.onProcessed?.({ resource: options.resource, event, result });
  if (event.type === "DELETED") {
    report();
    return { gone: true };
  }
  if (result.postponed && expected) {
    logger.debug("Waiting for our last write to come back before running handlers");
    report();
    // A state between our own writes: the newer one is surely on its way; no timer needed.
    if (ours) return {};
    return { delay: Math.max(0, (expected.until - clock.now()) / 1000) };
  }
  const applied = await applying.apply(
    options.transport,
    options.resource,
    event.object,
    result.requests,
    logger,
    options.handlerSignal,
  );
  report();
  const before = event.object.metadata?.resourceVersion;
  if (applied.resourceVersion !== undefined && applied.resourceVersion !== before) {
    const unseen = memory.expected && !memory.expected.seen
      ? [...memory.expected.superseded, memory.expected.resourceVersion]
      : [];
    const seen = memory.arrived?.has(applied.resourceVersion) ?? false;
    memory.expected = {
      resourceVersion: applied.resourceVersion,
      until: clock.now() + settings.persistence.consistencyTimeoutSeconds * 1000,
      seen,
      superseded: new Set(seen ? [] : [...unseen, ...applied.intermediate]),
    };
    // Our write comes back as an event: a retry due now would only race it.
    if (result.delay === 0) return {};
  }
  return { delay: result.delay };
}

function reportWatchError(what: string, error: errors.KubernetesError, retryInMs: number): void {
  const retry = `retrying in ${(retryInMs / 1000).toFixed(1)} s`;
  if (error instanceof errors.ApiForbiddenError) {
    log.error(
      `Cannot watch ${what}: forbidden by RBAC; grant list and watch on it (${retry}): ${error.message}`,
    );
  } else if (error instanceof errors.ApiNotFoundError) {
    log.warning(
      `Cannot watch ${what}: the resource is not served (was its CRD deleted?); ${retry}`,
    );
  } else {
    log.warning(`The watch of ${what} failed; ${retry}: ${error.message}`);
  }
}

/** Adds a hint to errors users can act on. */
function explain(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof errors.ApiInvalidError && /annotations.*Too long/i.test(message)) {
    return `${message} — the object's state does not fit into annotations (256 KiB): leave big fields out ` +
      "of the diff-base with AnnotationsDiffBaseStorage({ ignoredFields }) or keep it in status with StatusDiffBaseStorage";
  }
  return message;
}

/**
 * A label selector to send to the server, when every handler of the resource demands the same
 * exact labels — and no handler needs a finalizer: an object that stops matching would vanish
 * from a filtered watch without its finalizer being released.
 */
export function serverSideLabelSelector(
  registry: registries.OperatorRegistry,
  resource: references.Resource,
): string | undefined {
  const all: handlers.AnyResourceHandler[] = [
    ...registry.changingHandlers(resource),
    ...registry.watchingHandlers(resource),
    ...registry.indexingHandlers(resource),
  ];
  if (all.length === 0) return undefined;
  if (all.some((h) => h.kind === "changing" && h.requiresFinalizer)) return undefined;
  if (registry.spawningHandlers(resource).length > 0) return undefined; // they need the finalizer
  let common: Map<string, string> | undefined;
  for (const handler of all) {
    const exact = new Map<string, string>();
    for (const [key, value] of Object.entries(handler.labels ?? {})) {
      if (typeof value === "string") exact.set(key, value);
    }
    common = common === undefined
      ? exact
      : new Map([...common].filter(([k, v]) => exact.get(k) === v));
    if (common.size === 0) return undefined;
  }
  return [...(common ?? [])].map(([k, v]) => `${k}=${v}`).join(",") || undefined;
}
