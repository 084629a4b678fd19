// Runs the changing handlers of one object for one cause: picks the awake ones, orders them by
// the lifecycle, runs each attempt with its context, and runs the sub-handlers a handler
// declares (persisting their progress under `parent/child` ids). Results go to status.<id>.
// Writes only into the cycle's Patch; sending it is the runtime's business.

import type * as clocks from "../async/clock.ts";
import type * as causes from "../causes/causes.ts";
import * as registering from "../registry/registering.ts";
import * as registries from "../registry/registries.ts";
import type * as handlers from "../registry/handlers.ts";
import type * as operator from "../settings/operator.ts";
import type * as patches from "../structs/patches.ts";
import * as contexts from "./contexts.ts";
import * as errors from "./errors.ts";
import * as execution from "./execution.ts";
import * as lifecycles from "./lifecycles.ts";
import type * as outcomes from "./outcomes.ts";
import * as states from "./states.ts";

/** Everything one cycle of one object needs to run its changing handlers. */
export interface ChangingRun {
  readonly subject: contexts.Subject;
  readonly cause: causes.ChangingCause & { reason: causes.HandlerReason };
  readonly settings: operator.OperatorSettings;
  readonly clock: clocks.Clock;
  /** Aborted when handlers must be cancelled (the operator stops for good). */
  readonly signal?: AbortSignal | undefined;
}

/** Runs the awake handlers once (as many as the lifecycle picks) and returns their outcomes. */
export async function executeOnce(
  list: readonly handlers.ChangingHandler[],
  state: states.State,
  run: ChangingRun,
): Promise<Map<string, outcomes.Outcome>> {
  const awake = list.filter((h) => state.isAwake(h.id));
  const chosen = lifecycles.LIFECYCLES[run.settings.execution.lifecycle](
    awake,
    (id) => state.get(id)?.retries ?? 0,
  );
  const results = new Map<string, outcomes.Outcome>();
  for (const handler of chosen) {
    const handlerState = state.get(handler.id);
    if (!handlerState) throw new Error(`No state for the handler "${handler.id}"`);
    results.set(handler.id, await executeHandler(handler, handlerState, run));
  }
  return results;
}

/** One attempt of one changing handler, with its sub-handlers if it declares any. */
function executeHandler(
  handler: handlers.ChangingHandler,
  state: states.HandlerState,
  run: ChangingRun,
): Promise<outcomes.Outcome> {
  return execution.executeOnce(handler, state, (attempt) => {
    const subregistry = new registries.SubRegistry();
    const body = run.subject.body as Readonly<Record<string, unknown>>;
    return contexts.currentBody.run(
      body,
      () =>
        registering.currentHandler.run({ handler, subregistry }, async () => {
          const context = contexts.changingContext(run.subject, handler, run.cause, attempt);
          const result = await handler.fn(context);
          const declared = subregistry.handlers();
          if (declared.length > 0) await executeSubhandlers(declared, attempt, run);
          return result;
        }),
    );
  }, {
    clock: run.clock,
    logger: run.subject.logger,
    signal: run.signal,
    defaultBackoffSeconds: run.settings.execution.defaultBackoffSeconds,
    defaultErrors: "temporary",
    cause: run.cause.reason,
  });
}

/**
 * Runs the sub-handlers a parent declared, persisting their progress like top-level ones.
 * The parent is done only when they all are: otherwise it is retried when the earliest
 * sub-handler is due (HandlerChildrenRetry).
 */
async function executeSubhandlers(
  declared: readonly handlers.ChangingHandler[],
  attempt: execution.Attempt,
  run: ChangingRun,
): Promise<void> {
  const subregistry = new registries.SubRegistry();
  for (const handler of declared) subregistry.register(handler);
  const filterContext = contexts.filterContext(run.subject, run.cause, attempt.signal);
  const selected = subregistry.selectChanging(run.cause, filterContext);
  const storage = run.settings.persistence.progressStorage;
  const body = run.subject.body as Record<string, unknown>;
  let state = states.State.fromStorage(body, storage, selected.map((h) => h.id), run.clock)
    .withPurpose(run.cause.reason)
    .withHandlers(selected.map((h) => h.id));
  const results = await executeOnce(selected, state, run);
  state = state.withOutcomes(results);
  state.store(body, run.subject.patch, storage);
  deliverResults(results, run.subject.patch);
  for (const handler of selected) attempt.subrefs.push(handler.id);
  for (const outcome of results.values()) attempt.subrefs.push(...outcome.subrefs);
  if (!state.done) {
    const delays = state.delays;
    throw new errors.HandlerChildrenRetry("sub-handlers are not finished", {
      delay: delays.length ? Math.min(...delays) : 0,
    });
  }
}

/** Merges successful results into `status.<handler id>`: objects merged, other values replaced. */
export function deliverResults(
  results: ReadonlyMap<string, outcomes.Outcome>,
  patch: patches.Patch,
): void {
  for (const [id, outcome] of results) {
    if (outcome.error !== undefined || outcome.result === undefined || outcome.result === null) {
      continue;
    }
    const result = outcome.result;
    if (typeof result === "object" && !Array.isArray(result)) {
      const current = patch.status[id];
      const target = typeof current === "object" && current !== null && !Array.isArray(current)
        ? current as Record<string, unknown>
        : (patch.status[id] = {}) as Record<string, unknown>;
      Object.assign(target, structuredClone(result));
    } else {
      patch.status[id] = structuredClone(result);
    }
  }
}
