// Processing of one object, cycle by cycle, with the requests each cycle sends: the scenarios
// of Kopf's API-call profile (kopf-features.md §2.2) and the rules around them.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as errors from "../../../lib/handling/errors.ts";
import * as registering from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import { kopfexamples, Simulator } from "../../_fixtures/cycles.ts";

const R = "kopfexamples.v1.kopf.dev";
type Json = Record<string, unknown>;

function annotations(sim: Simulator): Record<string, string> {
  return ((sim.body?.metadata as Json).annotations ?? {}) as Record<string, string>;
}

Deno.test("A: one create handler with a result costs one cycle: a merge of the object and one of /status", async () => {
  const registry = new registries.OperatorRegistry();
  registering.create(R, { registry }, function create_fn() {
    return { message: "hello" };
  });
  const sim = new Simulator(registry);
  const first = await sim.cycle();
  equal(first.result.cause, "create");
  deepEqual(first.sent, ["merge /status", "merge"]);
  deepEqual((sim.body!.status as Json).create_fn, { message: "hello" });
  equal(
    annotations(sim)["kopf.zalando.org/last-handled-configuration"],
    '{"spec":{"field":"value"}}\n',
  );
  ok(
    !Object.keys(annotations(sim)).some((k) => k.endsWith("create_fn")),
    "no progress record is left",
  );
  equal(await sim.settle(), 1); // the echo is a no-op
  deepEqual(sim.sent, ["merge /status", "merge"]);
});

Deno.test("A: without a result, or without a status subresource, creation costs one request", async () => {
  const registry = new registries.OperatorRegistry();
  registering.create(R, { registry }, function create_fn() {});
  const sim = new Simulator(registry);
  await sim.settle();
  deepEqual(sim.sent, ["merge"]);

  const withResult = new registries.OperatorRegistry();
  registering.create(R, { registry: withResult }, function create_fn() {
    return { ok: true };
  });
  const plain = new Simulator(withResult, undefined, {
    resource: { ...kopfexamples, subresources: [] },
  });
  await plain.settle();
  deepEqual(plain.sent, ["merge"]);
  deepEqual((plain.body!.status as Json).create_fn, { ok: true });
});

Deno.test("C: three create handlers that succeed at once cost one cycle and the same two requests", async () => {
  const registry = new registries.OperatorRegistry();
  const calls: string[] = [];
  for (const id of ["a", "b", "c"]) {
    registering.create(R, { registry, id }, () => {
      calls.push(id);
      return { done: id };
    });
  }
  const sim = new Simulator(registry);
  const first = await sim.cycle();
  deepEqual(first.sent, ["merge /status", "merge"]);
  deepEqual(calls, ["a", "b", "c"]);
  deepEqual(Object.keys(sim.body!.status as Json), ["a", "b", "c"]);
  equal(await sim.settle(), 1);
  deepEqual(calls, ["a", "b", "c"], "no handler runs twice");
});

Deno.test("C with Kopf's asap lifecycle: one handler per cycle, as Kopf does", async () => {
  const registry = new registries.OperatorRegistry();
  for (const id of ["a", "b", "c"]) registering.create(R, { registry, id }, () => ({ id }));
  const sim = new Simulator(registry);
  sim.settings.execution.lifecycle = "asap";
  await sim.settle();
  equal(sim.sent.filter((s) => s === "merge").length, 3);
  equal(sim.sent.filter((s) => s === "merge /status").length, 3);
});

Deno.test("B: a delete handler adds the finalizer in a dedicated cycle, then blocks deletion until done", async () => {
  const registry = new registries.OperatorRegistry();
  const calls: string[] = [];
  registering.create(R, { registry }, function create_fn() {
    calls.push("create");
    return { created: true };
  });
  registering.delete(R, { registry }, function delete_fn() {
    calls.push("delete");
  });
  const sim = new Simulator(registry);
  const first = await sim.cycle();
  deepEqual(first.sent, ["json"]);
  deepEqual(calls, [], "no handler runs before the finalizer protects the object");
  deepEqual((sim.body!.metadata as Json).finalizers, ["kopf.zalando.org/KopfFinalizerMarker"]);
  await sim.settle();
  deepEqual(sim.sent, ["json", "merge /status", "merge"]);
  deepEqual(calls, ["create"]);

  sim.delete();
  const deletion = sim.cycles.length;
  await sim.settle();
  deepEqual(calls, ["create", "delete"]);
  deepEqual(sim.cycles.slice(deletion).flatMap((c) => c.sent), ["json"]);
  equal(sim.body, undefined, "the object is gone once the finalizer is released");
});

