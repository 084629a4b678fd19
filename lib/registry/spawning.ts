// The registration of daemons and timers (`on.daemon`, `on.timer`): their options, checked so
// that every mistake throws one line naming the handler and the fix. registering.ts re-exports
// them into `on`; engines/daemons.ts runs what they declare. Nothing runs here.

import type * as contexts from "./contexts.ts";
import type * as handlers from "./handlers.ts";
import * as opts from "./options.ts";

/** Options every daemon and timer has: filters, retries of each call, and `initialDelay`. */
export interface SpawningOptions<Context>
  extends opts.HandlerOptions, opts.RetryOptions, opts.FilterOptions<Context> {
  /** Seconds to wait after spawning (the object appeared or matched again) before the first call. */
  initialDelay?: number;
}

/** Options of `on.daemon`. Durations in seconds. */
export interface DaemonOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends SpawningOptions<contexts.DaemonContext<Spec, Status>> {
  /**
   * Seconds from the stop request (`stopped` set) to the cancellation (`signal` aborted). With
   * neither this nor `cancellationTimeout`, a daemon is only asked to stop, never cancelled.
   */
  cancellationBackoff?: number;
  /**
   * Seconds after the cancellation until a daemon that has still not exited is abandoned:
   * logged once and let go (its object's finalizer is then released). Without it, the
   * operator waits for the daemon as long as it takes.
   */
  cancellationTimeout?: number;
  /**
   * How often a stopping daemon without `cancellationTimeout` is checked again while its object
   * waits for deletion. @default {settings.background.cancellationPollingSeconds}
   */
  cancellationPolling?: number;
}

/** Options of `on.timer`: `interval`, `idle` or both are required. Durations in seconds. */
export interface TimerOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends SpawningOptions<contexts.TimerContext<Spec, Status>> {
  /** Seconds from the end of one call to the start of the next (with `sharp`: start to start). */
  interval?: number;
  /**
   * Call only once the object has had no essential change (spec, labels, annotations; not
   * status) for this many seconds; with `interval`, between calls too.
   */
  idle?: number;
  /** Start calls on the grid `first + k × interval`, without drift. @default {false} */
  sharp?: boolean;
}

/**
 * Registers a daemon: one long-running call per matching object, started when the object
 * appears (or starts matching the filters, or the operator starts or resumes) and stopped when it
 * stops matching, is deleted, or the operator stops or pauses: `stopped` is set, then after
 * `cancellationBackoff` the `signal` aborts, and after `cancellationTimeout` the daemon is
 * abandoned. A daemon that returns or fails permanently is not restarted for that object in this
 * process; a `TemporaryError` (or another error, by `errors`) restarts it after its delay. Its
 * `patch` is applied after each call; its result goes to `status.<id>`.
 *
 * @example A daemon that reports every 10 seconds until it is stopped
 * ```ts
 * import * as spawning from "./spawning.ts";
 * spawning.daemon("kopfexamples", async function monitor({ stopped, logger }) {
 *   while (!stopped.aborted) {
 *     logger.info("Still here");
 *     await stopped.wait(10);
 *   }
 *   logger.info(`Stopping: ${stopped.reason}`);
 * });
 * ```
 */
export function daemon<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  fn: contexts.DaemonFn<Spec, Status>,
): contexts.DaemonFn<Spec, Status>;
/** `on.daemon(resource, options, fn)`: the same, with options (filters, cancellation, …). */
export function daemon<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: DaemonOptions<Spec, Status>,
  fn: contexts.DaemonFn<Spec, Status>,
): contexts.DaemonFn<Spec, Status>;
export function daemon(...args: unknown[]): unknown {
  const { resource, options, fn } = opts.splitArguments("daemon", args);
  const check = new opts.Checker("daemon", resource, fn);
  const common = check.common(options);
  const handler: handlers.DaemonHandler = Object.freeze({
    kind: "daemon" as const,
    ...common,
    initialDelay: seconds(check, options, "initialDelay"),
    requiresFinalizer: true,
    cancellationBackoff: seconds(check, options, "cancellationBackoff"),
    cancellationTimeout: seconds(check, options, "cancellationTimeout"),
    cancellationPolling: seconds(check, options, "cancellationPolling", true),
  });
  check.registry(options).register(handler);
  return fn;
}

/**
 * Registers a timer: calls for each matching object every `interval` seconds (from the end of
 * one call to the start of the next; with `sharp`, on a fixed grid), and/or once the object has
 * been `idle` (no essential change) for that long. A failed call is retried after its delay
 * instead of the interval; the retry count starts anew after a success. Its `patch` is applied
 * and its result goes to `status.<id>` after each call. Stopped as daemons are, between calls.
 *
 * @example A status refresh every minute, and a check once an object is quiet for 30 s
 * ```ts
 * import * as spawning from "./spawning.ts";
 * spawning.timer("kopfexamples", { interval: 60, sharp: true }, function refresh({ patch }) {
 *   patch.status.checkedAt = new Date().toISOString();
 * });
 * spawning.timer("kopfexamples", { idle: 30 }, function settled({ spec }) {
 *   return { settledWith: spec };
 * });
 * ```
 */
export function timer<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: TimerOptions<Spec, Status>,
  fn: contexts.TimerFn<Spec, Status>,
): contexts.TimerFn<Spec, Status>;
export function timer(...args: unknown[]): unknown {
  if (args.length === 2 && typeof args[1] === "function") {
    const check = new opts.Checker("timer", args[0] as handlers.ResourceSelector, args[1]);
    check.fail(`a timer needs an interval or idle: on.timer(resource, { interval: 60 }, fn)`);
  }
  const { resource, options, fn } = opts.splitArguments("timer", args);
  const check = new opts.Checker("timer", resource, fn);
  const common = check.common(options);
  const interval = seconds(check, options, "interval", true);
  const idle = seconds(check, options, "idle", true);
  if (interval === undefined && idle === undefined) {
    check.fail(`a timer needs an interval or idle: on.timer(resource, { interval: 60 }, fn)`);
  }
  const sharp = options.sharp;
  if (sharp !== undefined && typeof sharp !== "boolean") {
    check.fail(`"sharp" must be true or false, got ${JSON.stringify(sharp) ?? typeof sharp}`);
  }
  if (sharp && interval === undefined) {
    check.fail(`"sharp" aligns calls to the interval: add { interval: 60 }`);
  }
  const handler: handlers.TimerHandler = Object.freeze({
    kind: "timer" as const,
    ...common,
    initialDelay: seconds(check, options, "initialDelay"),
    requiresFinalizer: true,
    interval,
    idle,
    sharp: sharp === true,
  });
  check.registry(options).register(handler);
  return fn;
}

function seconds(
  check: opts.Checker,
  options: Record<string, unknown>,
  key: string,
  positive = false,
): number | undefined {
  const value = options[key];
  if (value === undefined) return undefined;
  const valid = typeof value === "number" && Number.isFinite(value) &&
    (positive ? value > 0 : value >= 0);
  if (!valid) {
    const shown = typeof value === "function" ? "a function" : JSON.stringify(value) ?? "?";
    check.fail(
      `"${key}" must be a ${
        positive ? "positive" : "non-negative"
      } number of seconds, got ${shown}`,
    );
  }
  return value;
}
