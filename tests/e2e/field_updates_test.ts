// Issue 10 on the real control plane: many objects, a field update handler, a plain update
// handler and an old/new-filtered field handler, with field changes in bursts — right after
// creation, and after a status-only change — including old values 0, false, "" and absent.
// Every object's change is handled exactly once, and the results land where Kopf puts them:
// the id of a handler with a field is `<id>/<field>`, so its result is status["grow/spec.size"].

import { deepEqual, equal } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as registering from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as operators from "../_fixtures/operators.ts";

const R = "kopfexamples.v1.kopf.dev";
type Status = Record<string, Record<string, unknown> | undefined>;

/** Per handler id, the `name: old -> new` lines of every invocation. */
function recordingRegistry(calls: Map<string, string[]>) {
  const registry = new registries.OperatorRegistry();
  const note = (id: string, line: string) => calls.set(id, [...(calls.get(id) ?? []), line]);
  registering.create(
    R,
    { registry, id: "created" },
    ({ spec }) => ({ size: spec.size ?? "absent" }),
  );
  registering.update(R, { registry, id: "grow", field: "spec.size" }, (ctx) => {
    note("grow", `${ctx.name}: ${JSON.stringify(ctx.old)} -> ${JSON.stringify(ctx.new)}`);
    // A null in a merge patch would delete the key: absent is said in words.
    return { grown: ctx.new, from: ctx.old ?? "absent" };
  });
  registering.update(R, { registry, id: "any" }, (ctx) => {
    note("any", `${ctx.name}: ${JSON.stringify(ctx.spec.size)}`);
    return { seen: ctx.spec.size };
  });
  registering.field(R, {
    registry,
    id: "risen",
    field: "spec.size",
    old: (value: unknown) => typeof value !== "number" || value < 100,
    new: (value: unknown) => typeof value === "number" && value >= 100,
  }, (ctx) => {
    note("risen", `${ctx.name}: ${JSON.stringify(ctx.old)} -> ${JSON.stringify(ctx.new)}`);
  });
  return registry;
}

Deno.test({
  name: "field update handlers: bursts of field changes on 34 objects are each handled once",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using world = await e2e.world("fields");
    const calls = new Map<string, string[]>();
    const op = await operators.startOperator({
      kubeconfigPath: world.kubeconfigPath,
      registry: recordingRegistry(calls),
      namespace: world.namespace,
    });
    const target = { namespace: world.namespace };
    const patchSpec = (name: string, spec: Record<string, unknown>) =>
      api.patchObject(world.transport, world.resource, name, { spec }, target);
    const statusOf = async (name: string) =>
      ((await api.getObject(world.transport, world.resource, name, target)).status ?? {}) as Status;
    try {
      // o0..o29 with spec.size = i; edge objects whose old value is falsy or absent.
      const edges: Record<string, Record<string, unknown>> = {
        "e-false": { size: false },
        "e-empty": { size: "" },
        "e-absent": { other: 1 },
        "e-null": { size: null },
      };
      const names = Array.from({ length: 30 }, (_, i) => `o${i}`);
      await Promise.all([
        ...names.map((name, i) =>
          api.createObject(world.transport, world.resource, {
            metadata: { name },
            spec: { size: i },
          }, target)
        ),
        ...Object.entries(edges).map(([name, spec]) =>
          api.createObject(world.transport, world.resource, { metadata: { name }, spec }, target)
        ),
      ]);
      // A burst right after creation, racing the create handlers: o20..o29 → 200 + i.
      await Promise.all(names.slice(20).map((name, k) => patchSpec(name, { size: 220 + k })));

      const all = [...names, ...Object.keys(edges)];
      const handledAt = new Map<string, unknown>();
      await op.until(
        () => {
          // The last processed state of each object with nothing left to do.
          for (const name of all) {
            const last = op.processed.findLast((r) => r.event.object.metadata?.name === name);
            const done = last && last.result.requests.length === 0 && !last.result.postponed &&
              last.result.delay === undefined;
            if (done) handledAt.set(name, last.event.object.metadata?.resourceVersion);
            else handledAt.delete(name);
          }
          return handledAt.size === all.length;
        },
        "every object to be created and settled",
        60_000,
      );

      // The burst after creation: each final value was handled, by create or by the updates.
      for (const [k, name] of names.slice(20).entries()) {
        const status = await statusOf(name);
        const created = status.created?.size;
        const grown = status["grow/spec.size"]?.grown;
        equal(created === 220 + k || grown === 220 + k, true, `${name}: ${JSON.stringify(status)}`);
      }

      // A status-only change of o3, then the burst: o0..o9 → 100 + i, edges → 100..103.
      calls.clear();
      await api.patchObject(world.transport, world.resource, "o3", { status: { note: "x" } }, {
        ...target,
        subresource: "status",
      });
      const expected = new Map<string, { from: unknown; to: number }>();
      for (let i = 0; i < 10; i++) expected.set(`o${i}`, { from: i, to: 100 + i });
      for (const [k, [name, spec]] of Object.entries(edges).entries()) {
        expected.set(name, { from: spec.size ?? "absent", to: 100 + k });
      }
      for (const [name, { to }] of expected) await patchSpec(name, { size: to });

      for (const [name, { from, to }] of expected) {
        // Waits for the result itself: a lost update would leave it missing for good.
        const status = await crdFixtures.eventually(
          async () => {
            const status = await statusOf(name);
            return status["grow/spec.size"]?.grown === to && status.any ? status : undefined;
          },
          `${name}'s results for size ${to}`,
          60_000,
        ).catch(async (error) => {
          throw new Error(`${error.message}; status: ${JSON.stringify(await statusOf(name))}`);
        });
        deepEqual(
          status["grow/spec.size"],
          { grown: to, from },
          `${name}: ${JSON.stringify(status)}`,
        );
        deepEqual(status.any, { seen: to }, `${name}'s plain update result`);
        equal(status.grow, undefined, "results go under the handler id, which has the field");
      }
      // Let every object settle again, then count: each handler exactly once per object.
      await op.until(
        () =>
          [...expected.keys()].every((name) => {
            const last = op.processed.findLast((r) => r.event.object.metadata?.name === name);
            return last && last.result.requests.length === 0 && !last.result.postponed;
          }),
        "the updated objects to settle",
        60_000,
      );
      const byObject = (id: string) => (calls.get(id) ?? []).map((l) => l.split(":")[0]).sort();
      const sorted = [...expected.keys()].sort();
      deepEqual(byObject("grow"), sorted, "grow ran once per changed object");
      deepEqual(byObject("any"), sorted, "the plain update handler ran once per changed object");
      deepEqual(byObject("risen"), sorted, "the old/new-filtered field handler ran once each");
      deepEqual(
        (calls.get("grow") ?? []).filter((l) => l.startsWith("o3:") || l.startsWith("e-")).sort(),
        [
          "e-absent: undefined -> 102",
          'e-empty: "" -> 101',
          "e-false: false -> 100",
          "e-null: null -> 103",
          "o3: 3 -> 103",
        ],
      );
    } finally {
      await op.stop();
    }
  },
});