Deno.test("D: a TemporaryError retries after its delay without a touch write; progress survives in between", async () => {
  const registry = new registries.OperatorRegistry();
  let attempts = 0;
  registering.create(R, { registry }, function create_fn({ retry }: { retry: number }) {
    attempts++;
    if (retry === 0) throw new errors.TemporaryError("not yet", { delay: 30 });
    return { attempts };
  });
  const sim = new Simulator(registry);
  const first = await sim.cycle();
  deepEqual(first.sent, ["merge"]);
  equal(first.result.delay, 30);
  const record = JSON.parse(annotations(sim)["kopf.zalando.org/create_fn"]!);
  deepEqual([record.retries, record.success, record.message], [1, false, "not yet"]);
  await sim.cycle(); // the echo of our own write: the handler sleeps
  equal(attempts, 1);
  await sim.settle();
  equal(attempts, 2);
  deepEqual(sim.sent, ["merge", "merge /status", "merge"]);
  ok(!("kopf.zalando.org/create_fn" in annotations(sim)), "the record is purged when done");
});

Deno.test("E: an update handler runs for a spec change and sees the diff", async () => {
  const registry = new registries.OperatorRegistry();
  const seen: unknown[] = [];
  registering.create(R, { registry }, function create_fn() {});
  registering.update(R, { registry }, function update_fn({ diff }: { diff: unknown }) {
    seen.push(diff);
    return { updated: true };
  });
  const sim = new Simulator(registry);
  await sim.settle();
  const before = sim.sent.length;
  sim.change((b) => ((b.spec as Json).field = "other"));
  const cycle = await sim.cycle();
  equal(cycle.result.cause, "update");
  deepEqual(cycle.sent, ["merge /status", "merge"]);
  deepEqual(seen, [[["change", ["spec", "field"], "value", "other"]]]);
  await sim.settle();
  equal(sim.sent.length, before + 2);
});

Deno.test("E2 and F: an essential change without a handler costs one merge; a status change costs nothing", async () => {
  const registry = new registries.OperatorRegistry();
  registering.create(R, { registry }, function create_fn() {});
  const sim = new Simulator(registry);
  await sim.settle();
  sim.change((b) => ((b.spec as Json).field = "other"));
  deepEqual((await sim.cycle()).sent, ["merge"]);
  sim.change((b) => (b.status = { phase: "Running" }));
  const statusOnly = await sim.cycle();
  equal(statusOnly.result.cause, "noop");
  deepEqual(statusOnly.sent, []);
});

Deno.test("I: resume handlers run once for listed objects, and nothing is written when they return nothing", async () => {
  const registry = new registries.OperatorRegistry();
  const calls: string[] = [];
  registering.create(R, { registry }, function create_fn() {
    calls.push("create");
  });
  registering.resume(R, { registry }, function resume_fn() {
    calls.push("resume");
  });
  const handled = new Simulator(registry);
  await handled.settle();
  // A new process lists the already handled object.
  const restarted = new Simulator(registry, handled.body, { listed: true });
  const cycle = await restarted.cycle();
  equal(cycle.result.cause, "resume");
  deepEqual(cycle.sent, []);
  deepEqual(calls, ["create", "resume"]);
  restarted.change((b) => ((b.metadata as Json).labels = { touched: "yes" }));
  await restarted.settle();
  deepEqual(calls, ["create", "resume"], "resume handlers run once per process");
});

Deno.test("a field handler sees field-relative old, new and diff, and runs only when its field changes", async () => {
  const registry = new registries.OperatorRegistry();
  const seen: unknown[] = [];
  registering.create(R, { registry }, function create_fn() {});
  registering.field(
    R,
    { registry, field: "spec.field" },
    function field_fn(ctx: { old: unknown; new: unknown; diff: unknown }) {
      seen.push([ctx.old, ctx.new, ctx.diff]);
    },
  );
  const sim = new Simulator(registry, { spec: { field: "a", other: 1 } });
  await sim.settle();
  seen.length = 0;
  sim.change((b) => ((b.spec as Json).other = 2));
  await sim.settle();
  deepEqual(seen, []);
  sim.change((b) => ((b.spec as Json).field = "b"));
  await sim.settle();
  deepEqual(seen, [["a", "b", [["change", [], "a", "b"]]]]);
});

Deno.test("an object that stops matching the filters loses the finalizer; one never matching gets nothing", async () => {
  const registry = new registries.OperatorRegistry();
  registering.delete(R, { registry, labels: { managed: "yes" } }, function delete_fn() {});
  const stealth = new Simulator(registry);
  await stealth.settle();
  deepEqual(stealth.sent, []);
  const sim = new Simulator(registry, { metadata: { labels: { managed: "yes" } }, spec: {} });
  await sim.settle();
  deepEqual((sim.body!.metadata as Json).finalizers, ["kopf.zalando.org/KopfFinalizerMarker"]);
  sim.change((b) => ((b.metadata as Json).labels = { managed: "no" }));
  await sim.settle();
  deepEqual((sim.body!.metadata as Json).finalizers ?? [], []);
});

