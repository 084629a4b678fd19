import { equal } from "node:assert/strict";
import * as ids from "../../../lib/registry/ids.ts";

function reconcile() {}

Deno.test("handlerId() uses the explicit id, else the function's name", () => {
  equal(ids.handlerId(reconcile, "create"), "reconcile");
  equal(ids.handlerId(reconcile, "create", { id: "custom" }), "custom");
  const named = () => {};
  equal(ids.handlerId(named, "update"), "named");
});

Deno.test("handlerId() suffixes field handlers with the dotted field, also after an explicit id", () => {
  equal(
    ids.handlerId(reconcile, "field", { field: ["spec", "replicas"] }),
    "reconcile/spec.replicas",
  );
  equal(ids.handlerId(reconcile, "update", { id: "x", field: ["spec", "a"] }), "x/spec.a");
  equal(
    ids.handlerId(reconcile, "event", { field: ["metadata", "labels", "app"] }),
    "reconcile/metadata.labels.app",
  );
  equal(ids.handlerId(reconcile, "field", { field: [] }), "reconcile");
});

Deno.test("handlerId() prefixes sub-handlers with the parent's id and gives them no field suffix", () => {
  equal(ids.handlerId(reconcile, "sub", { parent: "create_fn" }), "create_fn/reconcile");
  equal(ids.handlerId(reconcile, "sub", { parent: "create_fn", id: "task1" }), "create_fn/task1");
  equal(ids.handlerId(reconcile, "sub", { parent: "a/b", field: ["spec", "x"] }), "a/b/reconcile");
});

Deno.test("handlerId() names anonymous functions after the handler kind, with the field suffix", () => {
  equal(ids.handlerId(() => {}, "create"), "on.create");
  equal(ids.handlerId(() => {}, "update", { field: ["spec", "x"] }), "on.update/spec.x");
  equal(ids.handlerId(() => {}, "field", { field: ["spec", "x"] }), "on.field/spec.x");
  equal(ids.handlerId(() => {}, "event"), "on.event");
  equal(ids.handlerId(() => {}, "sub", { parent: "p" }), "p/subhandler");
  equal(ids.isAnonymous(() => {}), true);
  equal(ids.isAnonymous(() => {}, { id: "given" }), false);
  equal(ids.isAnonymous(reconcile), false);
});

Deno.test("handlerId() names a bound function after its target", () => {
  const target = { reconcile };
  equal(ids.handlerId(target.reconcile.bind(target), "create"), "reconcile");
  equal(ids.handlerId(reconcile.bind(null).bind(null), "create"), "reconcile");
});
