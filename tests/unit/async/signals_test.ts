import { equal, ok } from "node:assert/strict";
import { linkedSignal } from "../../../lib/async/signals.ts";

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
