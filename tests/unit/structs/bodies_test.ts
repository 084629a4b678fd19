import { deepEqual, equal, notEqual, throws } from "node:assert/strict";
import * as bodies from "../../../lib/structs/bodies.ts";

Deno.test("parseField() splits dotted strings and keeps arrays (with dots in keys) as they are", () => {
  deepEqual(bodies.parseField("spec.template.metadata"), ["spec", "template", "metadata"]);
  deepEqual(bodies.parseField("spec"), ["spec"]);
  deepEqual(bodies.parseField(["metadata", "annotations", "example.com/x"]), [
    "metadata",
    "annotations",
    "example.com/x",
  ]);
  deepEqual(bodies.parseField([]), []);
});

Deno.test("parseField() rejects empty field names and quotes the field", () => {
  throws(() => bodies.parseField("spec..a"), /Cannot parse the field "spec\.\.a": field names/);
  throws(() => bodies.parseField(""), /Cannot parse the field ""/);
  throws(() => bodies.parseField(".spec"), /field names must not be empty/);
  throws(() => bodies.parseField(["spec", ""]), /Cannot parse the field "\["spec",""\]"/);
});

Deno.test("resolve() returns the value, a present null as null, and the fallback otherwise", () => {
  const body = { spec: { a: { b: 1 }, n: null, s: "text", l: [1, 2] } };
  equal(bodies.resolve(body, "spec.a.b", "fallback"), 1);
  deepEqual(bodies.resolve(body, ["spec", "a"], "fallback"), { b: 1 });
  equal(bodies.resolve(body, "spec.n", "fallback"), null);
  equal(bodies.resolve(body, "spec.missing", "fallback"), "fallback");
  equal(bodies.resolve(body, "spec.s.length", "fallback"), "fallback");
  equal(bodies.resolve(body, "spec.l.0", "fallback"), "fallback");
  equal(bodies.resolve(undefined, "spec", "fallback"), "fallback");
  equal(bodies.resolve(body, [], "fallback"), body);
});

Deno.test("deepCopy() copies objects and lists deeply, in the same key order", () => {
  const original = { b: { c: [1, { d: 2 }] }, a: null };
  const copy = bodies.deepCopy(original);
  deepEqual(copy, original);
  deepEqual(Object.keys(copy), ["b", "a"]);
  (copy.b.c[1] as { d: number }).d = 3;
  deepEqual(original.b.c[1], { d: 2 });
});

Deno.test("deepEqual() ignores key order but not types, lengths or null-versus-missing", () => {
  equal(bodies.deepEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }), true);
  equal(bodies.deepEqual({ a: null }, {}), false);
  equal(bodies.deepEqual([1, 2], [2, 1]), false);
  equal(bodies.deepEqual([], {}), false);
  equal(bodies.deepEqual("1", 1), false);
  equal(bodies.deepEqual(null, null), true);
});

Deno.test("ensure() sets nested fields, creating parents and replacing non-object ones", () => {
  const target: Record<string, unknown> = { spec: "text" };
  bodies.ensure(target, "spec.a.b", 1);
  bodies.ensure(target, ["status", "x.y"], null);
  deepEqual(target, { spec: { a: { b: 1 } }, status: { "x.y": null } });
  throws(() => bodies.ensure(target, [], 1), /Cannot set the root/);
});

Deno.test("remove() deletes a field and the parents it leaves empty, as Kopf does", () => {
  const target: Record<string, unknown> = { spec: { a: { b: 1 } }, data: { k: "v", l: 1 } };
  bodies.remove(target, "spec.a.b");
  bodies.remove(target, "data.k");
  deepEqual(target, { data: { l: 1 } });
});

Deno.test("remove() also drops an already empty parent when the field is missing in it", () => {
  const target: Record<string, unknown> = { spec: {}, status: { x: 1 } };
  bodies.remove(target, "spec.missing");
  bodies.remove(target, "absent.missing");
  deepEqual(target, { status: { x: 1 } });
});

Deno.test("remove() leaves non-object parents alone and rejects the root", () => {
  const target: Record<string, unknown> = { spec: "text", list: [{ a: 1 }] };
  bodies.remove(target, "spec.a");
  bodies.remove(target, "list.0.a");
  deepEqual(target, { spec: "text", list: [{ a: 1 }] });
  throws(() => bodies.remove(target, []), /Cannot remove the root/);
});

Deno.test("cherrypick() copies the present fields deeply and skips the missing ones", () => {
  const source = { status: { observed: { generation: 2 } }, spec: { a: null } };
  const target: Record<string, unknown> = { spec: { b: 1 } };
  bodies.cherrypick(source, target, ["status.observed", "spec.a", "status.missing"]);
  deepEqual(target, { spec: { b: 1, a: null }, status: { observed: { generation: 2 } } });
  notEqual(target.status, source.status);
  (target.status as { observed: { generation: number } }).observed.generation = 3;
  equal(source.status.observed.generation, 2);
});
