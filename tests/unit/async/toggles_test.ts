import { deepEqual, doesNotThrow, equal, rejects } from "node:assert/strict";
import { Toggle, ToggleSet } from "../../../lib/async/toggles.ts";

/** A listener that records what it hears. */
function recorder(): { heard: boolean[]; listener: (on: boolean) => void } {
  const heard: boolean[] = [];
  return { heard, listener: (on) => heard.push(on) };
}

/** Whether `promise` has settled by the time already-queued microtasks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await Promise.resolve();
  await Promise.resolve();
  return done;
}

Deno.test("a Toggle starts in its initial state and keeps its name", () => {
  equal(new Toggle().on, false);
  equal(new Toggle().name, "");
  const toggle = new Toggle(true, "peering default@ns1");
  equal(toggle.on, true);
  equal(toggle.name, "peering default@ns1");
});

Deno.test("a Toggle's listeners hear only real flips, in order", () => {
  const toggle = new Toggle();
  const { heard, listener } = recorder();
  toggle.listen(listener);
  toggle.set(false);
  toggle.set(true);
  toggle.set(true);
  toggle.set(false);
  toggle.set(false);
  deepEqual(heard, [true, false]);
});

Deno.test("a Toggle's listener hears nothing once it has unlistened", () => {
  const toggle = new Toggle();
  const { heard, listener } = recorder();
  const unlisten = toggle.listen(listener);
  toggle.set(true);
  unlisten();
  toggle.set(false);
  toggle.set(true);
  deepEqual(heard, [true]);
});

Deno.test("waitFor() resolves at once when the toggle is already in that state", async () => {
  const toggle = new Toggle(true);
  equal(await settled(toggle.waitFor(true)), true);
  equal(await settled(new Toggle(false).waitFor(false)), true);
});

Deno.test("waitFor() resolves only when the toggle flips into that state", async () => {
  const toggle = new Toggle(false);
  const waiting = toggle.waitFor(true);
  equal(await settled(waiting), false);
  toggle.set(false);
  equal(await settled(waiting), false);
  toggle.set(true);
  equal(await settled(waiting), true);
  await waiting;
});

Deno.test("waitFor() rejects with the signal's reason when the signal aborts first", async () => {
  const toggle = new Toggle(false);
  const controller = new AbortController();
  const waiting = toggle.waitFor(true, controller.signal);
  equal(await settled(waiting), false);
  const reason = new Error("operator is stopping");
  controller.abort(reason);
  await rejects(waiting, (error) => error === reason);
  // The abandoned wait no longer reacts: later flips neither throw nor change its outcome.
  doesNotThrow(() => toggle.set(true));
  doesNotThrow(() => toggle.set(false));
  await rejects(waiting, (error) => error === reason);
});

Deno.test("waitFor() rejects with the reason of a signal that is already aborted", async () => {
  const controller = new AbortController();
  controller.abort("too late");
  await rejects(
    new Toggle(false).waitFor(true, controller.signal),
    (error) => error === "too late",
  );
});

Deno.test("waitFor() that has resolved ignores a later abort of its signal", async () => {
  const toggle = new Toggle(false);
  const controller = new AbortController();
  const waiting = toggle.waitFor(true, controller.signal);
  toggle.set(true);
  await waiting;
  doesNotThrow(() => controller.abort("after the fact"));
  await waiting;
});

Deno.test("a ToggleSet is off while empty and on while any member is on", () => {
  const paused = new ToggleSet();
  equal(paused.on, false);
  const a = paused.make(false, "a");
  const b = paused.make(false, "b");
  equal(paused.on, false);
  a.set(true);
  equal(paused.on, true);
  b.set(true);
  a.set(false);
  equal(paused.on, true);
  b.set(false);
  equal(paused.on, false);
});

Deno.test("a ToggleSet with a member made on is on from the start", () => {
  const paused = new ToggleSet();
  paused.make(true, "leader election lost");
  equal(paused.on, true);
  deepEqual(paused.reasons(), ["leader election lost"]);
});

Deno.test("reasons() lists the names of the members that are on, and only those", () => {
  const paused = new ToggleSet();
  const peering = paused.make(false, "peering default@ns1");
  const leader = paused.make(true, "leader election lost");
  const crd = paused.make(false, "peering resource missing");
  deepEqual(paused.reasons(), ["leader election lost"]);
  peering.set(true);
  crd.set(true);
  deepEqual(paused.reasons().toSorted(), [
    "leader election lost",
    "peering default@ns1",
    "peering resource missing",
  ]);
  leader.set(false);
  deepEqual(paused.reasons().toSorted(), ["peering default@ns1", "peering resource missing"]);
});

Deno.test("drop() of the only member that is on turns the union off", () => {
  const paused = new ToggleSet();
  const { heard, listener } = recorder();
  const peering = paused.make(true, "peering");
  paused.make(false, "leader");
  paused.listen(listener);
  paused.drop(peering);
  equal(paused.on, false);
  deepEqual(paused.reasons(), []);
  deepEqual(heard, [false]);
});

Deno.test("a dropped toggle no longer counts towards the union", () => {
  const paused = new ToggleSet();
  const peering = paused.make(false, "peering");
  paused.drop(peering);
  peering.set(true);
  equal(paused.on, false);
  deepEqual(paused.reasons(), []);
});

Deno.test("the listeners of a ToggleSet hear only the flips of the union", () => {
  const paused = new ToggleSet();
  const { heard, listener } = recorder();
  paused.listen(listener);
  const a = paused.make(false, "a");
  const b = paused.make(false, "b");
  a.set(true); // union flips on
  b.set(true); // still on: no flip
  a.set(false); // still on through b: no flip
  deepEqual(heard, [true]);
  b.set(false); // union flips off
  deepEqual(heard, [true, false]);
});

Deno.test("the listeners of a ToggleSet hear the flip caused by adding an 'on' toggle", () => {
  const paused = new ToggleSet();
  const { heard, listener } = recorder();
  paused.listen(listener);
  paused.add(new Toggle(true, "external"));
  equal(paused.on, true);
  deepEqual(heard, [true]);
});

Deno.test("a ToggleSet's listener hears nothing once it has unlistened", () => {
  const paused = new ToggleSet();
  const { heard, listener } = recorder();
  const unlisten = paused.listen(listener);
  const a = paused.make(false, "a");
  a.set(true);
  unlisten();
  a.set(false);
  deepEqual(heard, [true]);
});

Deno.test("add() of a toggle that is already a member changes nothing", () => {
  const paused = new ToggleSet();
  const { heard, listener } = recorder();
  paused.listen(listener);
  const external = new Toggle(false, "external");
  paused.add(external);
  paused.add(external);
  external.set(true);
  paused.add(external);
  deepEqual(paused.reasons(), ["external"]);
  deepEqual(heard, [true]);
  // One drop is enough to remove it: it was never a member twice.
  paused.drop(external);
  equal(paused.on, false);
  external.set(false);
  external.set(true);
  equal(paused.on, false);
  deepEqual(heard, [true, false]);
});

Deno.test("a ToggleSet's waitFor() resolves when the union flips and rejects on abort", async () => {
  const paused = new ToggleSet();
  const a = paused.make(false, "a");
  const b = paused.make(true, "b");
  equal(await settled(paused.waitFor(true)), true);
  const resumed = paused.waitFor(false);
  a.set(true);
  b.set(false);
  equal(await settled(resumed), false);
  a.set(false);
  equal(await settled(resumed), true);

  const controller = new AbortController();
  const pausedAgain = paused.waitFor(true, controller.signal);
  controller.abort("shutting down");
  await rejects(pausedAgain, (error) => error === "shutting down");
  doesNotThrow(() => a.set(true));
});
