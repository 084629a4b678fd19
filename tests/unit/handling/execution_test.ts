import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import * as clocks from "../../../lib/async/clock.ts";
import * as errors from "../../../lib/handling/errors.ts";
import * as execution from "../../../lib/handling/execution.ts";
import * as states from "../../../lib/handling/states.ts";
import type * as handlers from "../../../lib/registry/handlers.ts";
import { recordingLogger } from "../../_fixtures/loggers.ts";

function handler(overrides: Partial<handlers.BaseHandler> = {}): handlers.BaseHandler {
  return {
    id: "create_fn",
    fn: () => {},
    param: undefined,
    errors: undefined,
    timeout: undefined,
    retries: undefined,
    backoff: undefined,
    ...overrides,
  };
}

function setup(started = 0, retries = 0) {
  const clock = new clocks.FakeClock(1_000_000);
  const logger = recordingLogger();
  const state: states.HandlerState = {
    ...states.fromScratch(clock.now() - started * 1000, "create"),
    retries,
  };
  const options: execution.ExecutionOptions = {
    clock,
    logger,
    defaultBackoffSeconds: 60,
    defaultErrors: "temporary",
  };
  return { clock, logger, state, options };
}

Deno.test("a handler that returns succeeds with its result, and the success is logged", async () => {
  const { logger, state, options } = setup();
  const outcome = await execution.executeOnce(
    handler(),
    state,
    () => ({ message: "hello" }),
    options,
  );
  equal(outcome.final, true);
  deepEqual(outcome.result, { message: "hello" });
  equal(outcome.error, undefined);
  deepEqual(logger.messages("info"), ["Handler 'create_fn' succeeded"]);
});

Deno.test("the attempt gets the retry count, the start time and the runtime", async () => {
  const { state, options } = setup(30, 2);
  let seen: Omit<execution.Attempt, "signal" | "subrefs"> | undefined;
  await execution.executeOnce(handler(), state, (attempt) => {
    seen = { retry: attempt.retry, started: attempt.started, runtime: attempt.runtime };
  }, options);
  deepEqual(seen, { retry: 2, started: new Date(1_000_000 - 30_000), runtime: 30 });
});

Deno.test("TemporaryError retries after its delay", async () => {
  const { logger, state, options } = setup();
  const outcome = await execution.executeOnce(handler(), state, () => {
    throw new errors.TemporaryError("not yet", { delay: 5 });
  }, options);
  equal(outcome.final, false);
  equal(outcome.delay, 5);
  equal(outcome.message, "not yet");
  deepEqual(logger.messages("error"), ["Handler 'create_fn' failed temporarily: not yet"]);
});

Deno.test("TemporaryError fails for good when the next attempt would pass the timeout (look-ahead)", async () => {
  const { state, options } = setup(50);
  const outcome = await execution.executeOnce(handler({ timeout: 60 }), state, () => {
    throw new errors.TemporaryError("slow", { delay: 15 });
  }, options);
  equal(outcome.final, true);
  ok(outcome.error instanceof errors.HandlerTimeoutError);
  equal(
    outcome.message,
    "Handler 'create_fn' failed temporarily but will time out after 60 seconds: slow",
  );
});

Deno.test("TemporaryError fails for good when the next attempt would exceed the retries", async () => {
  const { state, options } = setup(0, 2);
  const outcome = await execution.executeOnce(handler({ retries: 3 }), state, () => {
    throw new errors.TemporaryError("again");
  }, options);
  ok(outcome.error instanceof errors.HandlerRetriesError);
  equal(outcome.final, true);
});

Deno.test("PermanentError fails for good at once", async () => {
  const { state, options, logger } = setup();
  const outcome = await execution.executeOnce(handler(), state, () => {
    throw new errors.PermanentError("bad spec");
  }, options);
  equal(outcome.final, true);
  equal(outcome.message, "bad spec");
  deepEqual(logger.messages("error"), ["Handler 'create_fn' failed permanently: bad spec"]);
});

Deno.test("an arbitrary error is retried after the handler's backoff, else the default one", async () => {
  const { state, options } = setup();
  const boom = () => {
    throw new TypeError("boom");
  };
  equal((await execution.executeOnce(handler({ backoff: 7 }), state, boom, options)).delay, 7);
  equal((await execution.executeOnce(handler(), state, boom, options)).delay, 60);
});

