// Keeps the operator running: runs the startup handlers, connects (with the login handlers if
// any), finds what to serve (resources × namespaces, following CRDs and namespaces as they come
// and go), runs one watcher per pair, and stops gracefully: watches end first, running handlers
// get a grace period, then they are cancelled, then the cleanup handlers run.
// Business of single objects lives in serving.ts and below.

import type { LogRecord, Sink } from "@logtape/logtape";
import { getLogger } from "@logtape/logtape";
import * as clocks from "../async/clock.ts";
import * as scheduling from "../async/scheduling.ts";
import * as signals from "../async/signals.ts";
import type * as connections from "../k8s/connections.ts";
import * as discovery from "../k8s/discovery.ts";
import * as metricsModule from "../structs/metrics.ts";
import * as k8sErrors from "../k8s/errors.ts";
import * as kubeconfig from "../k8s/kubeconfig.ts";
import * as transports from "../k8s/transport.ts";
import * as watching from "../k8s/watching.ts";
import * as activities from "../handling/activities.ts";
import * as logins from "../handling/logins.ts";
import type * as contextTypes from "../registry/contexts.ts";
import * as registries from "../registry/registries.ts";
import * as operatorSettings from "../settings/operator.ts";
import * as namespaces from "../structs/namespaces.ts";
import * as references from "../structs/references.ts";
import * as indexing from "../engines/indexing.ts";
import * as logging from "../engines/logging.ts";
import * as peering from "../engines/peering.ts";
import * as posting from "../engines/posting.ts";
import * as coordinating from "./coordinating.ts";
import * as observation from "./observation.ts";
import * as serving from "./serving.ts";
import * as webhooks from "./webhooks.ts";

const log = getLogger(["kopf", "reactor"]);

/** The health of every watcher, keyed by `resource[@namespace]`; read by liveness probes. */
export type OperatorHealth = Map<string, watching.WatchHealth>;

/** How to run an operator. */
export interface OperatorOptions {
  /** @default {defaultRegistry()} */
  registry?: registries.OperatorRegistry;
  /** @default {defaultSettings()} */
  settings?: operatorSettings.OperatorSettings;
  /** Namespace patterns (globs, `!` negation); omit with `clusterwide`. */
  namespaces?: readonly string[];
  /** Serve all namespaces with cluster-wide watches. */
  clusterwide?: boolean;
  /** Stops the operator when aborted. */
  signal?: AbortSignal;
  /**
   * Where and how to connect; by default from KUBECONFIG, in-cluster, or ~/.kube/config. Not
   * used when login handlers (`on.login`) are registered: they give the connection.
   */
  connection?: connections.Connection;
  /** The kubeconfig context to use instead of the current one. */
  context?: string;
  clock?: clocks.Clock;
  /** Filled with the watchers' health as they start and stop. */
  health?: OperatorHealth;
  /** Called after every request to the API server (metrics, request counting in tests). */
  onResponse?: (exchange: transports.Exchange) => void;
  /** Called after each event is processed (tests wait on it instead of sleeping). */
  onProcessed?: (report: serving.ProcessedReport) => void;
  /**
   * The operator memo: what activity handlers get as `memo`, and what every object's memo
   * starts as a shallow copy of. @default {a fresh `{}`}
   */
  memo?: contextTypes.Memo;
  /**
   * The indexes of the registry's index functions (`on.index`): give them to share them with
   * something outside the operator, such as a liveness endpoint's probes.
   * @default {new, empty indexes of the registry's index functions}
   */
  indexes?: indexing.OperatorIndexes;
  /**
   * This instance's identity among its peers (peering entries, Lease holder).
   * @default {`$POD_ID`, else `user@host/<UTC time>/<3 random characters>`, as Kopf}
   */
  identity?: string;
  /** Filled with the peering state (active, paused and why); read by the liveness endpoint. */
  peering?: coordinating.PeeringReport;
  /**
   * Prometheus metrics to keep: handler attempts, API requests, queues, watchers, peering
   * (`kopf run --metrics URL` serves them). @default {none: nothing is counted}
   */
  metrics?: metricsModule.OperatorMetrics;
}

/** A stop that is not an error: the signal's reason when the operator is asked to stop. */
export class OperatorStopped extends Error {
  override name = "OperatorStopped";
}

