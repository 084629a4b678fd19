// One call of a daemon or timer: its stop flag (`stopped`), its context with live views of the
// object (fields read the latest body the watch delivered), and one attempt with the handler's
// errors, retries and timeout. engines/daemons.ts calls it; it never schedules, stops or patches.

import type { Logger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import type * as contextTypes from "../registry/contexts.ts";
import type * as handlers from "../registry/handlers.ts";
import type * as operator from "../settings/operator.ts";
import type * as indexes from "../structs/indexes.ts";
import type * as patches from "../structs/patches.ts";
import type * as references from "../structs/references.ts";
import * as contexts from "./contexts.ts";
import * as execution from "./execution.ts";
import type * as outcomes from "./outcomes.ts";
import type * as states from "./states.ts";

const EMPTY: Readonly<Record<string, never>> = Object.freeze({});

/**
 * The stop flag of one daemon or timer: set once with the first reason (which aborts its
 * signal), then more reasons as the stop goes on (cancelled, abandoned, done).
 *
 * @example Waiting that ends early when the stop comes
 * ```ts
 * import { realClock } from "../async/clock.ts";
 * import { Stopper } from "./spawning.ts";
 * const stopped = new Stopper(realClock);
 * const waiting = stopped.wait(60);
 * stopped.stop("deleted");
 * await waiting; // true, at once
 * stopped.reason; // "deleted"
 * ```
 */
export class Stopper implements contextTypes.DaemonStopped {
  readonly #clock: clocks.Clock;
  readonly #controller = new AbortController();
  readonly #reasons: contextTypes.StoppingReason[] = [];
  #at: number | undefined;

  constructor(clock: clocks.Clock) {
    this.#clock = clock;
  }

  get aborted(): boolean {
    return this.#reasons.length > 0;
  }

  get reason(): contextTypes.StoppingReason | undefined {
    return this.#reasons[0];
  }

  get reasons(): readonly contextTypes.StoppingReason[] {
    return [...this.#reasons];
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** When the stop was first asked for (clock milliseconds); undefined until then. */
  get at(): number | undefined {
    return this.#at;
  }

  /** Whether this reason was given. */
  has(reason: contextTypes.StoppingReason): boolean {
    return this.#reasons.includes(reason);
  }

  /** Adds a reason (the first one aborts the signal); false if it was given already. */
  stop(reason: contextTypes.StoppingReason): boolean {
    if (this.#reasons.includes(reason)) return false;
    this.#reasons.push(reason);
    if (this.#reasons.length === 1) {
      this.#at = this.#clock.now();
      this.#controller.abort(new DOMException(`Stopping: ${reason}`, "AbortError"));
    }
    return true;
  }

  wait(seconds?: number): Promise<boolean> {
    const signal = this.#controller.signal;
    if (signal.aborted) return Promise.resolve(true);
    if (seconds === undefined || !Number.isFinite(seconds)) {
      return new Promise((resolve) =>
        signal.addEventListener("abort", () => resolve(true), { once: true })
      );
    }
    return this.#clock.sleep(Math.max(0, seconds) * 1000, signal).then(() => false, () => true);
  }
}

/** The object a daemon or timer runs for, as the engine keeps it: `body` is replaced on events. */
export interface LiveObject {
  /** The latest body the watch delivered. */
  body: contextTypes.Body;
  readonly resource: references.Resource;
  /** The object's logger (`[namespace/name]`). */
  readonly logger: Logger;
  /** The per-object memo, shared with the object's other handlers. */
  readonly memo: contextTypes.Memo;
  /** The operator's indexes, as context fields. */
  readonly indexes?: indexes.Indexes | undefined;
}

/** What one call of a daemon or timer needs besides its handler and state. */
export interface SpawningRun {
  readonly live: LiveObject;
  readonly stopped: Stopper;
  /** Aborted at the cancellation step of a stop: the context's `signal` follows it. */
  readonly cancel: AbortSignal;
  /** The patch the call writes into (replaced after each application). */
  readonly patch: patches.Patch;
  readonly settings: operator.OperatorSettings;
  readonly clock: clocks.Clock;
  /** Aborted when the operator gives up waiting on exit: the call is not waited for any more. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * The context of one attempt: the object's fields are live views of `live.body`.
 *
 * @example Fields follow the body the engine replaces
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { realClock } from "../async/clock.ts";
 * import { defaultSettings } from "../settings/operator.ts";
 * import { Patch } from "../structs/patches.ts";
 * import { spawningContext, Stopper } from "./spawning.ts";
 * const live = {
 *   body: { metadata: { name: "x" }, spec: { size: 1 } },
 *   resource: { group: "kopf.dev", version: "v1", plural: "kopfexamples", namespaced: true },
 *   logger: getLogger(["kopf"]),
 *   memo: {},
 * };
 * const run = {
 *   live, stopped: new Stopper(realClock), cancel: new AbortController().signal,
 *   patch: new Patch(), settings: defaultSettings(), clock: realClock,
 * };
 * const handler = { kind: "daemon", id: "d", param: undefined } as never;
 * const attempt = { retry: 0, started: new Date(), runtime: 0, signal: run.cancel, subrefs: [] };
 * const context = spawningContext(handler, run, attempt, run.cancel);
 * live.body = { metadata: { name: "x" }, spec: { size: 2 } };
 * context.spec.size; // 2
 * ```
 */
export function spawningContext(
  handler: handlers.AnySpawningHandler,
  run: SpawningRun,
  attempt: execution.Attempt,
  signal: AbortSignal,
): contextTypes.SpawningContext {
  const context = new LiveContext(handler, run, attempt, signal);
  if (run.live.indexes) {
    // Indexes come last, as for every context: an index may shadow a framework field (an own
    // property over the prototype's getter, which has no setter to assign through).
    for (const [name, value] of Object.entries(run.live.indexes)) {
      Object.defineProperty(context, name, { value, enumerable: true, writable: true });
    }
  }
  return context as unknown as contextTypes.SpawningContext;
}

/**
 * A spawning context: the object's fields are getters of the prototype reading `live.body`
 * (a destructuring reads them; a spread copies only the plain fields), the rest plain fields.
 * A class, not a literal with getters: a timer tick builds one, and the literal was 50× slower
 * to build (nine new closures, and a dictionary-mode object).
 */
class LiveContext {
  readonly #live: LiveObject;
  readonly resource: references.Resource;
  readonly patch: patches.Patch;
  readonly logger: Logger;
  readonly memo: contextTypes.Memo;
  readonly param: unknown;
  readonly signal: AbortSignal;
  readonly id: handlers.HandlerId;
  readonly stopped: contextTypes.DaemonStopped;
  readonly retry: number;
  readonly started: Date;
  readonly runtime: number;

  constructor(
    handler: handlers.AnySpawningHandler,
    run: SpawningRun,
    attempt: execution.Attempt,
    signal: AbortSignal,
  ) {
    const { live } = run;
    this.#live = live;
    this.resource = live.resource;
    this.patch = run.patch;
    this.logger = live.logger;
    this.memo = live.memo;
    this.param = handler.param;
    this.signal = signal;
    this.id = handler.id;
    this.stopped = run.stopped;
    this.retry = attempt.retry;
    this.started = attempt.started;
    this.runtime = attempt.runtime;
  }

  get body(): contextTypes.Body {
    return this.#live.body;
  }
  get spec(): Record<string, unknown> {
    return (this.#live.body.spec ?? EMPTY) as Record<string, unknown>;
  }
  get meta(): NonNullable<contextTypes.Body["metadata"]> {
    return this.#live.body.metadata ?? EMPTY;
  }
  get status(): Record<string, unknown> {
    return (this.#live.body.status ?? EMPTY) as Record<string, unknown>;
  }
  get name(): string {
    return this.meta.name ?? "";
  }
  get namespace(): string | undefined {
    return this.meta.namespace;
  }
  get uid(): string {
    return this.meta.uid ?? "";
  }
  get labels(): Readonly<Record<string, string>> {
    return this.meta.labels ?? EMPTY;
  }
  get annotations(): Readonly<Record<string, string>> {
    return this.meta.annotations ?? EMPTY;
  }
}

/**
 * One attempt of a daemon or timer, as an Outcome (never throws for what the handler throws).
 * A handler that fails with an abort after its stop was asked for has simply exited.
 *
 * @example One call of a timer
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * import { realClock } from "../async/clock.ts";
 * import { OperatorRegistry } from "../registry/registries.ts";
 * import { timer } from "../registry/spawning.ts";
 * import { defaultSettings } from "../settings/operator.ts";
 * import { Patch } from "../structs/patches.ts";
 * import { fromScratch } from "./states.ts";
 * import { executeOnce, Stopper } from "./spawning.ts";
 * const registry = new OperatorRegistry();
 * timer("kopfexamples", { registry, interval: 60 }, function tick({ patch }) {
 *   patch.status.ticked = true;
 *   return { ok: true };
 * });
 * const [handler] = registry.allSpawningHandlers();
 * const patch = new Patch();
 * const outcome = await executeOnce(handler!, fromScratch(realClock.now(), undefined), {
 *   live: {
 *     body: { metadata: { name: "x" } },
 *     resource: { group: "kopf.dev", version: "v1", plural: "kopfexamples", namespaced: true },
 *     logger: getLogger(["kopf"]),
 *     memo: {},
 *   },
 *   stopped: new Stopper(realClock),
 *   cancel: new AbortController().signal,
 *   patch,
 *   settings: defaultSettings(),
 *   clock: realClock,
 * });
 * outcome.result; // { ok: true }; patch.status.ticked is true
 * ```
 */
export function executeOnce(
  handler: handlers.AnySpawningHandler,
  state: states.HandlerState,
  run: SpawningRun,
): Promise<outcomes.Outcome> {
  return execution.executeOnce(handler, state, async (attempt) => {
    const context = spawningContext(handler, run, attempt, attempt.signal);
    const body = run.live.body as Readonly<Record<string, unknown>>;
    try {
      return await contexts.currentBody.run(body, () => handler.fn(context));
    } catch (error) {
      if (run.stopped.aborted && isAbort(error, [run.stopped.signal, attempt.signal])) {
        run.live.logger.debug(`${execution.label(handler)} was interrupted by its stop`);
        return undefined;
      }
      throw error;
    }
  }, {
    clock: run.clock,
    logger: run.live.logger,
    signal: run.signal,
    cancel: run.cancel,
    defaultBackoffSeconds: run.settings.execution.defaultBackoffSeconds,
    defaultErrors: "temporary",
  });
}

function isAbort(error: unknown, sources: readonly AbortSignal[]): boolean {
  if (sources.some((signal) => signal.aborted && error === signal.reason)) return true;
  return error instanceof DOMException && error.name === "AbortError";
}
