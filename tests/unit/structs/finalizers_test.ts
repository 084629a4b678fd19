import { deepEqual, equal } from "node:assert/strict";
import * as finalizers from "../../../lib/structs/finalizers.ts";
import * as patches from "../../../lib/structs/patches.ts";

const OURS = "kopf.zalando.org/KopfFinalizerMarker";

function opsFor(fn: patches.PatchFn, body: Record<string, unknown>): patches.JsonPatchOperation[] {
  const patch = new patches.Patch({ fns: [fn] });
  return patches.withResourceVersionTest(patch.asJsonPatch(body), body);
}

Deno.test("isDeletionOngoing() is true once the object has a deletionTimestamp", () => {
  equal(
    finalizers.isDeletionOngoing({ metadata: { deletionTimestamp: "2026-01-01T00:00:00Z" } }),
    true,
  );
  equal(finalizers.isDeletionOngoing({ metadata: { deletionTimestamp: null } }), false);
  equal(finalizers.isDeletionOngoing({ metadata: {} }), false);
  equal(finalizers.isDeletionOngoing({}), false);
});

Deno.test("hasFinalizer() and isDeletionBlocked() look for the exact finalizer", () => {
  const body = { metadata: { finalizers: ["example.com/other", OURS] } };
  equal(finalizers.hasFinalizer(body, OURS), true);
  equal(finalizers.isDeletionBlocked(body, OURS), true);
  equal(finalizers.hasFinalizer(body, "kopf.zalando.org"), false);
  equal(finalizers.isDeletionBlocked({ metadata: {} }, OURS), false);
  equal(finalizers.hasFinalizer({ metadata: { finalizers: null } }, OURS), false);
});

Deno.test("appendFinalizer() is sent as an add guarded by a resourceVersion test", () => {
  const body = { metadata: { resourceVersion: "7", finalizers: ["example.com/other"] } };
  deepEqual(opsFor(finalizers.appendFinalizer(OURS), body), [
    { op: "test", path: "/metadata/resourceVersion", value: "7" },
    { op: "add", path: "/metadata/finalizers/1", value: OURS },
  ]);
  deepEqual(body.metadata.finalizers, ["example.com/other"]);
});

Deno.test("appendFinalizer() creates the list, and metadata, when they are missing", () => {
  deepEqual(opsFor(finalizers.appendFinalizer(OURS), { metadata: { resourceVersion: "1" } }), [
    { op: "test", path: "/metadata/resourceVersion", value: "1" },
    { op: "add", path: "/metadata/finalizers", value: [OURS] },
  ]);
  const body: Record<string, unknown> = {};
  finalizers.appendFinalizer(OURS)(body);
  deepEqual(body, { metadata: { finalizers: [OURS] } });
});

Deno.test("appendFinalizer() changes nothing when the finalizer is there", () => {
  const patch = new patches.Patch({ fns: [finalizers.appendFinalizer(OURS)] });
  deepEqual(patch.asJsonPatch({ metadata: { finalizers: [OURS] } }), []);
});

Deno.test("removeFinalizer() removes every occurrence, by index, in the current list", () => {
  const body = { metadata: { resourceVersion: "9", finalizers: [OURS, "example.com/a", OURS] } };
  deepEqual(opsFor(finalizers.removeFinalizer(OURS), body), [
    { op: "test", path: "/metadata/resourceVersion", value: "9" },
    { op: "remove", path: "/metadata/finalizers/0" },
    { op: "remove", path: "/metadata/finalizers/1" },
  ]);
});

Deno.test("removeFinalizer() drops the emptied list, and the emptied metadata", () => {
  deepEqual(
    opsFor(finalizers.removeFinalizer(OURS), { metadata: { finalizers: [OURS], name: "x" } }),
    [
      { op: "test", path: "/metadata/resourceVersion", value: null },
      { op: "remove", path: "/metadata/finalizers" },
    ],
  );
  const body: Record<string, unknown> = { metadata: { finalizers: [OURS] } };
  finalizers.removeFinalizer(OURS)(body);
  deepEqual(body, {});
});

Deno.test("removeFinalizer() changes nothing when the finalizer is not there", () => {
  const patch = new patches.Patch({ fns: [finalizers.removeFinalizer(OURS)] });
  deepEqual(patch.asJsonPatch({ metadata: { finalizers: ["example.com/a"] } }), []);
  deepEqual(patch.asJsonPatch({}), []);
});
