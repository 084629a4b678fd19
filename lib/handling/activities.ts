// Runs the handlers of one operator-wide activity (startup, cleanup, login, probe), as Kopf's
// `run_activity` does: all at once, each with its context, retried by its own options until
// every one has succeeded or one has failed for good. Called by the reactor (startup, cleanup,
// login) and the liveness kit (probes, one attempt each). Never talks to the cluster.

import type { Logger } from "@logtape/logtape";
import { getLogger } from "@logtape/logtape";
import * as clocks from "../async/clock.ts";
import type * as contextTypes from "../registry/contexts.ts";
import type * as handlers from "../registry/handlers.ts";
import type * as operatorSettings from "../settings/operator.ts";
import type * as indexes from "../structs/indexes.ts";
import * as contexts from "./contexts.ts";
import * as errors from "./errors.ts";
import * as execution from "./execution.ts";
import * as states from "./states.ts";

/** One run of one activity's handlers. */
export interface ActivityRun {
  readonly activity: handlers.Activity;
  /** The handlers to run, in order (`registry.activityHandlers(activity)`). */
  readonly handlers: readonly handlers.ActivityHandler[];
  /** The operator memo, shared by every activity. */
  readonly memo: contextTypes.Memo;
  /** The operator's settings, given to the handlers as they are (startup may change them). */
  readonly settings: operatorSettings.OperatorSettings;
  /** The operator's indexes by id, given to the handlers as context fields. @default {none} */
  readonly indexes?: indexes.Indexes | undefined;
  /** @default {realClock} */
  readonly clock?: clocks.Clock | undefined;
  /** Aborts the run: the handlers' signals, and the sleeps between retries. */
  readonly signal?: AbortSignal | undefined;
  /** @default {the logger `kopf.activities.<activity>`} */
  readonly logger?: Logger | undefined;
  /** One attempt per handler, whatever its outcome (probes: the next request is the retry). */
  readonly once?: boolean | undefined;
  /**
   * Turns a handler's return value into what the caller needs, within the attempt: what it
   * throws is that handler's failure (a `PermanentError` fails it at once).
   */
  readonly transform?:
    | ((result: unknown, handler: handlers.ActivityHandler) => unknown)
    | undefined;
}

/** How a run ended: the results of the handlers that succeeded, the errors of the others. */
export interface ActivityOutcome {
  /** By handler id, in registration order; `undefined` for handlers that returned nothing. */
  readonly results: ReadonlyMap<handlers.HandlerId, unknown>;
  /** By handler id: why the handler failed, as one line. */
  readonly failures: ReadonlyMap<handlers.HandlerId, string>;
}

/**
 * Handlers of an activity failed for good: the startup or login cannot complete. The message
 * is one line naming each failed handler and why.
 *
 * @example Telling a failed startup from other failures of `operator()`
 * ```ts
 * import { ActivityError } from "./activities.ts";
 * const error = new ActivityError("startup", new Map([["connect_db", "the database is down"]]));
 * console.log(error.message); // The startup handler "connect_db" failed: the database is down
 * ```
 */
export class ActivityError extends Error {
  override name = "ActivityError";
  /** The activity whose handlers failed. */
  readonly activity: handlers.Activity;
  /** By handler id: why it failed. */
  readonly failures: ReadonlyMap<handlers.HandlerId, string>;

  constructor(
    activity: handlers.Activity,
    failures: ReadonlyMap<handlers.HandlerId, string>,
    options: { cause?: unknown } = {},
  ) {
    const label = activityLabel(activity);
    const list = [...failures];
    super(
      list.length === 1
        ? `The ${label} handler "${list[0]![0]}" failed: ${list[0]![1]}`
        : `${list.length} ${label} handlers failed: ` +
          list.map(([id, message]) => `"${id}": ${message}`).join("; "),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.activity = activity;
    this.failures = failures;
  }
}

/** How an activity is named in messages: `login` for `authentication`, as it is registered. */
export function activityLabel(activity: handlers.Activity): string {
  return activity === "authentication" ? "login" : activity;
}

/**
 * Runs every handler of the activity until each has succeeded or failed for good (or once,
 * with `once`), sleeping between rounds until the earliest retry is due. Rejects only when
 * `signal` aborts (with its reason).
 */
export async function executeActivity(run: ActivityRun): Promise<ActivityOutcome> {
  const clock = run.clock ?? clocks.realClock;
  const logger = run.logger ?? getLogger(["kopf", "activities", run.activity]);
  const subject: contexts.ActivitySubject = {
    activity: run.activity,
    logger,
    memo: run.memo,
    settings: run.settings,
    indexes: run.indexes,
  };
  const options: execution.ExecutionOptions = {
    clock,
    logger,
    signal: run.signal,
    defaultBackoffSeconds: run.settings.execution.defaultBackoffSeconds,
    defaultErrors: "temporary",
    resultPlace: run.activity === "probe" ? "the liveness report" : false,
    successLevel: run.activity === "probe" ? "debug" : "info",
  };
  const started = clock.now();
  const stateOf = new Map(
    run.handlers.map((h) => [h.id, states.fromScratch(started, run.activity)]),
  );
  const results = new Map<handlers.HandlerId, unknown>();
  const failures = new Map<handlers.HandlerId, string>();
  const unfinished = () => run.handlers.filter((h) => !results.has(h.id) && !failures.has(h.id));

  while (unfinished().length > 0) {
    const now = clock.now();
    for (const handler of unfinished()) {
      const state = stateOf.get(handler.id)!;
      if (!states.isAwake(state, now)) continue;
      const outcome = await execution.executeOnce(handler, state, async (attempt) => {
        const result = await handler.fn(contexts.activityContext(subject, handler, attempt));
        return run.transform ? run.transform(result, handler) : result;
      }, options);
      stateOf.set(handler.id, states.withOutcome(state, outcome, clock.now()));
      if (outcome.final && outcome.error === undefined) results.set(handler.id, outcome.result);
      else if (outcome.final || run.once) {
        failures.set(handler.id, outcome.message ?? errors.describe(outcome.error));
      }
    }
    const waiting = unfinished();
    if (waiting.length === 0) break;
    const wakeAt = Math.min(...waiting.map((h) => stateOf.get(h.id)!.delayed ?? clock.now()));
    await clock.sleep(Math.max(0, wakeAt - clock.now()), run.signal);
  }

  const ordered = new Map<handlers.HandlerId, unknown>();
  for (const handler of run.handlers) {
    if (results.has(handler.id)) ordered.set(handler.id, results.get(handler.id));
  }
  return { results: ordered, failures };
}

/**
 * Runs the activity as `executeActivity` does and returns the results of its handlers; throws
 * an `ActivityError` when any failed for good: activities assume that all handlers succeed.
 */
export async function runActivity(
  run: ActivityRun,
): Promise<ReadonlyMap<handlers.HandlerId, unknown>> {
  const { results, failures } = await executeActivity(run);
  if (failures.size > 0) throw new ActivityError(run.activity, failures);
  return results;
}
