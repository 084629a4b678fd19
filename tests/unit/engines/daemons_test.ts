// The daemons and timers engine on fake time: spawning and stopping by filters, deletion and the
// stop protocol (backoff, cancellation, abandonment), exits and restarts, timers by interval,
// sharp grid and idle time, errors and retries, the pause and the exit.

import { deepEqual, equal, ok } from "node:assert/strict";
import { FakeClock } from "../../../lib/async/clock.ts";
import { Scheduler } from "../../../lib/async/scheduling.ts";
import { ToggleSet } from "../../../lib/async/toggles.ts";
import * as daemons from "../../../lib/engines/daemons.ts";
import * as errors from "../../../lib/handling/errors.ts";
import type * as contextTypes from "../../../lib/registry/contexts.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as spawning from "../../../lib/registry/spawning.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";
import { kopfexamples } from "../../_fixtures/cycles.ts";
import { recordingLogger } from "../../_fixtures/loggers.ts";

const R = "kopfexamples.v1.kopf.dev";
const DELETED_AT = "2026-01-01T00:00:00Z";
type Body = contextTypes.Body;

/** Lets every pending promise reaction and zero-time task run (no time passes). */
async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Flushes until `condition` holds, failing after a bounded number of turns. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await flush();
  ok(condition(), `Timed out waiting for ${what}`);
}

function body(spec: Record<string, unknown> = {}, extra: Partial<Body["metadata"]> = {}): Body {
  return {
    apiVersion: "kopf.dev/v1",
    kind: "KopfExample",
    metadata: { name: "obj", namespace: "ns", uid: "uid-1", ...extra },
    spec,
  };
}

function harness(register: (registry: registries.OperatorRegistry) => void) {
  const clock = new FakeClock(0);
  const registry = new registries.OperatorRegistry();
  register(registry);
  const settings = operatorSettings.defaultSettings();
  const scheduler = new Scheduler({ clock });
  const patched: Record<string, unknown>[] = [];
  const woken: Body[] = [];
  const paused = new ToggleSet();
  const pause = paused.make(false, "test");
  const exit = new AbortController();
  const logger = recordingLogger();
  const engine = new daemons.Daemons({
    resource: kopfexamples,
    registry,
    settings,
    clock,
    scheduler,
    paused,
    signal: exit.signal,
    patch: (_body, patch) => {
      patched.push(patch.toMergePatch());
      return Promise.resolve();
    },
    wake: (b) => woken.push(b),
  });
  const memo = {};
  return {
    clock,
    engine,
    settings,
    patched,
    woken,
    pause,
    exit,
    logger,
    process: (b: Body, type: contextTypes.RawEvent["type"] = "MODIFIED") =>
      engine.process({ body: b, type, logger, memo }),
    /** Moves fake time forward in steps, letting what wakes run in between. */
    async advance(ms: number, step = 100): Promise<void> {
      await flush();
      for (let passed = 0; passed < ms; passed += step) {
        clock.advance(Math.min(step, ms - passed));
        await flush();
      }
    },
  };
}

Deno.test("a daemon is spawned once per object, and the object needs the finalizer", async () => {
  let calls = 0;
  const h = harness((registry) => {
    spawning.daemon(R, { registry }, async function monitor({ stopped }) {
      calls++;
      await stopped.wait();
    });
  });
  const first = await h.process(body(), undefined);
  deepEqual(first, { requiresFinalizer: true, delays: [] });
  await h.process(body({ x: 1 }));
  await h.process(body({ x: 2 }));
  await until(() => calls === 1, "the daemon to start");
  await flush();
  equal(calls, 1);
  equal(h.engine.running, 1);
  await h.engine.close();
  equal(h.engine.running, 0);
});

Deno.test("a daemon stops when its filters stop matching and is respawned when they match again", async () => {
  const runs: string[] = [];
  const h = harness((registry) => {
    spawning.daemon(
      R,
      { registry, labels: { run: "yes" } },
      async function monitor({ stopped }) {
        runs.push("start");
        await stopped.wait();
        runs.push(`stop: ${stopped.reason}`);
      },
    );
  });
  const matching = body({}, { labels: { run: "yes" } });
  deepEqual((await h.process(matching)).requiresFinalizer, true);
  await until(() => runs.length === 1, "the daemon to start");
  const other = body({}, { labels: { run: "no" } });
  deepEqual(await h.process(other), { requiresFinalizer: false, delays: [] });
  await until(() => runs.length === 2, "the daemon to stop");
  await h.process(matching);
  await until(() => runs.length === 3, "the daemon to start again");
  deepEqual(runs, ["start", "stop: filters mismatch", "start"]);
  await h.engine.close();
});