Deno.test("errors mode 'ignored' turns an arbitrary error into a success, 'permanent' into a failure", async () => {
  const { state, options } = setup();
  const boom = () => {
    throw new Error("boom");
  };
  const ignored = await execution.executeOnce(handler({ errors: "ignored" }), state, boom, options);
  deepEqual([ignored.final, ignored.error], [true, undefined]);
  const permanent = await execution.executeOnce(
    handler({ errors: "permanent" }),
    state,
    boom,
    options,
  );
  deepEqual([permanent.final, permanent.message], [true, "boom"]);
  // TemporaryError and PermanentError keep their meaning in every mode.
  const temporary = await execution.executeOnce(handler({ errors: "ignored" }), state, () => {
    throw new errors.TemporaryError("t", { delay: 1 });
  }, options);
  equal(temporary.final, false);
});

Deno.test("arbitrary errors respect the timeout and retries look-ahead with the backoff", async () => {
  const { state, options } = setup(50, 0);
  const boom = () => {
    throw new Error("boom");
  };
  const timed = await execution.executeOnce(
    handler({ timeout: 100, backoff: 60 }),
    state,
    boom,
    options,
  );
  ok(timed.error instanceof errors.HandlerTimeoutError);
  equal(
    timed.message,
    "Handler 'create_fn' failed with an exception and will stop now (it would time out in 100 seconds on the next attempt): boom",
  );
  const retried = await execution.executeOnce(handler({ retries: 1 }), state, boom, options);
  ok(retried.error instanceof errors.HandlerRetriesError);
});

Deno.test("a thrown non-Error value is described in the message", async () => {
  const { state, options } = setup();
  const outcome = await execution.executeOnce(handler(), state, () => {
    throw { code: 42 };
  }, options);
  equal(outcome.message, '{"code":42}');
  const text = await execution.executeOnce(handler(), state, () => {
    throw "plain text";
  }, options);
  equal(text.message, "plain text");
});

Deno.test("a handler past its timeout or retries is not called and fails at once", async () => {
  let calls = 0;
  const fn = () => calls++;
  const late = setup(61);
  ok(
    (await execution.executeOnce(handler({ timeout: 60 }), late.state, fn, late.options))
      .error instanceof errors.HandlerTimeoutError,
  );
  const tired = setup(0, 3);
  ok(
    (await execution.executeOnce(handler({ retries: 3 }), tired.state, fn, tired.options))
      .error instanceof errors.HandlerRetriesError,
  );
  equal(calls, 0);
});

Deno.test("a handler that never returns is interrupted at its timeout and its signal aborts", async () => {
  const { clock, state, options } = setup(10);
  let signal: AbortSignal | undefined;
  const running = execution.executeOnce(handler({ timeout: 30 }), state, (attempt) => {
    signal = attempt.signal;
    return new Promise(() => {}); // never settles
  }, options);
  while (clock.sleepers === 0) await Promise.resolve();
  equal(clock.nextWakeAt, clock.now() + 20_000);
  clock.advance(20_000);
  const outcome = await running;
  equal(outcome.final, true);
  ok(outcome.error instanceof errors.HandlerTimeoutError);
  ok(signal?.aborted);
});

Deno.test("a result that JSON cannot carry fails the handler with a clear message", async () => {
  const { state, options } = setup();
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const outcome = await execution.executeOnce(handler(), state, () => circular, options);
  equal(outcome.final, true);
  ok(
    outcome.message?.startsWith(
      "Handler 'create_fn' returned a result that cannot be stored in status.create_fn: ",
    ),
  );
  ok(!outcome.message?.includes("\n"), `one line: ${outcome.message}`);
  const big = await execution.executeOnce(handler(), state, () => 10n, options);
  ok(big.error instanceof errors.PermanentError);
  const fn = await execution.executeOnce(handler(), state, () => () => 1, options);
  equal(
    fn.message,
    "Handler 'create_fn' returned a result that cannot be stored in status.create_fn: a function has no JSON form",
  );
});

Deno.test("when the operator stops during a handler, the stop propagates instead of an outcome", async () => {
  const { state, options } = setup();
  const stop = new AbortController();
  const reason = new Error("stopping");
  const running = execution.executeOnce(
    handler(),
    state,
    (attempt) =>
      new Promise((_, reject) =>
        attempt.signal.addEventListener("abort", () => reject(attempt.signal.reason))
      ),
    {
      ...options,
      signal: stop.signal,
    },
  );
  stop.abort(reason);
  await rejects(running, (e) => e === reason);
});
