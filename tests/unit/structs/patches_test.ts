import { deepEqual, equal, throws } from "node:assert/strict";
import * as fakePatches from "../../_fixtures/fake_patches.ts";
import * as patches from "../../../lib/structs/patches.ts";

Deno.test("handlers write status, spec and metadata fields as plain properties", () => {
  const patch = new patches.Patch();
  patch.status.phase = "Ready";
  patch.spec.replicas = 3;
  patch.metadata.labels.app = "demo";
  patch.meta.annotations["example.com/note"] = null;
  deepEqual(patch.toMergePatch(), {
    status: { phase: "Ready" },
    spec: { replicas: 3 },
    metadata: { labels: { app: "demo" }, annotations: { "example.com/note": null } },
  });
  equal(patch.meta, patch.metadata);
});

Deno.test("reading the stanzas leaves the patch empty", () => {
  const patch = new patches.Patch();
  void patch.status.phase;
  void patch.metadata.labels.app;
  void patch.metadata.annotations;
  void patch.spec;
  equal(patch.isEmpty(), true);
  deepEqual(patch.toMergePatch(), {});
  deepEqual(patch.split(true), { object: undefined, status: undefined });
});

Deno.test("a null, an empty list or a function makes the patch non-empty", () => {
  const deleting = new patches.Patch();
  deleting.metadata.labels.app = null;
  equal(deleting.isEmpty(), false);
  const emptying = new patches.Patch();
  emptying.set("metadata.finalizers", []);
  deepEqual(emptying.toMergePatch(), { metadata: { finalizers: [] } });
  const transforming = new patches.Patch({ fns: [() => {}] });
  equal(transforming.isEmpty(), false);
  deepEqual(transforming.toMergePatch(), {});
});

Deno.test("set() writes any field; discard() forgets it and the parents it leaves empty", () => {
  const patch = new patches.Patch();
  patch.set(["data", "config.yaml"], "a: 1");
  patch.set("spec.x.y", 1);
  patch.discard("spec.x.y");
  deepEqual(patch.toMergePatch(), { data: { "config.yaml": "a: 1" } });
  deepEqual(patch.body, { data: { "config.yaml": "a: 1" } });
});

Deno.test("a stanza that the patch sets to a non-object cannot be written into", () => {
  const patch = new patches.Patch({ body: { status: null, metadata: { labels: "x" } } });
  throws(() => patch.status, /Cannot patch inside "status": the patch already sets it to null/);
  throws(() => patch.metadata.labels, /Cannot patch inside "labels"/);
});

Deno.test("the constructor copies the document, so later changes to it do not leak in", () => {
  const doc = { spec: { a: 1 } };
  const patch = new patches.Patch({ body: doc });
  doc.spec.a = 2;
  deepEqual(patch.toMergePatch(), { spec: { a: 1 } });
});

Deno.test("merge() composes merge patches: objects merge, lists and nulls replace", () => {
  const patch = new patches.Patch();
  patch.status.a = { x: 1, y: 1 };
  patch.status.list = [1];
  const doc = { status: { a: { y: null, z: 1 }, list: [2], b: "new" }, spec: null };
  patch.merge(doc);
  doc.status.a.z = 99;
  deepEqual(patch.toMergePatch(), {
    status: { a: { x: 1, y: null, z: 1 }, list: [2], b: "new" },
    spec: null,
  });
});

Deno.test("clear() drops all changes and functions", () => {
  const patch = new patches.Patch({ body: { spec: { a: 1 } }, fns: [() => {}] });
  patch.clear();
  equal(patch.isEmpty(), true);
  equal(patch.fns.length, 0);
});

Deno.test("split() sends status to /status only when the resource has that subresource", () => {
  const patch = new patches.Patch();
  patch.status.phase = "Ready";
  patch.metadata.annotations.a = "b";
  deepEqual(patch.split(true), {
    object: { metadata: { annotations: { a: "b" } } },
    status: { status: { phase: "Ready" } },
  });
  deepEqual(patch.split(false), {
    object: { metadata: { annotations: { a: "b" } }, status: { phase: "Ready" } },
    status: undefined,
  });
  const statusOnly = new patches.Patch({ body: { status: { phase: "x" } } });
  deepEqual(statusOnly.split(true), { object: undefined, status: { status: { phase: "x" } } });
});