Deno.test("a deleted object's daemons stop first; with all gone at once, the finalizer may go", async () => {
  let reason: string | undefined;
  const h = harness((registry) => {
    spawning.daemon(R, { registry }, async function monitor({ stopped }) {
      while (!stopped.aborted) await stopped.wait(1);
      reason = stopped.reason;
    });
  });
  await h.process(body());
  await h.advance(2500);
  const deleting = body({}, { deletionTimestamp: DELETED_AT });
  const result = await h.process(deleting);
  deepEqual(result.delays, [], "the daemon exited within the instant-exit turns");
  equal(reason, "deleted");
  equal(h.engine.running, 0);
  const gone = await h.process(deleting, "DELETED");
  deepEqual(gone, { requiresFinalizer: false, delays: [] });
});

Deno.test("a daemon that ignores its stop is cancelled after the backoff and abandoned after the timeout, once", async () => {
  let cancelledAt: number | undefined;
  const h = harness((registry) => {
    spawning.daemon(
      R,
      { registry, cancellationBackoff: 5, cancellationTimeout: 10 },
      function stubborn({ signal }) {
        signal.addEventListener("abort", () => cancelledAt = h.clock.now());
        return new Promise(() => {}); // never ends
      },
    );
  });
  await h.process(body());
  await flush();
  const deleting = body({}, { deletionTimestamp: DELETED_AT });
  const first = await h.process(deleting);
  deepEqual(first.delays, [5], "checked again when the backoff ends");
  equal(first.requiresFinalizer, true);
  await h.advance(5000);
  equal(cancelledAt, 5000, "the signal aborts after the backoff");
  const second = await h.process(deleting);
  deepEqual(second.delays, [10], "checked again when the timeout ends");
  equal(h.woken.length, 0);
  await h.advance(10_000);
  const warnings = h.logger.messages("warning");
  deepEqual(warnings, [
    "Daemon 'stubborn' did not exit in time (cancellationTimeout 10 s); leaving it orphaned",
  ]);
  equal(h.woken.length, 1, "the object is processed again to release the finalizer");
  const third = await h.process(deleting);
  deepEqual(third.delays, []);
  await h.process(deleting);
  equal(h.logger.messages("warning").length, 1, "abandonment is logged once");
  await h.engine.close(); // does not wait for the abandoned daemon
});

Deno.test("a daemon without a cancellation timeout is waited for, polled as settings say", async () => {
  let release: () => void = () => {};
  const h = harness((registry) => {
    spawning.daemon(R, { registry }, function slow() {
      return new Promise<void>((resolve) => release = resolve);
    });
  });
  h.settings.background.cancellationPollingSeconds = 7;
  await h.process(body());
  await flush();
  const deleting = body({}, { deletionTimestamp: DELETED_AT });
  deepEqual((await h.process(deleting)).delays, [7]);
  await h.advance(60_000, 1000);
  deepEqual((await h.process(deleting)).delays, [7], "never abandoned");
  release();
  await until(() => h.woken.length === 1, "a wake-up once it exits");
  deepEqual((await h.process(deleting)).delays, []);
});

Deno.test("a daemon that returns is not restarted for that object; the finalizer is no longer needed", async () => {
  let calls = 0;
  const h = harness((registry) => {
    spawning.daemon(R, { registry }, function once() {
      calls++;
      return { done: true };
    });
  });
  await h.process(body());
  await until(() => h.engine.running === 0, "the daemon to exit");
  deepEqual(h.patched, [{ status: { once: { done: true } } }], "its result goes to status");
  deepEqual(await h.process(body({ changed: true })), { requiresFinalizer: false, delays: [] });
  await flush();
  equal(calls, 1);
});