Deno.test("a permanently failing delete handler still releases the finalizer (Kopf's rule)", async () => {
  const registry = new registries.OperatorRegistry();
  registering.delete(R, { registry }, function delete_fn() {
    throw new errors.PermanentError("cannot clean up");
  });
  const sim = new Simulator(registry);
  await sim.settle();
  sim.delete();
  await sim.settle();
  equal(sim.body, undefined);
  ok(
    sim.logger.messages("error").includes(
      "Handler 'delete_fn' failed permanently: cannot clean up",
    ),
  );
});

Deno.test("changing handlers wait while our last write has not come back (consistency)", async () => {
  const registry = new registries.OperatorRegistry();
  let calls = 0;
  registering.create(R, { registry }, function create_fn() {
    calls++;
  });
  const sim = new Simulator(registry);
  const stale = await sim.cycle({ consistent: false });
  equal(stale.result.postponed, true);
  deepEqual(stale.sent, []);
  equal(calls, 0);
  await sim.settle();
  equal(calls, 1);
});

Deno.test("sub-handlers run with parent/child ids, and the parent is done only when they are", async () => {
  const registry = new registries.OperatorRegistry();
  let flaky = 0;
  registering.create(R, { registry }, function create_fn() {
    registering.subhandler(function first() {
      return { first: true };
    });
    registering.subhandler(function second() {
      if (flaky++ === 0) throw new errors.TemporaryError("wait", { delay: 5 });
    });
  });
  const sim = new Simulator(registry);
  const first = await sim.cycle();
  const keys = Object.keys(annotations(sim));
  ok(keys.includes("kopf.zalando.org/create_fn.second"), keys.join(", "));
  ok(keys.includes("kopf.zalando.org/create_fn"), "the parent waits for its children");
  equal(first.result.delay, 5);
  await sim.settle();
  deepEqual(
    Object.keys(annotations(sim)).filter((k) =>
      k !== "kopf.zalando.org/last-handled-configuration"
    ),
    [],
  );
  deepEqual((sim.body!.status as Json)["create_fn/first"], { first: true });
  equal(flaky, 2);
});

Deno.test("on.event handlers see every event with its type, and their errors are ignored", async () => {
  const registry = new registries.OperatorRegistry();
  const types: unknown[] = [];
  registering.event(R, { registry }, function watch_fn({ type }: { type: unknown }) {
    types.push(type);
    throw new Error("ignored");
  });
  const sim = new Simulator(registry);
  await sim.cycle();
  sim.change((b) => (b.spec = { x: 1 }));
  await sim.cycle();
  deepEqual(types, ["ADDED", "MODIFIED"]);
  deepEqual(sim.sent, []);
});

Deno.test("I: a restart over handled objects without resume handlers writes nothing", async () => {
  const registry = new registries.OperatorRegistry();
  registering.create(R, { registry }, function create_fn() {
    return { done: true };
  });
  const handled = new Simulator(registry);
  await handled.settle();
  const restarted = new Simulator(registry, handled.body, { listed: true });
  const cycle = await restarted.cycle();
  equal(cycle.result.cause, "resume"); // as in Kopf: a resume cause with no handler to run
  deepEqual(restarted.sent, []);
});

Deno.test("D: every extra retry costs one write (its progress record), not two", async () => {
  const registry = new registries.OperatorRegistry();
  registering.create(R, { registry }, function create_fn({ retry }: { retry: number }) {
    if (retry < 3) throw new errors.TemporaryError("not yet", { delay: 10 });
  });
  const sim = new Simulator(registry);
  await sim.settle();
  deepEqual(sim.sent, ["merge", "merge", "merge", "merge"]);
});

Deno.test("adopt() inside a handler takes the handled object as the owner by default", async () => {
  const { adopt } = await import("../../../lib/kits/hierarchies.ts");
  const registry = new registries.OperatorRegistry();
  let child: Record<string, unknown> = {};
  registering.create(R, { registry }, function create_fn() {
    child = adopt({ apiVersion: "v1", kind: "ConfigMap", metadata: {} }) as Record<string, unknown>;
  });
  const sim = new Simulator(registry);
  await sim.settle();
  const meta = child.metadata as Json;
  equal(meta.namespace, "default");
  deepEqual((meta.ownerReferences as Json[])[0]!.uid, "uid-1");
});

Deno.test("execute() declares sub-handlers imperatively under parent/key ids", async () => {
  const registry = new registries.OperatorRegistry();
  registering.create(R, { registry }, async function create_fn() {
    await registering.execute({ fns: { one: () => ({ n: 1 }), two: () => ({ n: 2 }) } });
  });
  const sim = new Simulator(registry);
  await sim.settle();
  deepEqual((sim.body!.status as Json)["create_fn/one"], { n: 1 });
  deepEqual((sim.body!.status as Json)["create_fn/two"], { n: 2 });
});
