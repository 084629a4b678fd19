import { equal, ok } from "node:assert/strict";
import { linkedSignal, onAbort } from "../../../lib/async/signals.ts";

Deno.test("linkedSignal aborts with the reason of the parent that aborts", () => {
  const a = new AbortController();
  const b = new AbortController();
  using linked = linkedSignal([a.signal, undefined, b.signal]);
  b.abort("because");
  ok(linked.signal.aborted);
  equal(linked.signal.reason, "because");
  equal(linked.timedOut, false);
});

Deno.test("linkedSignal starts aborted when a parent already is", () => {
  const a = new AbortController();
  a.abort("early");
  using linked = linkedSignal([a.signal], 10);
  equal(linked.signal.reason, "early");
});

Deno.test("linkedSignal times out with a TimeoutError and says so", async () => {
  const parent = new AbortController();
  using linked = linkedSignal([parent.signal], 1);
  await new Promise((resolve) => linked.signal.addEventListener("abort", resolve));
  ok(linked.timedOut);
  equal((linked.signal.reason as DOMException).name, "TimeoutError");
});

Deno.test("a disposed linkedSignal no longer follows its parents nor its timeout", async () => {
  const parent = new AbortController();
  const linked = linkedSignal([parent.signal], 1);
  linked.dispose();
  parent.abort("late");
  await new Promise((resolve) => setTimeout(resolve, 5));
  equal(linked.signal.aborted, false);
  equal(linked.timedOut, false);
});

Deno.test("onAbort calls its callbacks in order with the reason, once, but not those unsubscribed", () => {
  const stop = new AbortController();
  const calls: string[] = [];
  const twice = (reason: unknown) => calls.push(`twice:${reason}`);
  onAbort(stop.signal, (reason) => calls.push(`first:${reason}`));
  const unsubscribe = onAbort(stop.signal, () => calls.push("gone"));
  onAbort(stop.signal, twice);
  onAbort(stop.signal, twice);
  unsubscribe();
  stop.abort("bye");
  stop.abort("again");
  equal(calls.join(" "), "first:bye twice:bye twice:bye");
});

Deno.test("onAbort on a signal that has aborted calls nothing, as addEventListener would not", () => {
  const stop = new AbortController();
  stop.abort("early");
  let called = false;
  const unsubscribe = onAbort(stop.signal, () => called = true);
  unsubscribe();
  equal(called, false);
});

Deno.test("a callback unsubscribed by another during the abort is not called", () => {
  const stop = new AbortController();
  const calls: string[] = [];
  onAbort(stop.signal, () => {
    calls.push("first");
    second();
  });
  const second = onAbort(stop.signal, () => calls.push("second"));
  stop.abort();
  equal(calls.join(" "), "first");
});