Deno.test("a TemporaryError restarts a daemon after its delay; a PermanentError stops it for good", async () => {
  const calls: number[] = [];
  const h = harness((registry) => {
    spawning.daemon(R, { registry }, function flaky({ retry }) {
      calls.push(h.clock.now());
      if (retry < 2) throw new errors.TemporaryError("not yet", { delay: 3 });
      throw new errors.PermanentError("no more");
    });
  });
  await h.process(body());
  await h.advance(10_000);
  deepEqual(calls, [0, 3000, 6000]);
  equal(h.engine.running, 0);
  equal((await h.process(body({ x: 1 }))).requiresFinalizer, false);
});

Deno.test("a daemon's context reads the object as the watch sees it now", async () => {
  const seen: unknown[] = [];
  const h = harness((registry) => {
    spawning.daemon(R, { registry }, async function watcher({ spec, stopped, body: first }) {
      seen.push(spec.size);
      await stopped.wait(1);
      seen.push((first as Body).spec?.size);
    });
  });
  await h.process(body({ size: 1 }));
  await flush();
  await h.process(body({ size: 2 }));
  await h.advance(1000);
  deepEqual(seen, [1, 1], "destructured fields are taken once");

  const live: unknown[] = [];
  const g = harness((registry) => {
    spawning.daemon(R, { registry }, async function watcher(context) {
      live.push(context.spec.size);
      await context.stopped.wait(1);
      live.push(context.spec.size, context.body.spec?.size);
    });
  });
  await g.process(body({ size: 1 }));
  await flush();
  await g.process(body({ size: 2 }));
  await g.advance(1000);
  deepEqual(live, [1, 2, 2], "fields read through the context are live");
});

Deno.test("a timer calls every interval, from the end of one call to the start of the next", async () => {
  const starts: number[] = [];
  const h = harness((registry) => {
    spawning.timer(R, { registry, interval: 10 }, async function tick({ stopped, patch }) {
      starts.push(h.clock.now());
      await stopped.wait(2); // a call that takes 2 s
      patch.status.ticks = starts.length;
    });
  });
  await h.process(body());
  await h.advance(40_000, 500);
  deepEqual(starts, [0, 12_000, 24_000, 36_000]);
  deepEqual(h.patched.at(-1), { status: { ticks: 4 } }, "the patch is applied after each call");
  await h.engine.close();
});

Deno.test("a sharp timer keeps the grid of its first call however long its calls take", async () => {
  const starts: number[] = [];
  const h = harness((registry) => {
    spawning.timer(R, { registry, interval: 10, sharp: true }, async function tick({ stopped }) {
      starts.push(h.clock.now());
      await stopped.wait(starts.length === 2 ? 23 : 3); // the second call overruns two ticks
    });
  });
  await h.advance(700, 700);
  await h.process(body());
  await h.advance(60_000, 100);
  deepEqual(starts, [700, 10_700, 40_700, 50_700, 60_700]);
  await h.engine.close();
});

Deno.test("an idle timer waits for quiet: spec changes push it out, status changes do not", async () => {
  const calls: number[] = [];
  const h = harness((registry) => {
    spawning.timer(R, { registry, idle: 3 }, function quiet() {
      calls.push(h.clock.now());
    });
  });
  await h.process(body({ v: 1 }));
  await h.advance(2000);
  await h.process(body({ v: 2 })); // at 2 s: pushed out to 5 s
  await h.advance(2000);
  await h.process({ ...body({ v: 2 }), status: { phase: "x" } }); // at 4 s: not essential
  await h.advance(2000);
  deepEqual(calls, [5000]);
  await h.advance(10_000);
  deepEqual(calls, [5000], "idle-only: once per quiet period");
  await h.process(body({ v: 3 })); // at 16 s
  await h.advance(5000);
  deepEqual(calls, [5000, 19_000]);
  await h.engine.close();
});

Deno.test("a timer's errors: the retry delay replaces the interval; retries count anew after a success", async () => {
  const calls: [number, number][] = [];
  let failures = 2;
  const h = harness((registry) => {
    spawning.timer(R, { registry, interval: 60, backoff: 5 }, function check({ retry }) {
      calls.push([h.clock.now(), retry]);
      if (failures-- > 0) throw new Error("flaky");
    });
  });
  await h.process(body());
  await h.advance(80_000, 1000);
  deepEqual(calls, [[0, 0], [5000, 1], [10_000, 2], [70_000, 0]]);
  await h.engine.close();
});

