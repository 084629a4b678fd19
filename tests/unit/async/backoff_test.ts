import { deepEqual, equal, fail } from "node:assert/strict";
import * as backoff from "../../../lib/async/backoff.ts";
import * as clocks from "../../../lib/async/clock.ts";

Deno.test("backoff doubles from the initial delay up to the cap without jitter", () => {
  const delays = new backoff.Backoff({
    initialMs: 800,
    maxMs: 30_000,
    jitter: 0,
    clock: new clocks.FakeClock(),
  });
  deepEqual(
    Array.from({ length: 8 }, () => delays.next()),
    [800, 1600, 3200, 6400, 12800, 25600, 30000, 30000],
  );
});

Deno.test("full jitter keeps every delay within [0, the unjittered delay]", () => {
  let r = 0;
  const values = [0, 0.5, 0.999];
  const delays = new backoff.Backoff({
    initialMs: 1000,
    jitter: 1,
    random: () => values[r++ % 3]!,
    clock: new clocks.FakeClock(),
  });
  deepEqual([delays.next(), delays.next(), delays.next()], [1000, 1000, 4]);
});

Deno.test("backoff starts over after a quiet period or an explicit reset", () => {
  const clock = new clocks.FakeClock();
  const delays = new backoff.Backoff({ initialMs: 100, jitter: 0, resetAfterMs: 1000, clock });
  delays.next();
  delays.next();
  equal(delays.next(), 400);
  clock.advance(1001);
  equal(delays.next(), 100);
  delays.reset();
  equal(delays.next(), 100);
  equal(delays.attempt, 1);
});

Deno.test("the fake clock wakes sleepers in deadline order only when advanced", async () => {
  const clock = new clocks.FakeClock(0);
  const woke: string[] = [];
  const a = clock.sleep(200).then(() => woke.push("a"));
  const b = clock.sleep(100).then(() => woke.push("b"));
  clock.advance(50);
  await Promise.resolve();
  deepEqual(woke, []);
  equal(clock.sleepers, 2);
  clock.advance(150);
  await Promise.all([a, b]);
  deepEqual(woke, ["b", "a"]);
  equal(clock.now(), 200);
});

Deno.test("an aborted sleep rejects with the signal's reason and leaves no sleeper", async () => {
  const clock = new clocks.FakeClock();
  const controller = new AbortController();
  const sleeping = clock.sleep(1000, controller.signal);
  controller.abort(new Error("stop"));
  await sleeping.then(() => fail("should reject"), (e: Error) => equal(e.message, "stop"));
  equal(clock.sleepers, 0);
  const real = clocks.sleep(10_000, controller.signal);
  await real.then(() => fail("should reject"), (e: Error) => equal(e.message, "stop"));
});