interface Running {
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

/**
 * Runs an operator until `signal` aborts: for embedding in programs and tests.
 *
 * First the startup handlers run (all must succeed: a failure for good rejects with an
 * `ActivityError` before anything is served), then the operator connects (through the login
 * handlers, if any) and serves; once stopped, after its handlers have stopped, the cleanup
 * handlers run (their failures are logged, not thrown).
 *
 * @example Running the default registry's handlers for a minute
 * ```ts ignore
 * import { operator } from "./running.ts";
 * await operator({ clusterwide: true, signal: AbortSignal.timeout(60_000) });
 * ```
 */
export function operator(options: OperatorOptions = {}): Promise<void> {
  // The operator's work (handlers, requests, watchers) finds its metrics in this context.
  return options.metrics
    ? metricsModule.currentMetrics.run(options.metrics, () => runOperator(options))
    : runOperator(options);
}

async function runOperator(options: OperatorOptions): Promise<void> {
  const registry = options.registry ?? registries.defaultRegistry();
  const settings = options.settings ?? operatorSettings.defaultSettings();
  const clock = options.clock ?? clocks.realClock;
  const outer = options.signal ?? new AbortController().signal;
  if (options.clusterwide && options.namespaces?.length) {
    throw new Error(
      "Cannot serve both all namespaces and specific ones: choose either clusterwide or namespaces",
    );
  }
  let clusterwide = options.clusterwide ?? false;
  if (!clusterwide && !options.namespaces?.length) {
    log.warning(
      "No namespaces are given: serving the whole cluster (use -A to say so, or -n to narrow it)",
    );
    clusterwide = true;
  }
  const patterns = clusterwide ? [] : namespaces.parsePatterns(options.namespaces ?? []);
  const memo = options.memo ?? {};
  const indexes = options.indexes ?? new indexing.OperatorIndexes(registry.allIndexingHandlers());
  const shared: Shared = {
    memo,
    indexes,
    settings,
    clock,
    clusterwide,
    patterns,
    connected: false,
  };
  if (!await startup(registry, shared, outer)) return;
  try {
    await serveAll(options, registry, shared, outer);
  } finally {
    await cleanup(registry, shared);
    if (shared.connected) log.info("The operator has stopped");
  }
}

/** What the phases of one operator run share. */
interface Shared {
  readonly memo: contextTypes.Memo;
  /** Empty until the watchers fill them; every activity gets them too. */
  readonly indexes: indexing.OperatorIndexes;
  readonly settings: operatorSettings.OperatorSettings;
  readonly clock: clocks.Clock;
  readonly clusterwide: boolean;
  readonly patterns: readonly namespaces.NamespacePattern[];
  /** Set once connected: from then on, the stop is logged. */
  connected: boolean;
}

/** Runs the startup handlers; false when the operator was stopped before they finished. */
async function startup(
  registry: registries.OperatorRegistry,
  shared: Shared,
  signal: AbortSignal,
): Promise<boolean> {
  const handlers = registry.activityHandlers("startup");
  if (handlers.length === 0) return true;
  const { memo, settings, clock } = shared;
  try {
    await activities.runActivity({
      activity: "startup",
      handlers,
      signal,
      memo,
      settings,
      clock,
      indexes: shared.indexes.indexes,
    });
    return true;
  } catch (error) {
    if (!signal.aborted) throw error;
    log.warning("The operator was stopped during its startup: the startup handlers did not finish");
    return false;
  }
}

/** Runs the cleanup handlers, retried as they say; logs what fails. */
async function cleanup(registry: registries.OperatorRegistry, shared: Shared): Promise<void> {
  const handlers = registry.activityHandlers("cleanup");
  if (handlers.length === 0) return;
  const { memo, settings, clock } = shared;
  try {
    await activities.runActivity({
      activity: "cleanup",
      handlers,
      memo,
      settings,
      clock,
      indexes: shared.indexes.indexes,
    });
  } catch (error) {
    log.error(`The cleanup did not complete: ${messageOf(error)}`);
  }
}

/** The connection of the login handlers if any are registered, else of the options. */
async function connect(
  options: OperatorOptions,
  registry: registries.OperatorRegistry,
  shared: Shared,
  signal: AbortSignal,
): Promise<connections.Connection> {
  const handlers = registry.activityHandlers("authentication");
  if (handlers.length === 0) {
    return options.connection ??
      await kubeconfig.loadConnection(options.context ? { context: options.context } : {});
  }
  if (options.connection || options.context) {
    log.debug("Login handlers are registered: they give the connection, not the options");
  }
  const { memo, settings, clock } = shared;
  return await logins.login({
    handlers,
    signal,
    memo,
    settings,
    clock,
    indexes: shared.indexes.indexes,
  });
}

/** Connects and serves until the signal aborts, then stops the watchers and handlers. */
async function serveAll(
  options: OperatorOptions,
  registry: registries.OperatorRegistry,
  shared: Shared,
  outer: AbortSignal,
): Promise<void> {
  const { settings, clock, clusterwide, patterns } = shared;
  const health = options.health ?? new Map();

  let connection: connections.Connection;
  try {
    connection = await connect(options, registry, shared, outer);
  } catch (error) {
    if (outer.aborted) return; // stopped while the login handlers ran
    throw error;
  }
  using transport = new transports.Transport(connection, {
    settings: settings.networking,
    clock,
    insecureSkipTlsVerifyProcessWide: readEnv("KOPF_INSECURE_SKIP_TLS_VERIFY") === "1",
    ...(options.onResponse || options.metrics
      ? { onResponse: responseObserver(options.onResponse, options.metrics) }
      : {}),
  });
  log.info(`Connecting to ${connection.server} (${connection.source})`);
  shared.connected = true;
  const finder = new discovery.Discovery(transport);
  const poster = new posting.EventPoster({ transport, settings: settings.posting, clock });
  poster.start();
  posting.setActivePoster(poster);
  objectEventSink = posting.postingSink(poster, settings.posting);

  const report = options.peering ?? coordinating.newReport();
  report.identity = options.identity || report.identity || peering.detectIdentity();
  const removeMetrics = options.metrics ? stateMetrics(options.metrics, health, report) : noop;
  const coordination = new coordinating.Coordination({
    transport,
    settings,
    clock,
    clusterwide,
    defaultNamespace: connection.namespace,
    report,
  });

  const watchStop = new AbortController();
  const handlerStop = new AbortController();
  const stopWatching = () => watchStop.abort(new OperatorStopped("The operator is stopping"));
  outer.addEventListener("abort", stopWatching, { once: true });
  if (outer.aborted) stopWatching();

  // Until the first watchers are started, the indexes cannot be complete: no watcher may run
  // handlers before the watchers of the indexed resources exist and hold the gate.
  const indexes = shared.indexes;
  let starting = indexes.any ? indexes.incomplete.make(true, "starting the watchers") : undefined;
  let namespacesSeen = clusterwide;
  const unlistenIndexes = indexes.incomplete.listen((on) => {
    if (on) log.debug(`Handlers wait for the indexes: ${indexes.incomplete.reasons().join(", ")}`);
    else log.debug("The indexes have their initial listings: handlers run");
  });
  if (starting !== undefined) log.debug("Handlers wait for the indexes' initial listings");

  const running = new Map<string, Running>();
  // One heap of due times and one clock sleep for every timer of every watcher.
  const scheduler = new scheduling.Scheduler({
    clock,
    coalescingMs: settings.background.coalescingMs,
  });
  let resources: references.Resource[] = [];
  let everything: references.Resource[] = [];
  let served: ReadonlySet<string | undefined> = new Set(clusterwide ? [undefined] : []);

  /** Starts and stops watchers so that exactly resources × namespaces are watched. */
  const reconcile = () => {
    if (watchStop.signal.aborted) return;
    // Peering first: its engines join the pause before any watcher starts.
    coordination.reconcile(everything, served);
    webhookServer?.reconcile(everything);
    const wanted = new Map<
      string,
      { resource: references.Resource; namespace: string | undefined }
    >();
    for (const resource of resources) {
      const scopes = resource.namespaced ? served : new Set([undefined]);
      if (resource.namespaced && served.size === 0) continue;
      for (const namespace of scopes) {
        wanted.set(keyOf(resource, namespace), { resource, namespace });
      }
    }
    for (const [key, watcher] of running) {
      if (!wanted.has(key)) {
        watcher.stop.abort(new OperatorStopped("No longer served"));
        running.delete(key);
        health.delete(key);
      }
    }
    for (const [key, { resource, namespace }] of wanted) {
      if (running.has(key)) continue;
      const stop = new AbortController();
      const linked = signals.linkedSignal([watchStop.signal, stop.signal]);
      const signal = linked.signal;
      const watchHealth = watching.newHealth(clock);
      health.set(key, watchHealth);
      const done = serving.serve({
        transport,
        resource,
        namespace,
        registry,
        settings,
        clock,
        signal,
        handlerSignal: handlerStop.signal,
        health: watchHealth,
        onProcessed: options.onProcessed,
        memo: shared.memo,
        paused: report.paused,
        indexes: shared.indexes,
        scheduler,
      }).catch((error) => {
        if (!signal.aborted) log.error(`The watcher of ${key} failed: ${error}`, { error });
      }).finally(() => linked.dispose());
      running.set(key, { stop, done });
    }
    if (starting !== undefined && namespacesSeen) {
      indexes.incomplete.drop(starting);
      starting = undefined;
    }
  };

  const background: Promise<unknown>[] = [];
  let webhookServer: webhooks.Webhooks | undefined;
  try {
    const warned = new Set<string>();
    resources = await observation.servedResources(finder, registry, watchStop.signal, warned);
    everything = await finder.resources(watchStop.signal);
    // Webhooks serve as soon as the resources are known, whatever the peering says (as Kopf).
    webhookServer = await webhooks.startWebhooks({
      registry,
      settings: settings.admission,
      transport,
      resources: everything,
      memo: shared.memo,
      indexes: shared.indexes.indexes,
      clock,
      signal: handlerStop.signal,
    });
    if (resources.length === 0 && registry.selectors().length === 0 && !registry.admission.any) {
      log.warning("No handlers are registered: there is nothing to serve");
    }
    const rescan = observation.settlingRescans(async () => {
      finder.invalidate();
      const found = await observation.servedResources(finder, registry, watchStop.signal, warned);
      const before = new Set(resources.map(references.fullName));
      const after = new Set(found.map(references.fullName));
      resources = found;
      everything = await finder.resources(watchStop.signal);
      if (before.size !== after.size || [...after].some((r) => !before.has(r))) {
        log.info(`Served resources: ${[...after].join(", ") || "none"}`);
      }
      reconcile(); // also when only the peering resources came or went
    }, { clock, signal: watchStop.signal });
    background.push(
      observation.observeCrds(transport, rescan, {
        signal: watchStop.signal,
        settings: settings.watching,
      }).catch(swallowStop),
    );
    if (!clusterwide) {
      background.push(
        observation.observeNamespaces(transport, patterns, (names) => {
          served = names;
          namespacesSeen = true;
          log.info(`Served namespaces: ${[...names].join(", ") || "none"}`);
          reconcile();
        }, { signal: watchStop.signal, settings: settings.watching }).catch(swallowStop),
      );
    }
    reconcile();
    await abortion(watchStop.signal);
  } catch (error) {
    // Stopped while it still discovered what to serve: a stop, not a failure.
    if (!watchStop.signal.aborted) throw error;
  } finally {
    stopWatching();
    // Watches end at once; running processing gets its grace period, then handlers are cancelled.
    const watchers = Promise.all([...running.values()].map((r) => r.done));
    const timer = new AbortController();
    const graceful = await Promise.race([
      watchers.then(() => true),
      clock.sleep(settings.queueing.exitTimeoutSeconds * 1000, timer.signal).then(
        () => false,
        () => true,
      ),
    ]);
    timer.abort();
    if (!graceful) {
      log.warning(
        `Handlers still run after ${settings.queueing.exitTimeoutSeconds} s: cancelling them`,
      );
      handlerStop.abort(new OperatorStopped("The operator stopped; handlers were cancelled"));
      await watchers;
    }
    // Only once nothing is handled any more may a peer take over: leave the peering now.
    await webhookServer?.stop();
    await coordination.stop();
    await Promise.all(background);
    outer.removeEventListener("abort", stopWatching);
    unlistenIndexes();
    if (starting !== undefined) indexes.incomplete.drop(starting);
    objectEventSink = undefined;
    posting.setActivePoster(undefined);
    await poster.stop();
    scheduler.close();
    removeMetrics();
  }
}

function noop(): void {}

/** Counts each API request by verb, resource and code, and times it (not watches). */
function responseObserver(
  onResponse: ((exchange: transports.Exchange) => void) | undefined,
  metrics: metricsModule.OperatorMetrics | undefined,
): (exchange: transports.Exchange) => void {
  return (exchange) => {
    if (metrics) {
      const verb = transports.verbOf(exchange);
      const resource = transports.resourceOf(exchange);
      metrics.apiRequests.inc({ verb, resource, code: String(exchange.status) });
      if (verb !== "watch") metrics.apiLatency.observe({ verb, resource }, exchange.seconds);
    }
    onResponse?.(exchange);
  };
}

/** Gauges and counters read from the watchers' health and the peering state when scraped. */
function stateMetrics(
  metrics: metricsModule.OperatorMetrics,
  health: OperatorHealth,
  report: coordinating.PeeringReport,
): () => void {
  const perWatcher = (value: (h: watching.WatchHealth) => number) => () =>
    [...health].map(([watcher, h]) => ({ labels: { watcher }, value: value(h) }));
  const removals = [
    metrics.collect(
      "kopf_watch_reconnects_total",
      "Watch connections opened again, per watcher",
      "counter",
      perWatcher((h) => h.reconnects),
    ),
    metrics.collect(
      "kopf_watch_relists_total",
      "Relists after 410 Gone, per watcher",
      "counter",
      perWatcher((h) => h.relists),
    ),
    metrics.collect(
      "kopf_watch_errors_total",
      "Watch failures, per watcher",
      "counter",
      perWatcher((h) => h.errors),
    ),
    metrics.collect(
      "kopf_watch_healthy",
      "1 while the watcher is listing, watching or paused; 0 in backoff or stopped",
      "gauge",
      perWatcher((h) => (h.phase === "backoff" || h.phase === "stopped" ? 0 : 1)),
    ),
    metrics.collect(
      "kopf_peering_active",
      "1 while this instance handles objects, 0 while it is paused for a peer or a Lease",
      "gauge",
      () => [{
        labels: { mode: report.mode, identity: report.identity },
        value: report.paused.on ? 0 : 1,
      }],
    ),
  ];
  return () => removals.forEach((remove) => remove());
}

/** Where object log lines become Events, while an operator runs (see `eventSink`). */
let objectEventSink: Sink | undefined;

/**
 * A logging sink that forwards object log lines to the running operator's Event poster: give
 * it to `configureLogging({ postingSink })` before the operator starts.
 */
export const eventSink: Sink = (record: LogRecord) => objectEventSink?.(record);

/** How `run()` logs; `false` leaves logging to the application. */
export interface RunOptions extends OperatorOptions {
  /** @default {{ level: "info", format: "plain", prefix: true }} */
  logging?: Omit<logging.LoggingOptions, "posting" | "postingSink"> | false;
  /** Stop gracefully on SIGINT and SIGTERM. @default {true} */
  handleSignals?: boolean;
}

/**
 * Runs an operator as a program does: configures logging, stops gracefully on SIGINT/SIGTERM,
 * and returns the exit code (0 after a requested stop, 1 when it could not run) instead of
 * throwing, after logging one clear line about what went wrong.
 *
 * @example A script that serves one namespace
 * ```ts ignore
 * import { run } from "./running.ts";
 * Deno.exit(await run({ namespaces: ["default"] }));
 * ```
 */
export async function run(options: RunOptions = {}): Promise<number> {
  const settings = options.settings ?? operatorSettings.defaultSettings();
  if (options.logging !== false) {
    await logging.configureLogging({
      level: "info",
      format: "plain",
      prefix: true,
      ...options.logging,
      posting: settings.posting,
      postingSink: eventSink,
    });
  }
  const stop = new AbortController();
  const signals: Deno.Signal[] = (options.handleSignals ?? true) ? ["SIGINT", "SIGTERM"] : [];
  const onSignal = () => {
    if (stop.signal.aborted) return;
    log.info("Signal received: stopping gracefully");
    stop.abort(new OperatorStopped("Stopped by a signal"));
  };
  for (const signal of signals) Deno.addSignalListener(signal, onSignal);
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  try {
    await operator({ ...options, settings, signal });
    return 0;
  } catch (error) {
    // An activity's failure is the handlers' story, told in their log lines; a kubeconfig or
    // credentials problem is the user's input, named with its fix: no stack trace for either.
    const told = error instanceof activities.ActivityError ||
      error instanceof k8sErrors.ConfigError || error instanceof k8sErrors.CredentialsError;
    const properties = told ? {} : { error };
    log.fatal(`The operator cannot run: ${messageOf(error)}`, properties);
    return 1;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

function keyOf(resource: references.Resource, namespace: string | undefined): string {
  return namespace === undefined
    ? references.fullName(resource)
    : `${references.fullName(resource)}@${namespace}`;
}

function abortion(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

function swallowStop(error: unknown): void {
  if (!(error instanceof OperatorStopped)) log.error(`An observer failed: ${error}`, { error });
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