Deno.test("a timer with initialDelay waits before its first call", async () => {
  const calls: number[] = [];
  const h = harness((registry) => {
    spawning.timer(R, { registry, interval: 10, initialDelay: 4 }, function later() {
      calls.push(h.clock.now());
    });
  });
  await h.process(body());
  await h.advance(15_000);
  deepEqual(calls, [4000, 14_000]);
  await h.engine.close();
});

Deno.test("a pause stops everything with 'operator paused'; the resume respawns from memory", async () => {
  const events: string[] = [];
  const ticks: number[] = [];
  const h = harness((registry) => {
    spawning.daemon(R, { registry }, async function monitor({ stopped }) {
      events.push("start");
      await stopped.wait();
      events.push(`stop: ${stopped.reason}`);
    });
    spawning.timer(R, { registry, interval: 1 }, function tick() {
      ticks.push(h.clock.now());
    });
  });
  await h.process(body());
  await h.advance(2000);
  equal(ticks.length, 3);
  h.pause.set(true);
  await until(() => events.length === 2, "the daemon to stop");
  h.engine.resume(); // still paused: nothing happens
  await h.advance(5000);
  equal(ticks.length, 3, "no tick while paused");
  deepEqual(events, ["start", "stop: operator paused"]);
  h.pause.set(false);
  h.engine.resume();
  await until(() => events.length === 3, "the daemon to start again");
  await h.advance(1000);
  deepEqual(events, ["start", "stop: operator paused", "start"]);
  equal(ticks.length, 5, "the timer ticks again at once and then every second");
  await h.engine.close();
});

Deno.test("an object with a pending event is left to that event by the resume", async () => {
  let starts = 0;
  const h = harness((registry) => {
    spawning.daemon(R, { registry }, async function monitor({ stopped }) {
      starts++;
      await stopped.wait();
    });
  });
  await h.process(body());
  await until(() => starts === 1, "the start");
  h.pause.set(true);
  await until(() => h.engine.running === 0, "the stop");
  h.pause.set(false);
  h.engine.resume(() => true);
  await flush();
  equal(starts, 1);
  await h.process(body({ changed: true }));
  await until(() => starts === 2, "the event to respawn it");
  await h.engine.close();
});

Deno.test("the exit stops everything with 'operator exiting' and waits for it", async () => {
  const reasons: string[] = [];
  const h = harness((registry) => {
    spawning.daemon(R, { registry }, async function monitor({ stopped }) {
      await stopped.wait();
      await h.clock.sleep(1000); // some cleanup that takes a second
      reasons.push(`${stopped.reason}`);
    });
  });
  await h.process(body());
  await flush();
  let closed = false;
  const closing = h.engine.close().then(() => closed = true);
  await flush();
  equal(closed, false);
  await h.advance(1000);
  await closing;
  deepEqual(reasons, ["operator exiting"]);
  await h.process(body({ later: true }));
  equal(h.engine.running, 0, "nothing is spawned after the exit");
});

Deno.test("the exit lets stuck daemons go when the operator's signal aborts", async () => {
  const h = harness((registry) => {
    spawning.daemon(R, { registry }, function stuck() {
      return new Promise(() => {});
    });
  });
  await h.process(body());
  await flush();
  const closing = h.engine.close();
  h.exit.abort(new Error("exit timeout"));
  await closing;
  await until(() => h.engine.running === 0, "the daemon to be let go");
});

Deno.test("10,000 objects' timers wait in one scheduler: one clock sleep, every tick on time", async () => {
  const ticks = new Map<string, number[]>();
  const h = harness((registry) => {
    spawning.timer(R, { registry, interval: 10 }, function tick({ name }) {
      const list = ticks.get(name) ?? [];
      list.push(h.clock.now());
      ticks.set(name, list);
    });
  });
  const began = performance.now();
  for (let i = 0; i < 10_000; i++) {
    await h.process(body({}, { name: `o${i}`, uid: `u${i}` }), undefined);
  }
  await flush();
  equal(ticks.size, 10_000);
  equal(h.clock.sleepers, 1, "one clock sleep for all the timers");
  await h.advance(30_000, 10_000);
  ok([...ticks.values()].every((list) => list.length === 4 && list[3] === 30_000));
  const took = performance.now() - began;
  console.log(`10,000 timers × 4 ticks on fake time: ${took.toFixed(0)} ms`);
  await h.engine.close();
});
