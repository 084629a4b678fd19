import { deepEqual, equal } from "node:assert/strict";
import * as clocks from "../../../lib/async/clock.ts";
import * as queueing from "../../../lib/reactor/queueing.ts";

type Body = { uid: string; v: number };

function queueOf(
  process: (event: queueing.ObjectEvent<Body>) => Promise<queueing.Processed>,
  workerLimit = 1,
) {
  return new queueing.ObjectQueue<Body, Record<string, never>>({
    workerLimit,
    clock: new clocks.FakeClock(),
    keyOf: (b) => b.uid,
    newMemory: () => ({}),
    process: (_slot, event) => process(event),
    onError: () => {},
    errorDelaysSeconds: [1],
  });
}

Deno.test("objects are taken in arrival order, also past thousands waiting", async () => {
  const order: string[] = [];
  const all = Promise.withResolvers<void>();
  const uids = Array.from({ length: 5000 }, (_, i) => `u${i}`);
  const queue = queueOf(async (event) => {
    await Promise.resolve(); // real work awaits: the workers interleave
    order.push(event.object.uid);
    if (order.length === uids.length) all.resolve();
    return {};
  }, 3);
  for (const uid of uids) queue.push({ type: "ADDED", object: { uid, v: 1 } });
  await all.promise;
  deepEqual(order, uids);
  await queue.close();
});

Deno.test("workers are bounded, each object is serial, and waiting events coalesce", async () => {
  let active = 0;
  let most = 0;
  const seen: string[] = [];
  const gates = new Map<string, () => void>();
  const queue = queueOf(async (event) => {
    active++;
    most = Math.max(most, active);
    seen.push(`${event.object.uid}@${event.object.v}`);
    await new Promise<void>((resolve) =>
      gates.set(`${event.object.uid}@${event.object.v}`, resolve)
    );
    active--;
    return {};
  }, 2);
  for (const uid of ["a", "b", "c"]) queue.push({ type: "ADDED", object: { uid, v: 1 } });
  queue.push({ type: "MODIFIED", object: { uid: "a", v: 2 } });
  queue.push({ type: "MODIFIED", object: { uid: "a", v: 3 } }); // replaces v2 while a@1 runs
  await Promise.resolve();
  deepEqual(seen, ["a@1", "b@1"]);
  const release = async (key: string) => {
    for (let i = 0; i < 10 && !gates.has(key); i++) await Promise.resolve();
    gates.get(key)!();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  await release("a@1");
  await release("b@1");
  await release("a@3");
  await release("c@1");
  deepEqual(seen, ["a@1", "b@1", "a@3", "c@1"]);
  equal(most, 2);
  await queue.close();
});

Deno.test("a held queue starts nothing, coalesces what arrives, and processes it on release", async () => {
  const seen: string[] = [];
  const done = Promise.withResolvers<void>();
  const queue = queueOf((event) => {
    seen.push(`${event.object.uid}@${event.object.v}`);
    if (seen.length === 2) done.resolve();
    return Promise.resolve({});
  }, 5);
  queue.hold();
  equal(queue.held, true);
  queue.push({ type: "ADDED", object: { uid: "a", v: 1 } });
  queue.push({ type: "MODIFIED", object: { uid: "a", v: 2 } }); // the newer state replaces it
  queue.push({ type: "ADDED", object: { uid: "b", v: 1 } });
  for (let i = 0; i < 10; i++) await Promise.resolve();
  deepEqual(seen, [], "nothing runs while held");
  equal(queue.active, 0);
  queue.release();
  await done.promise;
  deepEqual(seen, ["a@2", "b@1"]);
  await queue.close();
});
