// Runs one attempt of one handler and turns whatever happens into an Outcome: success with a
// storable result, a retry after a delay, or a final failure — applying the handler's errors
// mode, retries, timeout and backoff with Kopf's look-ahead (fail now if the next attempt
// would exceed a limit). Unlike Kopf, a timeout also interrupts a handler that is still running.

import type { Logger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import * as signals from "../async/signals.ts";
import type * as handlers from "../registry/handlers.ts";
import * as errors from "./errors.ts";
import * as metricsModule from "../structs/metrics.ts";
import * as tracing from "../structs/tracing.ts";
import * as outcomes from "./outcomes.ts";
import type * as states from "./states.ts";

/** What an attempt needs beyond the handler and its state. */
export interface ExecutionOptions {
  readonly clock: clocks.Clock;
  readonly logger: Logger;
  /** Aborted when the operator stops; the handler's own signal follows it. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Aborts the handler's own signal but does not stop the wait for it: a daemon's cancellation
   * step (the handler is asked to exit, and waited for until its cancellation timeout).
   */
  readonly cancel?: AbortSignal | undefined;
  /** `backoff` of handlers that set none (seconds). */
  readonly defaultBackoffSeconds: number;
  /** `errors` of handlers that set none: temporary for changing handlers, ignored for events. */
  readonly defaultErrors: handlers.ErrorsMode;
  /** The cause for the metrics (create, update, …); the handler's reason or kind by default. */
  readonly cause?: string | undefined;
  /**
   * Where results go, for the message when one cannot go there as JSON; `false` when results
   * are not stored, so not checked (startup, cleanup, login). @default {`status.<id>`}
   */
  readonly resultPlace?: string | false | undefined;
  /** The level of the "succeeded" line: probes run often, so they log it at debug. @default {"info"} */
  readonly successLevel?: "info" | "debug" | undefined;
}

/** What the handler's function is called with, besides the context the caller builds. */
export interface Attempt {
  readonly retry: number;
  readonly started: Date;
  /** Seconds since the first attempt. */
  readonly runtime: number;
  /** Aborted on operator stop and when the handler's timeout passes. */
  readonly signal: AbortSignal;
  /** Where a parent handler collects the ids of its sub-handlers (all levels deep). */
  readonly subrefs: string[];
}

/** Calls the handler's function for this attempt (the caller builds the context). */
export type Invoke = (attempt: Attempt) => unknown;

/** The label Kopf uses in messages: `Handler 'create_fn'`, `Daemon 'monitor'`, `Timer 'tick'`. */
export function label(handler: handlers.BaseHandler): string {
  const kind = (handler as { readonly kind?: string }).kind;
  const noun = kind === "daemon" ? "Daemon" : kind === "timer" ? "Timer" : "Handler";
  return `${noun} '${handler.id}'`;
}

/** Runs one attempt of `handler` and reports its outcome; never throws for handler errors. */
export async function executeOnce(
  handler: handlers.BaseHandler,
  state: states.HandlerState,
  invoke: Invoke,
  options: ExecutionOptions,
): Promise<outcomes.Outcome> {
  const cause = options.cause ?? causeOf(handler);
  const attributes = {
    "kopf.handler.id": handler.id,
    "kopf.cause": cause,
    "kopf.retry": state.retries,
  };
  return await tracing.inSpan("kopf.handler", attributes, async (span) => {
    const startedAt = performance.now();
    const outcome = await attemptOnce(handler, state, invoke, options);
    const result = metricsModule.outcomeLabel(outcome);
    span.setAttribute("kopf.outcome", result);
    if (outcome.error !== undefined) tracing.failed(span, outcome.message ?? "failed");
    const metrics = metricsModule.currentMetrics.getStore();
    if (metrics !== undefined) {
      const labels = { handler: handler.id, cause };
      metrics.handlerInvocations.inc({ ...labels, outcome: result });
      metrics.handlerDuration.observe(labels, (performance.now() - startedAt) / 1000);
      if (!outcome.final) metrics.handlerRetries.inc(labels);
    }
    return outcome;
  });
}

/** The cause label of a handler that was given none: its reason, activity or kind. */
function causeOf(handler: handlers.BaseHandler): string {
  const h = handler as { kind?: string; reason?: string; activity?: string };
  if (h.kind === "watching") return "event";
  return h.reason ?? h.activity ?? h.kind ?? "handler";
}

async function attemptOnce(
  handler: handlers.BaseHandler,
  state: states.HandlerState,
  invoke: Invoke,
  options: ExecutionOptions,
): Promise<outcomes.Outcome> {
  const { clock, logger } = options;
  const name = label(handler);
  const errorsMode = handler.errors ?? options.defaultErrors;
  const backoff = handler.backoff ?? options.defaultBackoffSeconds;
  const runtime = (clock.now() - state.started) / 1000;
  const subrefs: string[] = [];

  // Limits are checked before the attempt, as the previous attempt may have used them up.
  if (handler.timeout !== undefined && runtime >= handler.timeout) {
    const message = `${name} has timed out after ${seconds(runtime)}`;
    logger.error(message);
    return outcomes.failure(new errors.HandlerTimeoutError(message), message);
  }
  if (handler.retries !== undefined && state.retries >= handler.retries) {
    const message = `${name} has exceeded ${state.retries} retries`;
    logger.error(message);
    return outcomes.failure(new errors.HandlerRetriesError(message), message);
  }

  const lookahead = (delay: number) => ({
    timeout: handler.timeout !== undefined && runtime + delay >= handler.timeout,
    retries: handler.retries !== undefined && state.retries + 1 >= handler.retries,
  });

  let result: unknown;
  try {
    logger.debug(`${name} is invoked`);
    result = await invokeWithTimeout(handler, invoke, {
      retry: state.retries,
      started: new Date(state.started),
      runtime,
      subrefs,
    }, options);
  } catch (error) {
    if (options.signal?.aborted && error === options.signal.reason) throw error; // the operator stops
    const text = errors.describe(error);
    if (error instanceof errors.HandlerChildrenRetry) {
      logger.debug(`${name} has unfinished sub-handlers; it runs again soon`);
      return outcomes.retry(error, text, error.delay, subrefs);
    }
    if (error instanceof errors.TemporaryError) {
      const limits = lookahead(error.delay);
      if (limits.timeout) {
        const message =
          `${name} failed temporarily but will time out after ${handler.timeout} seconds: ${text}`;
        logger.error(message);
        return outcomes.failure(new errors.HandlerTimeoutError(message), message, subrefs);
      }
      if (limits.retries) {
        const message =
          `${name} failed temporarily but will exceed ${handler.retries} retries: ${text}`;
        logger.error(message);
        return outcomes.failure(new errors.HandlerRetriesError(message), message, subrefs);
      }
      logger.error(`${name} failed temporarily: ${text}`);
      return outcomes.retry(error, text, error.delay, subrefs);
    }
    if (
      error instanceof errors.HandlerTimeoutError || error instanceof errors.HandlerRetriesError
    ) {
      logger.error(text);
      return outcomes.failure(error, text, subrefs);
    }
    if (error instanceof errors.PermanentError) {
      logger.error(`${name} failed permanently: ${text}`);
      return outcomes.failure(error, text, subrefs);
    }
    // Anything else, including values that are not Errors at all (`throw "oops"`).
    const properties = { error };
    if (errorsMode === "ignored") {
      logger.error(`${name} failed with an exception and will ignore it: ${text}`, properties);
      return outcomes.success(undefined, subrefs);
    }
    if (errorsMode === "permanent") {
      logger.error(`${name} failed with an exception and will stop now: ${text}`, properties);
      return outcomes.failure(error, text, subrefs);
    }
    const limits = lookahead(backoff);
    if (limits.timeout) {
      const message = `${name} failed with an exception and will stop now ` +
        `(it would time out in ${handler.timeout} seconds on the next attempt): ${text}`;
      logger.error(message, properties);
      return outcomes.failure(new errors.HandlerTimeoutError(message), message, subrefs);
    }
    if (limits.retries) {
      const message = `${name} failed with an exception and will stop now ` +
        `(it would exceed ${handler.retries} retries on the next attempt): ${text}`;
      logger.error(message, properties);
      return outcomes.failure(new errors.HandlerRetriesError(message), message, subrefs);
    }
    logger.error(
      `${name} failed with an exception and will try again in ${backoff} seconds: ${text}`,
      properties,
    );
    return outcomes.retry(error, text, backoff, subrefs);
  }

  // The result goes into status.<id>: refuse what JSON cannot carry, now, with a clear reason.
  const place = options.resultPlace ?? `status.${handler.id}`;
  const unstorable = place === false ? undefined : checkStorable(result);
  if (unstorable) {
    const message = `${name} returned a result that cannot be stored in ${place}: ${unstorable}`;
    logger.error(message);
    return outcomes.failure(new errors.PermanentError(message), message, subrefs);
  }
  if (options.successLevel === "debug") logger.debug(`${name} succeeded`);
  else logger.info(`${name} succeeded`);
  return outcomes.success(result, subrefs);
}

/** Why a handler's timeout timer stops: it settled first. Never shown; it only ends a sleep. */
const SETTLED = new DOMException("The handler settled", "AbortError");

/** Calls the handler; with a timeout, stops waiting (and aborts its signal) when it passes. */
async function invokeWithTimeout(
  handler: handlers.BaseHandler,
  invoke: Invoke,
  attempt: Omit<Attempt, "signal">,
  options: ExecutionOptions,
): Promise<unknown> {
  const controller = new AbortController();
  // The operator's signal means "cancel now" (it waited for its grace period already): stop
  // waiting for the handler even if it ignores its own signal.
  const cancelled = Promise.withResolvers<never>();
  cancelled.promise.catch(() => {});
  const stop = () => {
    controller.abort(options.signal?.reason);
    cancelled.reject(options.signal?.reason);
  };
  const unsubscribe = options.signal && signals.onAbort(options.signal, stop);
  const unsubscribeCancel = options.cancel &&
    signals.onAbort(options.cancel, (reason) => controller.abort(reason));
  if (options.cancel?.aborted) controller.abort(options.cancel.reason);
  const timer = handler.timeout === undefined ? undefined : new AbortController();
  try {
    if (options.signal?.aborted) throw options.signal.reason;
    const running = Promise.resolve().then(() => invoke({ ...attempt, signal: controller.signal }));
    running.catch(() => {}); // if it loses a race, its late failure must not go unhandled
    const racers: Promise<unknown>[] = [running, cancelled.promise];
    if (handler.timeout !== undefined) {
      const left = Math.max(0, handler.timeout - attempt.runtime) * 1000;
      racers.push(
        options.clock.sleep(left, timer!.signal).then(() => {
          const error = new errors.HandlerTimeoutError(
            `${label(handler)} has timed out after ${
              seconds(handler.timeout ?? 0)
            } and was interrupted`,
          );
          controller.abort(error);
          throw error;
        }),
      );
    }
    return await Promise.race(racers);
  } finally {
    timer?.abort(SETTLED); // a constant: a new DOMException per handler call is costly
    unsubscribe?.();
    unsubscribeCancel?.();
  }
}

/** Undefined if `value` survives JSON as it is; else why not. */
function checkStorable(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return `a ${typeof value} has no JSON form`;
    return undefined;
  } catch (error) {
    // V8 explains a circular structure over several lines: keep the log line one line.
    return errors.describe(error).split("\n").map((part) => part.trim()).join(" ");
  }
}

function seconds(value: number): string {
  return `${Number(value.toFixed(3))} s`;
}
