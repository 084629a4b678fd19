// One contract, every storage: what handling/ and processing/ may rely on from any progress
// or diff-base storage, checked by applying the patches as the API server would.

import { deepEqual, equal, notEqual } from "node:assert/strict";
import * as fakePatches from "../../_fixtures/fake_patches.ts";
import * as diffbase from "../../../lib/persistence/diffbase.ts";
import * as progress from "../../../lib/persistence/progress.ts";
import * as bodies from "../../../lib/structs/bodies.ts";
import * as patches from "../../../lib/structs/patches.ts";

type Body = Record<string, unknown>;

const PROGRESS_STORAGES: [string, () => progress.ProgressStorage][] = [
  ["AnnotationsProgressStorage", () => new progress.AnnotationsProgressStorage()],
  [
    "AnnotationsProgressStorage with its own prefix",
    () => new progress.AnnotationsProgressStorage({ prefix: "my-op.example.com", v1: false }),
  ],
  ["StatusProgressStorage", () => new progress.StatusProgressStorage()],
  [
    "MultiProgressStorage",
    () =>
      new progress.MultiProgressStorage([
        new progress.AnnotationsProgressStorage(),
        new progress.StatusProgressStorage(),
      ]),
  ],
  ["SmartProgressStorage", () => new progress.SmartProgressStorage()],
];

const DIFFBASE_STORAGES: [string, () => diffbase.DiffBaseStorage][] = [
  ["AnnotationsDiffBaseStorage", () => new diffbase.AnnotationsDiffBaseStorage()],
  [
    "AnnotationsDiffBaseStorage with its own prefix",
    () => new diffbase.AnnotationsDiffBaseStorage({ prefix: "my-op.example.com" }),
  ],
  ["StatusDiffBaseStorage", () => new diffbase.StatusDiffBaseStorage()],
  [
    "MultiDiffBaseStorage",
    () =>
      new diffbase.MultiDiffBaseStorage([
        new diffbase.AnnotationsDiffBaseStorage(),
        new diffbase.StatusDiffBaseStorage(),
      ]),
  ],
];

const RECORD: progress.ProgressRecord = {
  started: "2026-03-01T12:00:00.123456+00:00",
  stopped: null,
  delayed: "2026-03-01T12:01:00.000000+00:00",
  purpose: "create",
  retries: 1,
  success: false,
  failure: false,
  message: "Not ready: ünïcødé ✓",
  subrefs: null,
};
const STORED_RECORD = Object.fromEntries(Object.entries(RECORD).filter(([, v]) => v !== null));

const LONG_ID = `create_fn/${"sub".repeat(30)}/x.y`;

function freshBody(): Body {
  return {
    apiVersion: "kopf.dev/v1",
    kind: "KopfExample",
    metadata: {
      name: "example",
      namespace: "default",
      resourceVersion: "1",
      labels: { app: "demo" },
      annotations: { "example.com/note": "foreign", "other.example.com/kopf-managed": "yes" },
    },
    spec: { field: "value", ratio: 0.5, text: "ünïcødé ✓ 🚀" },
    status: { phase: "Running", foreign: { x: 1 } },
  };
}

// What the API server makes of the object after the merge patch.
function applied(body: Body, patch: patches.Patch): Body {
  return fakePatches.merge(body, patch.toMergePatch()) as Body;
}

function foreignParts(body: Body): unknown {
  const annotations = bodies.resolve(body, ["metadata", "annotations"], {}) as Body;
  return {
    note: annotations["example.com/note"],
    marker: annotations["other.example.com/kopf-managed"],
    labels: bodies.resolve(body, ["metadata", "labels"], undefined),
    spec: body.spec,
    phase: bodies.resolve(body, ["status", "phase"], undefined),
    foreign: bodies.resolve(body, ["status", "foreign"], undefined),
  };
}

