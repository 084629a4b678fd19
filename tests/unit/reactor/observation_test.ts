import { deepStrictEqual, strictEqual } from "node:assert/strict";
import * as clocks from "../../../lib/async/clock.ts";
import * as observation from "../../../lib/reactor/observation.ts";

/** Lets pending promise callbacks run (fake-clock wake-ups resolve promises, not timers). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

Deno.test("settlingRescans: scans at the change and again at each settle time", async () => {
  const clock = new clocks.FakeClock();
  const stop = new AbortController();
  const at: number[] = [];
  const start = clock.now();
  const trigger = observation.settlingRescans(() => {
    at.push(clock.now() - start);
    return Promise.resolve();
  }, { clock, signal: stop.signal, settleMs: [1_000, 3_000] });
  trigger();
  await settle();
  while (clock.nextWakeAt !== undefined) {
    clock.advance(clock.nextWakeAt - clock.now());
    await settle();
  }
  deepStrictEqual(at, [0, 1_000, 3_000]);
  stop.abort();
});

Deno.test("settlingRescans: scans never overlap, and a change during a scan scans once more", async () => {
  const clock = new clocks.FakeClock();
  const stop = new AbortController();
  let active = 0;
  let most = 0;
  let scans = 0;
  const gates: (() => void)[] = [];
  const trigger = observation.settlingRescans(async () => {
    active++;
    most = Math.max(most, active);
    scans++;
    await new Promise<void>((resolve) => gates.push(resolve));
    active--;
  }, { clock, signal: stop.signal, settleMs: [] });
  trigger();
  await settle();
  trigger(); // while the first scan runs
  trigger(); // coalesces with the one before
  await settle();
  strictEqual(scans, 1);
  gates.shift()!();
  await settle();
  strictEqual(scans, 2);
  gates.shift()!();
  await settle();
  strictEqual(scans, 2);
  strictEqual(most, 1);
  stop.abort();
});

Deno.test("settlingRescans: a newer change restarts the settle series; a stop ends it", async () => {
  const clock = new clocks.FakeClock();
  const stop = new AbortController();
  const at: number[] = [];
  const start = clock.now();
  const trigger = observation.settlingRescans(() => {
    at.push(clock.now() - start);
    return Promise.resolve();
  }, { clock, signal: stop.signal, settleMs: [1_000, 3_000] });
  trigger();
  await settle();
  clock.advance(1_000); // the 1 s rescan runs
  await settle();
  clock.advance(1_000);
  await settle();
  trigger(); // at 2 s: the 3 s rescan of the first series is dropped
  await settle();
  clock.advance(1_000);
  await settle();
  stop.abort();
  await settle();
  strictEqual(clock.nextWakeAt, undefined);
  deepStrictEqual(at, [0, 1_000, 2_000, 3_000]);
});
