import { deepEqual, equal } from "node:assert/strict";
import { FakeClock } from "../../../lib/async/clock.ts";
import { Scheduler } from "../../../lib/async/scheduling.ts";

/** Lets the scheduler's wake-up (a promise reaction) run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

Deno.test("the scheduler calls in due order, equal times in the order of scheduling", async () => {
  const clock = new FakeClock(0);
  const scheduler = new Scheduler({ clock });
  const calls: string[] = [];
  scheduler.schedule(3000, () => calls.push("c"));
  scheduler.schedule(1000, () => calls.push("a1"));
  scheduler.schedule(2000, () => calls.push("b"));
  scheduler.schedule(1000, () => calls.push("a2"));
  clock.advance(999);
  await flush();
  deepEqual(calls, [], "nothing runs early");
  clock.advance(1);
  await flush();
  deepEqual(calls, ["a1", "a2"]);
  clock.advance(5000);
  await flush();
  deepEqual(calls, ["a1", "a2", "b", "c"]);
  equal(scheduler.size, 0);
});

Deno.test("the scheduler keeps one clock sleep however many calls wait", async () => {
  const clock = new FakeClock(0);
  const scheduler = new Scheduler({ clock });
  let called = 0;
  for (let i = 0; i < 10_000; i++) scheduler.schedule(1000 + (i * 7919) % 5000, () => called++);
  equal(clock.sleepers, 1);
  equal(clock.nextWakeAt, 1000);
  clock.advance(6000);
  await flush();
  equal(called, 10_000);
  equal(clock.sleepers, 0);
});

Deno.test("an earlier call cuts the sleep short; a later one does not touch it", async () => {
  const clock = new FakeClock(0);
  const scheduler = new Scheduler({ clock });
  const calls: number[] = [];
  scheduler.schedule(5000, () => calls.push(clock.now()));
  equal(clock.nextWakeAt, 5000);
  scheduler.schedule(9000, () => calls.push(clock.now()));
  equal(clock.nextWakeAt, 5000);
  scheduler.schedule(2000, () => calls.push(clock.now()));
  equal(clock.nextWakeAt, 2000);
  equal(clock.sleepers, 1);
  for (const step of [2000, 3000, 4000]) {
    clock.advance(step);
    await flush();
  }
  deepEqual(calls, [2000, 5000, 9000]);
});

Deno.test("a cancelled call never runs; the others keep their order", async () => {
  const clock = new FakeClock(0);
  const scheduler = new Scheduler({ clock });
  const calls: string[] = [];
  const entries = ["a", "b", "c", "d", "e"].map((name, i) =>
    scheduler.schedule((i + 1) * 1000, () => calls.push(name))
  );
  entries[0]!.cancel();
  entries[3]!.cancel();
  entries[3]!.cancel(); // twice is harmless
  equal(entries[0]!.pending, false);
  equal(scheduler.size, 3);
  clock.advance(10_000);
  await flush();
  deepEqual(calls, ["b", "c", "e"]);
  equal(entries[1]!.pending, false);
});

Deno.test("a call scheduled from a callback for a past time runs in the same wake-up", async () => {
  const clock = new FakeClock(0);
  const scheduler = new Scheduler({ clock });
  const calls: string[] = [];
  scheduler.schedule(1000, () => {
    calls.push("first");
    scheduler.schedule(500, () => calls.push("past"));
    scheduler.after(1000, () => calls.push("again"));
  });
  clock.advance(1000);
  await flush();
  deepEqual(calls, ["first", "past"]);
  clock.advance(1000);
  await flush();
  deepEqual(calls, ["first", "past", "again"]);
});

Deno.test("a callback that throws is reported and does not stop the others", async () => {
  const clock = new FakeClock(0);
  const errors: unknown[] = [];
  const scheduler = new Scheduler({ clock, onError: (error) => errors.push(error) });
  const calls: string[] = [];
  scheduler.schedule(1000, () => {
    throw new Error("boom");
  });
  scheduler.schedule(1000, () => calls.push("after"));
  clock.advance(1000);
  await flush();
  deepEqual(calls, ["after"]);
  equal((errors[0] as Error).message, "boom");
});

Deno.test("a closed scheduler drops its calls and its sleep", async () => {
  const clock = new FakeClock(0);
  const scheduler = new Scheduler({ clock });
  let called = 0;
  scheduler.schedule(1000, () => called++);
  scheduler.close();
  equal(clock.sleepers, 0);
  const late = scheduler.schedule(1000, () => called++);
  equal(late.pending, false);
  clock.advance(5000);
  await flush();
  equal(called, 0);
});

Deno.test("interleaved scheduling and cancelling keeps the heap in order", async () => {
  const clock = new FakeClock(0);
  const scheduler = new Scheduler({ clock });
  const fired: number[] = [];
  const live = new Map<number, ReturnType<Scheduler["schedule"]>>();
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 2000; i++) {
    const at = Math.floor(random() * 100_000);
    live.set(i, scheduler.schedule(at, () => fired.push(at)));
    if (random() < 0.3) {
      const victim = Math.floor(random() * i);
      live.get(victim)?.cancel();
      live.delete(victim);
    }
  }
  const expected = [...live.values()].map((e) => e.at).sort((a, b) => a - b);
  clock.advance(100_000);
  await flush();
  deepEqual(fired, expected);
});

Deno.test("with coalescing, calls due in one slot of the grid share a wake-up, none early", async () => {
  const clock = new FakeClock(0);
  const scheduler = new Scheduler({ clock, coalescingMs: 20 });
  const calls: [number, number][] = [];
  for (const at of [1001, 1005, 1019, 1020, 1021, 1040]) {
    scheduler.schedule(at, () => calls.push([at, clock.now()]));
  }
  equal(clock.nextWakeAt, 1020, "the sleep ends on the grid at or after the earliest call");
  clock.advance(1019);
  await flush();
  deepEqual(calls, [], "nothing runs before its grid point");
  clock.advance(1);
  await flush();
  deepEqual(calls, [[1001, 1020], [1005, 1020], [1019, 1020], [1020, 1020]]);
  equal(clock.nextWakeAt, 1040, "1021 waits for the next grid point with 1040");
  clock.advance(20);
  await flush();
  deepEqual(calls.slice(4), [[1021, 1040], [1040, 1040]]);
  equal(clock.sleepers, 0);
});

Deno.test("with coalescing, an earlier call in the same slot does not re-arm the sleep", () => {
  const clock = new FakeClock(0);
  const scheduler = new Scheduler({ clock, coalescingMs: 20 });
  scheduler.schedule(1015, () => {});
  const sleep = clock.nextWakeAt;
  scheduler.schedule(1003, () => {});
  equal(clock.nextWakeAt, sleep);
  equal(clock.sleepers, 1);
  scheduler.schedule(990, () => {});
  equal(clock.nextWakeAt, 1000, "an earlier slot re-arms it");
  equal(clock.sleepers, 1);
  scheduler.close();
});

Deno.test("a coalescing grid that is negative or not finite is refused with its value", () => {
  for (const coalescingMs of [-1, Number.NaN, Infinity]) {
    let message = "";
    try {
      new Scheduler({ clock: new FakeClock(0), coalescingMs });
    } catch (error) {
      message = (error as Error).message;
    }
    equal(
      message,
      `settings.background.coalescingMs must be a finite number ≥ 0 (0 disables it), not ${coalescingMs}`,
    );
  }
});