Deno.test("asJsonPatch() applies the functions to a copy and diffs it against the body", () => {
  const body = { metadata: { name: "x", labels: { a: "1" } }, spec: { items: ["a", "b"] } };
  const patch = new patches.Patch({
    fns: [(b) => {
      (b.spec as { items: string[] }).items.splice(1, 0, "z");
      delete (b.metadata as { labels?: unknown }).labels;
    }],
  });
  deepEqual(patch.asJsonPatch(body), [
    { op: "remove", path: "/metadata/labels" },
    { op: "add", path: "/spec/items/1", value: "z" },
  ]);
  deepEqual(body.spec.items, ["a", "b"]);
});

Deno.test("asJsonPatch() is empty for an empty patch and for changes that change nothing", () => {
  const body = { spec: { a: 1 } };
  deepEqual(new patches.Patch().asJsonPatch(body), []);
  deepEqual(new patches.Patch({ body: { spec: { a: 1 } } }).asJsonPatch(body), []);
  deepEqual(new patches.Patch({ fns: [() => {}] }).asJsonPatch(body), []);
});

Deno.test("asJsonPatch() applies the merge document first, with a null dropping emptied parents", () => {
  const body = { metadata: { annotations: { only: "x" }, name: "n" } };
  const patch = new patches.Patch({ body: { metadata: { annotations: { only: null } } } });
  patch.fns.push((b) => {
    (b.metadata as Record<string, unknown>).labels = { added: "after the merge" };
  });
  deepEqual(patch.asJsonPatch(body), [
    { op: "remove", path: "/metadata/annotations" },
    { op: "add", path: "/metadata/labels", value: { added: "after the merge" } },
  ]);
});

Deno.test("asJsonPatch() escapes ~ and / in the pointers", () => {
  const patch = new patches.Patch();
  patch.metadata.annotations["example.com/a~b"] = "x";
  deepEqual(patch.asJsonPatch({ metadata: { annotations: {} } }), [
    { op: "add", path: "/metadata/annotations/example.com~1a~0b", value: "x" },
  ]);
});

Deno.test("asJsonPatch() turns any list into any other list", () => {
  // A small deterministic generator: lists with repeats, objects and nested lists.
  let seed = 42;
  const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const item = (): unknown => {
    const kind = next(4);
    return kind === 0
      ? { k: next(3), v: next(2) }
      : kind === 1
      ? [next(3)]
      : ["a", "b", "c"][next(3)];
  };
  const list = () => Array.from({ length: next(7) }, item);
  for (let round = 0; round < 300; round++) {
    const before = { spec: { list: list() } };
    const after = list();
    const patch = new patches.Patch({
      fns: [(b) => void ((b.spec as { list: unknown }).list = after)],
    });
    const ops = patch.asJsonPatch(before);
    deepEqual(
      fakePatches.applyJsonPatch(before, ops),
      { spec: { list: after } },
      JSON.stringify(ops),
    );
  }
});

Deno.test("splitJsonPatch() separates /status operations when there is a status subresource", () => {
  const ops: patches.JsonPatchOperation[] = [
    { op: "add", path: "/metadata/finalizers", value: ["f"] },
    { op: "replace", path: "/status/phase", value: "x" },
    { op: "remove", path: "/status" },
    { op: "remove", path: "/statusx" },
  ];
  deepEqual(patches.splitJsonPatch(ops, true), {
    object: [ops[0], ops[3]],
    status: [ops[1], ops[2]],
  });
  deepEqual(patches.splitJsonPatch(ops, false), { object: ops, status: [] });
});

Deno.test("withResourceVersionTest() guards the operations with the body's resourceVersion", () => {
  const ops: patches.JsonPatchOperation[] = [{ op: "remove", path: "/metadata/finalizers" }];
  deepEqual(patches.withResourceVersionTest(ops, { metadata: { resourceVersion: "42" } }), [
    { op: "test", path: "/metadata/resourceVersion", value: "42" },
    { op: "remove", path: "/metadata/finalizers" },
  ]);
  deepEqual(patches.withResourceVersionTest([], {})[0], {
    op: "test",
    path: "/metadata/resourceVersion",
    value: null,
  });
});
