import { deepEqual, equal, throws } from "node:assert/strict";
import * as diffs from "../../../lib/structs/diffs.ts";

Deno.test("diff() of equal states is empty, whatever the key order", () => {
  deepEqual(diffs.diff({ a: 1, b: { c: [1] } }, { b: { c: [1] }, a: 1 }), []);
  deepEqual(diffs.diff(undefined, undefined), []);
  deepEqual(diffs.diff(null, undefined), []);
});

Deno.test("diff() recurses into objects and names each changed field by its path", () => {
  const d = diffs.diff(
    { spec: { a: 1, gone: "x", nested: { b: 1 } } },
    { spec: { a: 2, added: { c: 1 }, nested: { b: 2 } } },
  );
  deepEqual(d, [
    ["add", ["spec", "added"], undefined, { c: 1 }],
    ["remove", ["spec", "gone"], "x", undefined],
    ["change", ["spec", "a"], 1, 2],
    ["change", ["spec", "nested", "b"], 1, 2],
  ]);
});

Deno.test("diff() compares lists whole: one item more is a change of the list", () => {
  deepEqual(diffs.diff({ items: [1, 2] }, { items: [1, 2, 3] }), [
    ["change", ["items"], [1, 2], [1, 2, 3]],
  ]);
});

Deno.test("diff() treats null as missing: null to a value is an add, a value to null a remove", () => {
  deepEqual(diffs.diff({ a: null }, {}), []);
  deepEqual(diffs.diff({ a: null }, { a: 1 }), [["add", ["a"], null, 1]]);
  deepEqual(diffs.diff({ a: 1 }, { a: null }), [["remove", ["a"], 1, null]]);
});

Deno.test("diff() reports a whole object appearing or vanishing as one item at the root", () => {
  deepEqual(diffs.diff(undefined, { spec: { a: 1 } }), [["add", [], undefined, {
    spec: { a: 1 },
  }]]);
  deepEqual(diffs.diff({ spec: {} }, null), [["remove", [], { spec: {} }, null]]);
  deepEqual(diffs.diff("x", "y"), [["change", [], "x", "y"]]);
  deepEqual(diffs.diff({ spec: { a: 1 } }, { spec: "text" }), [
    ["change", ["spec"], { a: 1 }, "text"],
  ]);
});

Deno.test("diff() prefixes the paths with the given base path", () => {
  deepEqual(diffs.diff({ a: 1 }, { a: 2 }, ["spec"]), [["change", ["spec", "a"], 1, 2]]);
});

Deno.test("diffs and their items are frozen", () => {
  const d = diffs.diff({ a: 1 }, { a: 2 });
  equal(Object.isFrozen(d), true);
  equal(Object.isFrozen(d[0]), true);
  equal(Object.isFrozen(d[0]?.[1]), true);
  throws(() => (d as unknown as unknown[]).push(1));
});

Deno.test("reduce() keeps the items inside the field, with paths relative to it", () => {
  const d = diffs.diff({ spec: { a: { b: 1, c: 1 }, x: 1 } }, {
    spec: { a: { b: 2, c: 1 }, x: 2 },
  });
  deepEqual(diffs.reduce(d, "spec.a"), [["change", ["b"], 1, 2]]);
  deepEqual(diffs.reduce(d, ["spec", "a", "b"]), [["change", [], 1, 2]]);
  deepEqual(diffs.reduce(d, "status"), []);
});

Deno.test("reduce() re-diffs a parent's item for the field's values inside it", () => {
  const added = diffs.diff({}, { spec: { a: { b: 1 } } });
  deepEqual(diffs.reduce(added, "spec.a"), [["add", [], undefined, { b: 1 }]]);
  deepEqual(diffs.reduce(added, "spec.a.b"), [["add", [], undefined, 1]]);
  deepEqual(diffs.reduce(added, "spec.other"), []);
  const changed = diffs.diff({ spec: { a: { b: 1 } } }, { spec: "text" });
  deepEqual(diffs.reduce(changed, "spec.a"), [["remove", [], { b: 1 }, undefined]]);
});

Deno.test("reduce() to the root returns the diff as it is", () => {
  const d = diffs.diff({ a: 1 }, { a: 2 });
  equal(diffs.reduce(d, []), d);
});
