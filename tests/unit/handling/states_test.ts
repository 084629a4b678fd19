import { deepEqual, equal, ok } from "node:assert/strict";
import * as clocks from "../../../lib/async/clock.ts";
import * as outcomes from "../../../lib/handling/outcomes.ts";
import * as states from "../../../lib/handling/states.ts";

const T0 = Date.parse("2026-11-25T12:00:00.123Z");

Deno.test("times are written as Kopf writes them: microseconds and +00:00", () => {
  equal(states.formatTime(T0), "2026-11-25T12:00:00.123000+00:00");
});

Deno.test("times are read in every form Kopf versions wrote: offsets, Z, naive UTC, any fraction", () => {
  equal(states.parseTime("2026-11-25T12:00:00.123000+00:00"), T0);
  equal(states.parseTime("2026-11-25T12:00:00.123456Z"), T0);
  equal(states.parseTime("2026-11-25T12:00:00.123"), T0);
  equal(states.parseTime("2026-11-25T14:00:00.123+02:00"), T0);
  equal(states.parseTime("2026-11-25T12:00:00"), T0 - 123);
  equal(states.parseTime("garbage"), undefined);
  equal(states.parseTime(null), undefined);
});

Deno.test("a record read from storage round-trips to the same record", () => {
  const record = {
    started: "2026-11-25T12:00:00.123000+00:00",
    delayed: "2026-11-25T12:01:00.123000+00:00",
    purpose: "create",
    retries: 1,
    success: false,
    failure: false,
    message: "not yet",
  };
  const state = states.fromStorage(record, T0);
  deepEqual(states.asInStorage(state), record);
  deepEqual(states.forStorage(state), { ...record, stopped: null, subrefs: null });
});

Deno.test("outcomes move the state: retries count up, delays set, success and failure final", () => {
  const start = states.fromScratch(T0, "create");
  const retried = states.withOutcome(start, outcomes.retry(new Error("x"), "x", 30), T0 + 1000);
  deepEqual([retried.retries, retried.delayed, retried.stopped, retried.message], [
    1,
    T0 + 31_000,
    undefined,
    "x",
  ]);
  ok(states.isSleeping(retried, T0 + 30_000));
  ok(states.isAwake(retried, T0 + 31_000));
  const done = states.withOutcome(
    retried,
    outcomes.success({ a: 1 }, ["create/child"]),
    T0 + 40_000,
  );
  deepEqual([done.success, done.failure, done.stopped, done.message, done.subrefs], [
    true,
    false,
    T0 + 40_000,
    undefined,
    ["create/child"],
  ]);
  ok(states.isFinished(done));
  const failed = states.withOutcome(start, outcomes.failure(new Error("bad"), "bad"), T0);
  deepEqual([failed.failure, failed.success, failed.message], [true, false, "bad"]);
});

Deno.test("a State knows when it is done, how long to sleep, and what a superseded purpose left", () => {
  const clock = new clocks.FakeClock(T0);
  const old = { ...states.fromScratch(T0, "create"), active: false, success: true };
  let state = new states.State(new Map([["old", old]]), clock, "update").withHandlers(["a", "b"]);
  equal(state.done, false);
  deepEqual(state.delays, [0, 0]);
  state = state.withOutcomes(
    new Map([
      ["a", outcomes.success(undefined)],
      ["b", outcomes.retry(new Error("later"), "later", 10)],
    ]),
  );
  equal(state.done, false);
  deepEqual(state.delays, [10]);
  equal(state.isAwake("b"), false);
  clock.advance(10_000);
  equal(state.isAwake("b"), true);
  deepEqual(state.counts, { success: 1, failure: 0, running: 1 });
  deepEqual([...state.extras], [["create", { success: 1, failure: 0, running: 0 }]]);
  state = state.withOutcomes(new Map([["b", outcomes.failure(new Error("no"), "no")]]));
  equal(state.done, true);
});