for (const [name, make] of PROGRESS_STORAGES) {
  Deno.test(`${name} finds no record on a fresh object`, () => {
    equal(make().fetch("create_fn", freshBody()), undefined);
  });

  Deno.test(`${name} reads back a stored record, without its null fields`, () => {
    const storage = make();
    const patch = new patches.Patch();
    storage.store("create_fn", RECORD, freshBody(), patch);
    deepEqual(storage.fetch("create_fn", applied(freshBody(), patch)), STORED_RECORD);
  });

  Deno.test(`${name} keeps the records of different handlers apart`, () => {
    const storage = make();
    const first = new patches.Patch();
    storage.store("create_fn", RECORD, freshBody(), first);
    storage.store("update_fn", { ...RECORD, retries: 7 }, freshBody(), first);
    const body = applied(freshBody(), first);
    const second = new patches.Patch();
    storage.purge("create_fn", body, second);
    const after = applied(body, second);
    equal(storage.fetch("create_fn", after), undefined);
    equal(storage.fetch("update_fn", after)?.retries, 7);
  });

  Deno.test(`${name} round-trips ids with slashes, dots and over 63 characters`, () => {
    const storage = make();
    const patch = new patches.Patch();
    storage.store(LONG_ID, RECORD, freshBody(), patch);
    deepEqual(storage.fetch(LONG_ID, applied(freshBody(), patch)), STORED_RECORD);
    equal(storage.fetch("create_fn", applied(freshBody(), patch)), undefined);
  });

  Deno.test(`${name} purges a stored record by nulling it on the server`, () => {
    const storage = make();
    const storing = new patches.Patch();
    storage.store(LONG_ID, RECORD, freshBody(), storing);
    const body = applied(freshBody(), storing);
    const purging = new patches.Patch();
    storage.purge(LONG_ID, body, purging);
    equal(purging.isEmpty(), false);
    equal(storage.fetch(LONG_ID, applied(body, purging)), undefined);
  });

  Deno.test(`${name} sends nothing for a record stored and purged in one cycle`, () => {
    const storage = make();
    const patch = new patches.Patch();
    storage.store("create_fn", RECORD, freshBody(), patch);
    storage.purge("create_fn", freshBody(), patch);
    // The marker of a custom prefix may stay: it is what Kopf leaves too.
    const left = patch.toMergePatch();
    const annotations = bodies.resolve(left, ["metadata", "annotations"], {}) as Body;
    deepEqual(Object.keys(annotations).filter((k) => !k.endsWith("/kopf-managed")), []);
    equal(bodies.resolve(left, ["status"], undefined), undefined);
  });

  Deno.test(`${name} sends nothing when purging a record that does not exist`, () => {
    const patch = new patches.Patch();
    make().purge("create_fn", freshBody(), patch);
    equal(patch.isEmpty(), true);
  });

  Deno.test(`${name} touches only when the value differs`, () => {
    const storage = make();
    const touching = new patches.Patch();
    storage.touch(freshBody(), touching, "2026-03-01T12:00:05.000000+00:00");
    equal(touching.isEmpty(), false);
    const touched = applied(freshBody(), touching);
    const again = new patches.Patch();
    storage.touch(touched, again, "2026-03-01T12:00:05.000000+00:00");
    equal(again.isEmpty(), true);
    const untouching = new patches.Patch();
    storage.touch(touched, untouching, undefined);
    equal(untouching.isEmpty(), false);
    const untouched = applied(touched, untouching);
    const nothing = new patches.Patch();
    storage.touch(untouched, nothing, undefined);
    equal(nothing.isEmpty(), true);
    equal(JSON.stringify(touched).includes("12:00:05"), true);
    equal(JSON.stringify(untouched).includes("12:00:05"), false);
  });

  Deno.test(`${name} leaves foreign annotations, labels, spec and status alone`, () => {
    const storage = make();
    const patch = new patches.Patch();
    storage.store("create_fn", RECORD, freshBody(), patch);
    storage.touch(freshBody(), patch, "2026-03-01T12:00:05.000000+00:00");
    storage.purge("update_fn", freshBody(), patch);
    storage.flush();
    deepEqual(foreignParts(applied(freshBody(), patch)), foreignParts(freshBody()));
  });

  Deno.test(`${name} clears its own data from an essence, keeps the rest, and copies it`, () => {
    const storage = make();
    const patch = new patches.Patch();
    storage.store("create_fn", RECORD, freshBody(), patch);
    storage.touch(freshBody(), patch, "2026-03-01T12:00:05.000000+00:00");
    const { apiVersion: _a, kind: _k, ...essence } = applied(freshBody(), patch);
    const before = bodies.deepCopy(essence);
    const cleared = storage.clear(essence);
    deepEqual(essence, before);
    notEqual(cleared, essence);
    equal(storage.fetch("create_fn", cleared), undefined);
    deepEqual(foreignParts(cleared), foreignParts(essence));
  });
}

for (const [name, make] of DIFFBASE_STORAGES) {
  Deno.test(`${name} finds no essence on a fresh object`, () => {
    equal(make().fetch(freshBody()), undefined);
  });

  Deno.test(`${name} reads back a stored essence, text and numbers intact`, () => {
    const storage = make();
    const essence = storage.build(freshBody());
    const patch = new patches.Patch();
    storage.store(freshBody(), patch, essence);
    deepEqual(storage.fetch(applied(freshBody(), patch)), essence);
  });

  Deno.test(`${name} builds the same essence before and after storing it`, () => {
    const storage = make();
    const essence = storage.build(freshBody());
    const patch = new patches.Patch();
    storage.store(freshBody(), patch, essence);
    deepEqual(storage.build(applied(freshBody(), patch)), essence);
  });

  Deno.test(`${name} builds from spec, labels and plain annotations only`, () => {
    const body = freshBody();
    bodies.ensure(body, ["metadata", "annotations", "kopf.zalando.org/create_fn"], "{}");
    bodies.ensure(body, ["metadata", "annotations", "other.example.com/create_fn"], "{}");
    bodies.ensure(
      body,
      ["metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"],
      "{}",
    );
    deepEqual(make().build(body), {
      spec: { field: "value", ratio: 0.5, text: "ünïcødé ✓ 🚀" },
      metadata: { labels: { app: "demo" }, annotations: { "example.com/note": "foreign" } },
    });
  });

  Deno.test(`${name} puts the extra fields back into the essence`, () => {
    const essence = make().build(freshBody(), [["status", "phase"], "metadata.name"]);
    equal(bodies.resolve(essence, "status.phase", undefined), "Running");
    equal(bodies.resolve(essence, "metadata.name", undefined), "example");
    equal(bodies.resolve(essence, "status.foreign", undefined), undefined);
  });

  Deno.test(`${name} stores a newer essence over an older one`, () => {
    const storage = make();
    const first = new patches.Patch();
    storage.store(freshBody(), first, { spec: { v: 1 } });
    const body = applied(freshBody(), first);
    const second = new patches.Patch();
    storage.store(body, second, { spec: { v: 2 } });
    deepEqual(storage.fetch(applied(body, second)), { spec: { v: 2 } });
  });

  Deno.test(`${name} leaves foreign annotations, labels, spec and status alone`, () => {
    const storage = make();
    const patch = new patches.Patch();
    storage.store(freshBody(), patch, storage.build(freshBody()));
    deepEqual(foreignParts(applied(freshBody(), patch)), foreignParts(freshBody()));
  });
}
