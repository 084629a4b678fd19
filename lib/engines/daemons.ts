// Daemons and timers of one watched resource: spawned per matching object, stopped (stopped →
// cancelled → abandoned) on mismatch, deletion, pause or exit. processing.ts feeds it each event;
// serving.ts gives it the callbacks to patch and re-process. Never sends requests by itself.

import type { Logger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import type * as scheduling from "../async/scheduling.ts";
import type * as toggles from "../async/toggles.ts";
import * as changing from "../handling/changing.ts";
import * as contexts from "../handling/contexts.ts";
import * as execution from "../handling/execution.ts";
import type * as outcomes from "../handling/outcomes.ts";
import * as spawning from "../handling/spawning.ts";
import * as states from "../handling/states.ts";
import type * as contextTypes from "../registry/contexts.ts";
import type * as handlers from "../registry/handlers.ts";
import type * as registries from "../registry/registries.ts";
import type * as operator from "../settings/operator.ts";
import * as bodies from "../structs/bodies.ts";
import * as finalizers from "../structs/finalizers.ts";
import type * as indexes from "../structs/indexes.ts";
import * as patches from "../structs/patches.ts";
import type * as references from "../structs/references.ts";

/** What the engine needs from the watcher that owns it. */
export interface DaemonsOptions {
  readonly resource: references.Resource;
  readonly registry: registries.OperatorRegistry;
  readonly settings: operator.OperatorSettings;
  readonly clock: clocks.Clock;
  /** Where timers and the steps of stops wait: one heap for every timer of the operator. */
  readonly scheduler: scheduling.Scheduler;
  /** Sends what a daemon attempt or timer call wrote into its patch. */
  readonly patch: (body: contextTypes.Body, patch: patches.Patch, logger: Logger) => Promise<void>;
  /** Asks for the object to be processed again: its daemons have stopped while it is deleted. */
  readonly wake?: ((body: contextTypes.Body) => void) | undefined;
  /** The operator's pause: while on, nothing runs ("operator paused"); see `resume()`. */
  readonly paused?: toggles.ToggleSet | undefined;
  /** Aborted when the operator stops waiting on exit: running calls are let go at once. */
  readonly signal?: AbortSignal | undefined;
  /** The operator's indexes, as context fields. */
  readonly indexes?: indexes.Indexes | undefined;
}

/** One event of one object, as processing sees it. */
export interface Observation {
  readonly body: contextTypes.Body;
  /** The watch event's type; undefined for objects of a listing. */
  readonly type: contextTypes.RawEvent["type"];
  /** The object's logger (`[namespace/name]`). */
  readonly logger: Logger;
  /** The per-object memo. */
  readonly memo: contextTypes.Memo;
}

/** What processing must do for the object's daemons and timers. */
export interface Spawned {
  /** The object must keep (or get) the finalizer: daemons or timers run or will run for it. */
  readonly requiresFinalizer: boolean;
  /**
   * While the object is being deleted: seconds until its stopping daemons must be checked again;
   * empty when all of them have exited or were abandoned (the finalizer may go).
   */
  readonly delays: readonly number[];
}

/** One daemon or timer of one object. */
interface Runner {
  readonly handler: handlers.AnySpawningHandler;
  readonly stopper: spawning.Stopper;
  /** The cancellation step of a stop aborts it (the context's `signal`). */
  readonly cancel: AbortController;
  /** Resolves when it has exited. */
  readonly exited: Promise<void>;
  /** Resolves when it has exited or was abandoned: what a stop waits for. */
  readonly released: Promise<void>;
  done: boolean;
  abandoned: boolean;
  /** The next step of its stop, if one is due. */
  escalation: scheduling.Scheduled | undefined;
  /** Called once when the stop is asked for. */
  onStop(): void;
  /** Called after an essential change of the object (timers with `idle`). */
  onChange(): void;
  /** Marks it exited (once). */
  finish(): void;
  /** Lets it go: nobody waits for it any more, though it may still run. */
  abandon(): void;
}

/** What the engine keeps per object between events, in memory only. */
interface ObjectEntry {
  readonly key: string;
  readonly live: spawning.LiveObject;
  /** The essence of the last event (as for the diff-base): its changes reset `idle`. */
  essence: unknown;
  /** When the essence last changed (clock milliseconds): since then the object is idle. */
  idleResetAt: number;
  /** Handlers that exited on their own (returned, failed for good): never restarted here. */
  readonly foreverStopped: Set<handlers.HandlerId>;
  readonly running: Map<handlers.HandlerId, Runner>;
  deleting: boolean;
  gone: boolean;
}

/**
 * The daemons and timers of the objects of one watched resource.
 *
 * @example One engine per watcher, fed by processing
 * ```ts
 * import { FakeClock } from "../async/clock.ts";
 * import { Scheduler } from "../async/scheduling.ts";
 * import { getLogger } from "@logtape/logtape";
 * import { OperatorRegistry } from "../registry/registries.ts";
 * import * as on from "../registry/registering.ts";
 * import { defaultSettings } from "../settings/operator.ts";
 * import { Daemons } from "./daemons.ts";
 *
 * const registry = new OperatorRegistry();
 * on.timer("kopfexamples", { registry, interval: 60 }, function tick() {});
 * const clock = new FakeClock();
 * const resource = { group: "kopf.dev", version: "v1", plural: "kopfexamples", namespaced: true };
 * const engine = new Daemons({
 *   resource, registry, settings: defaultSettings(), clock,
 *   scheduler: new Scheduler({ clock }),
 *   patch: async () => {},
 * });
 * const body = { metadata: { name: "x", uid: "u1" } };
 * await engine.process({ body, type: "ADDED", logger: getLogger(["kopf"]), memo: {} });
 * // { requiresFinalizer: true, delays: [] }; the timer ticks at once, then every 60 s
 * await engine.close();
 * ```
 */
export class Daemons {
  readonly #options: DaemonsOptions;
  readonly #entries = new Map<string, ObjectEntry>();
  readonly #unlisten: (() => void) | undefined;
  /** Whether a timer of the resource has `idle`: only then is each event's essence compared. */
  readonly #tracksIdle: boolean;
  #pausedMeanwhile = false;
  #closed = false;

  constructor(options: DaemonsOptions) {
    this.#options = options;
    this.#tracksIdle = options.registry.spawningHandlers(options.resource)
      .some((handler) => handler.kind === "timer" && handler.idle !== undefined);
    this.#unlisten = options.paused?.listen((on) => {
      if (on) this.#pauseAll();
    });
  }

  /** How many daemons and timers run (stopping ones included, abandoned ones not). */
  get running(): number {
    let count = 0;
    for (const entry of this.#entries.values()) {
      for (const runner of entry.running.values()) if (!runner.abandoned) count++;
    }
    return count;
  }

  /**
   * Takes one event of one object: refreshes its live body and idle time, spawns what matches,
   * stops what no longer does, and while the object is being deleted stops everything and says
   * whether the finalizer may go.
   */
  async process(observation: Observation): Promise<Spawned> {
    const { body } = observation;
    const key = keyOf(body);
    const entry = this.#observe(key, observation);
    if (observation.type === "DELETED" || finalizers.isDeletionOngoing(body)) {
      entry.deleting = true;
      entry.gone ||= observation.type === "DELETED";
      const stopping = [...entry.running.values()];
      for (const runner of stopping) this.#stop(entry, runner, "deleted");
      await this.#instantExit(stopping);
      const delays: number[] = [];
      for (const runner of entry.running.values()) {
        const delay = this.#escalate(entry, runner, true);
        if (delay !== undefined) delays.push(delay);
      }
      if (entry.gone && entry.running.size === 0) this.#entries.delete(key);
      if (entry.gone) return { requiresFinalizer: false, delays: [] };
      return { requiresFinalizer: delays.length > 0 || this.#wanted(entry).length > 0, delays };
    }
    // As in Kopf, a daemon stopping for a mismatch does not hold the finalizer.
    return { requiresFinalizer: this.#reconcile(entry).length > 0, delays: [] };
  }

  /**
   * After a pause, once the watch has relisted: respawns what the pause stopped, from what the
   * engine knows of each object (the relist reports only what changed). Objects for which
   * `pending(key)` is true are left to their coming event.
   */
  resume(pending: (key: string) => boolean = () => false): void {
    if (!this.#pausedMeanwhile || this.#options.paused?.on || this.#closed) return;
    this.#pausedMeanwhile = false;
    for (const entry of this.#entries.values()) {
      if (!pending(entry.key)) this.#reconcile(entry);
    }
  }

  /**
   * Stops everything ("operator exiting") and resolves when every daemon and timer has exited
   * or was abandoned — or at once when the operator's signal aborts (then calls are let go).
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unlisten?.();
    const all: Runner[] = [];
    for (const entry of this.#entries.values()) {
      for (const runner of entry.running.values()) {
        this.#stop(entry, runner, "operator exiting");
        all.push(runner);
      }
    }
    const signal = this.#options.signal;
    const givenUp = new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
    await Promise.race([Promise.all(all.map((r) => r.released)), givenUp]);
  }

  #observe(key: string, observation: Observation): ObjectEntry {
    const now = this.#options.clock.now();
    const essence = this.#tracksIdle ? this.#essence(observation.body) : undefined;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = {
        key,
        live: {
          body: observation.body,
          resource: this.#options.resource,
          logger: observation.logger,
          memo: observation.memo,
          indexes: this.#options.indexes,
        },
        essence,
        idleResetAt: now,
        foreverStopped: new Set(),
        running: new Map(),
        deleting: false,
        gone: false,
      };
      this.#entries.set(key, entry);
      return entry;
    }
    entry.live.body = observation.body;
    if (this.#tracksIdle && !bodies.deepEqual(essence, entry.essence)) {
      entry.essence = essence;
      entry.idleResetAt = now;
      for (const runner of entry.running.values()) runner.onChange();
    }
    return entry;
  }

  #essence(body: contextTypes.Body): unknown {
    const { diffbaseStorage, progressStorage } = this.#options.settings.persistence;
    const extra = this.#options.registry.extraFields(this.#options.resource);
    return progressStorage.clear(diffbaseStorage.build(body, extra));
  }

  /** The handlers that should run for the object as it is now (filters, not forever stopped). */
  #wanted(entry: ObjectEntry): handlers.AnySpawningHandler[] {
    const subject: contexts.Subject = { ...entry.live, patch: new patches.Patch() };
    const context = contexts.filterContext(subject, undefined, new AbortController().signal);
    return this.#options.registry.selectSpawning(
      this.#options.resource,
      { body: entry.live.body },
      context,
      entry.foreverStopped,
    );
  }

  /** Whether a daemon or timer of the object still runs (a stop not finished yet). */
  #blocking(entry: ObjectEntry): boolean {
    for (const runner of entry.running.values()) if (!runner.abandoned) return true;
    return false;
  }

  /** Spawns what matches and is not running; stops what runs but no longer matches. */
  #reconcile(entry: ObjectEntry): handlers.AnySpawningHandler[] {
    const wanted = this.#wanted(entry);
    if (entry.deleting) return wanted;
    const ids = new Set(wanted.map((h) => h.id));
    for (const runner of entry.running.values()) {
      if (!ids.has(runner.handler.id)) this.#stop(entry, runner, "filters mismatch");
    }
    if (this.#closed || this.#options.paused?.on) return wanted;
    for (const handler of wanted) {
      if (!entry.running.has(handler.id)) this.#spawn(entry, handler);
    }
    return wanted;
  }

  #pauseAll(): void {
    this.#pausedMeanwhile = true;
    for (const entry of this.#entries.values()) {
      for (const runner of entry.running.values()) this.#stop(entry, runner, "operator paused");
    }
  }

  #spawn(entry: ObjectEntry, handler: handlers.AnySpawningHandler): void {
    const runner = handler.kind === "daemon"
      ? this.#daemon(entry, handler)
      : this.#timer(entry, handler);
    entry.running.set(handler.id, runner);
    entry.live.logger.debug(`${execution.label(handler)} is spawned`);
    runner.exited.then(() => this.#exited(entry, runner));
  }

  /** Asks a runner to stop (once; later reasons are only recorded) and starts the protocol. */
  #stop(entry: ObjectEntry, runner: Runner, reason: contextTypes.StoppingReason): void {
    const first = !runner.stopper.aborted;
    runner.stopper.stop(reason);
    if (!first || runner.done) return;
    entry.live.logger.debug(`${execution.label(runner.handler)} is asked to stop: ${reason}`);
    runner.onStop();
    this.#escalate(entry, runner, false);
  }

  /**
   * Gives a runner a few zero-time turns of the event loop to exit before anyone waits for it
   * (Kopf's `asyncio.sleep(0)` cycles): a turn, not a microtask, so that the layers a handler's
   * return passes through (spans, metrics, retries) do not use them up.
   */
  async #instantExit(runners: readonly Runner[]): Promise<void> {
    const cycles = this.#options.settings.background.instantExitZeroTimeCycles;
    for (let i = 0; i < cycles && runners.some((r) => !r.done); i++) await nextTurn();
  }

  /**
   * Takes the steps of a stop whose time has come (cancel after the backoff, abandon after the
   * timeout) and plans the next one. Returns the seconds until the runner must be checked again
   * (for processing: a deleted object keeps its finalizer meanwhile), or undefined when it has
   * exited or was abandoned.
   */
  #escalate(entry: ObjectEntry, runner: Runner, polled: boolean): number | undefined {
    if (runner.done || runner.abandoned) return undefined;
    const handler = runner.handler;
    const { stopper } = runner;
    const label = execution.label(handler);
    const backoff = handler.kind === "daemon" ? handler.cancellationBackoff : undefined;
    const timeout = handler.kind === "daemon" ? handler.cancellationTimeout : undefined;
    const age = (this.#options.clock.now() - (stopper.at ?? this.#options.clock.now())) / 1000;
    if (backoff !== undefined && age < backoff) return this.#recheck(entry, runner, backoff - age);
    if (timeout !== undefined) {
      if (stopper.stop("cancelled")) {
        entry.live.logger.debug(`${label} is signalled to exit by force`);
        runner.cancel.abort(new DOMException(`${label} is cancelled`, "AbortError"));
      }
      const left = (backoff ?? 0) + timeout - age;
      if (left > 0) return this.#recheck(entry, runner, left);
      if (stopper.stop("abandoned")) {
        runner.abandon();
        runner.escalation?.cancel();
        entry.live.logger.warning(
          `${label} did not exit in time (cancellationTimeout ${timeout} s); leaving it orphaned`,
        );
        this.#settled(entry);
      }
      return undefined;
    }
    const polling = (handler.kind === "daemon" ? handler.cancellationPolling : undefined) ??
      this.#options.settings.background.cancellationPollingSeconds;
    if (polled) {
      entry.live.logger.debug(`${label} is still exiting; the next check is in ${polling} s`);
    }
    return polling;
  }

  #recheck(entry: ObjectEntry, runner: Runner, seconds: number): number {
    runner.escalation?.cancel();
    runner.escalation = this.#options.scheduler.after(seconds * 1000, () => {
      runner.escalation = undefined;
      this.#escalate(entry, runner, false);
    });
    return seconds;
  }

  #exited(entry: ObjectEntry, runner: Runner): void {
    runner.escalation?.cancel();
    const label = execution.label(runner.handler);
    if (!runner.stopper.aborted) {
      entry.foreverStopped.add(runner.handler.id);
      entry.live.logger.debug(`${label} has exited on its own and will not be restarted`);
    } else {
      entry.live.logger.debug(`${label} has exited on request (${runner.stopper.reason})`);
    }
    runner.stopper.stop("done");
    if (entry.running.get(runner.handler.id) === runner) entry.running.delete(runner.handler.id);
    if (entry.deleting) {
      this.#settled(entry);
      if (entry.gone && entry.running.size === 0) this.#entries.delete(entry.key);
    } else if (this.#entries.get(entry.key) === entry) {
      this.#reconcile(entry); // e.g. stopped by a pause or a mismatch that is over by now
    }
  }

  /** A stop of a deleted object's daemon ended: once none blocks, process the object again. */
  #settled(entry: ObjectEntry): void {
    if (!entry.deleting || entry.gone || this.#blocking(entry)) return;
    this.#options.wake?.(entry.live.body);
  }

  /** One attempt or call: execute, deliver the result, send the patch. */
  async #attempt(
    entry: ObjectEntry,
    runner: Runner,
    state: states.HandlerState,
  ): Promise<outcomes.Outcome> {
    const { settings, clock, signal } = this.#options;
    const patch = new patches.Patch();
    const outcome = await spawning.executeOnce(runner.handler, state, {
      live: entry.live,
      stopped: runner.stopper,
      cancel: runner.cancel.signal,
      patch,
      settings,
      clock,
      signal,
    });
    changing.deliverResults(new Map([[runner.handler.id, outcome]]), patch);
    if (!patch.isEmpty()) {
      try {
        await this.#options.patch(entry.live.body, patch, entry.live.logger);
      } catch (error) {
        if (!signal?.aborted) {
          const text = error instanceof Error ? error.message : String(error);
          entry.live.logger.error(
            `${execution.label(runner.handler)}: its patch failed: ${text}`,
            { error },
          );
        }
      }
    }
    return outcome;
  }

  #runner(
    handler: handlers.AnySpawningHandler,
    hooks: Partial<Pick<Runner, "onStop" | "onChange">> = {},
  ): Runner {
    const exited = Promise.withResolvers<void>();
    const released = Promise.withResolvers<void>();
    const runner: Runner = {
      handler,
      stopper: new spawning.Stopper(this.#options.clock),
      cancel: new AbortController(),
      exited: exited.promise,
      released: released.promise,
      done: false,
      abandoned: false,
      escalation: undefined,
      onStop: hooks.onStop ?? (() => {}),
      onChange: hooks.onChange ?? (() => {}),
      finish() {
        if (runner.done) return;
        runner.done = true;
        exited.resolve();
        released.resolve();
      },
      abandon() {
        runner.abandoned = true;
        released.resolve(); // the call may still run, but nobody waits for it any more
      },
    };
    return runner;
  }

  /** What ended a daemon or timer that is not its own doing: the operator let go, or a bug. */
  #crashed(entry: ObjectEntry, runner: Runner, error: unknown): void {
    if (this.#options.signal?.aborted) return;
    entry.live.logger.error(
      `${execution.label(runner.handler)} failed unexpectedly: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { error },
    );
  }

  /** A daemon: attempts until it returns or fails for good, or the stop is asked for. */
  #daemon(entry: ObjectEntry, handler: handlers.DaemonHandler): Runner {
    const runner = this.#runner(handler);
    const { clock } = this.#options;
    const run = async () => {
      if (handler.initialDelay) await runner.stopper.wait(handler.initialDelay);
      let state = states.fromScratch(clock.now(), undefined);
      while (!runner.stopper.aborted) {
        const outcome = await this.#attempt(entry, runner, state);
        state = states.withOutcome(state, outcome, clock.now());
        if (outcome.final || runner.stopper.aborted) break;
        await runner.stopper.wait(outcome.delay ?? 0);
      }
    };
    run().catch((error) => this.#crashed(entry, runner, error)).finally(() => runner.finish());
    return runner;
  }

  /** A timer: calls on the shared scheduler, by interval (sharp or not) and idle time. */
  #timer(entry: ObjectEntry, handler: handlers.TimerHandler): Runner {
    const { clock, scheduler } = this.#options;
    let scheduled: scheduling.Scheduled | undefined;
    let ticking = false;
    let waitingForChange = false;
    let lastStarted = 0;
    let anchor: number | undefined;
    let state: states.HandlerState | undefined;

    const at = (time: number) => {
      scheduled = scheduler.schedule(time, () => {
        scheduled = undefined;
        next();
      });
    };
    // The top of the loop: wait until the object has been idle long enough, then call.
    const next = () => {
      if (runner.stopper.aborted) return runner.finish();
      if (handler.idle !== undefined) {
        const due = entry.idleResetAt + handler.idle * 1000;
        if (clock.now() < due) return at(due);
      }
      tick().catch((error) => {
        this.#crashed(entry, runner, error);
        runner.finish();
      });
    };
    const tick = async () => {
      ticking = true;
      const started = clock.now();
      anchor ??= started;
      lastStarted = started;
      state ??= states.fromScratch(started, undefined);
      let outcome: outcomes.Outcome;
      try {
        outcome = await this.#attempt(entry, runner, state);
      } finally {
        ticking = false;
      }
      state = states.withOutcome(state, outcome, clock.now());
      if (runner.stopper.aborted) return runner.finish();
      const now = clock.now();
      if (!outcome.final) return at(now + (outcome.delay ?? 0) * 1000); // the retry's delay wins
      state = undefined; // the retries start anew after a success (or a failure for good)
      if (handler.interval !== undefined && handler.sharp) {
        const period = handler.interval * 1000;
        return at(anchor + (Math.floor((now - anchor) / period) + 1) * period);
      }
      if (handler.interval !== undefined) return at(now + handler.interval * 1000);
      waitingForChange = true; // idle only: once per quiet period after a change
      changed();
    };
    const changed = () => {
      if (!waitingForChange || entry.idleResetAt <= lastStarted) return;
      waitingForChange = false;
      next();
    };
    const runner = this.#runner(handler, {
      onStop: () => {
        scheduled?.cancel();
        waitingForChange = false;
        if (!ticking) runner.finish();
      },
      onChange: changed,
    });
    if (handler.initialDelay) at(clock.now() + handler.initialDelay * 1000);
    else next();
    return runner;
  }
}

/** The key of an object: its uid, or namespace/name when it has none (as the queue keys it). */
function keyOf(body: contextTypes.Body): string {
  const meta = body.metadata ?? {};
  return meta.uid ?? `${meta.namespace ?? ""}/${meta.name ?? ""}`;
}

/** Resolves on the next turn of the event loop, after every pending microtask. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
