import { deepEqual, equal, throws } from "node:assert/strict";
import * as progress from "../../../lib/persistence/progress.ts";
import * as bodies from "../../../lib/structs/bodies.ts";
import * as patches from "../../../lib/structs/patches.ts";

const FULL: progress.ProgressRecord = {
  message: "Boom: ünï ✓",
  started: "2026-03-01T12:00:00.123456+00:00",
  stopped: "2026-03-01T12:00:05.000000+00:00",
  delayed: null,
  purpose: "delete",
  retries: 5,
  success: false,
  failure: true,
  subrefs: ["fn/a", "fn/b"],
};

function annotationsOf(patch: patches.Patch): Record<string, unknown> {
  return (patch.toMergePatch().metadata as { annotations: Record<string, unknown> }).annotations;
}

Deno.test("annotation records are compact JSON in Kopf's field order, nulls dropped", () => {
  const patch = new patches.Patch();
  new progress.AnnotationsProgressStorage().store("create_fn", FULL, {}, patch);
  deepEqual(annotationsOf(patch), {
    "kopf.zalando.org/create_fn": '{"started":"2026-03-01T12:00:00.123456+00:00",' +
      '"stopped":"2026-03-01T12:00:05.000000+00:00","purpose":"delete","retries":5,' +
      '"success":false,"failure":true,"message":"Boom: \\u00fcn\\u00ef \\u2713",' +
      '"subrefs":["fn/a","fn/b"]}',
  });
});

Deno.test("verbose annotation records keep their null fields", () => {
  const patch = new patches.Patch();
  const storage = new progress.AnnotationsProgressStorage({ verbose: true });
  storage.store("create_fn", { retries: 0, stopped: null, started: "t" }, {}, patch);
  deepEqual(annotationsOf(patch), {
    "kopf.zalando.org/create_fn": '{"started":"t","stopped":null,"retries":0}',
  });
});

Deno.test("long ids are written under both the V2 and the V1 key, and read from either", () => {
  const storage = new progress.AnnotationsProgressStorage();
  const id = `create_fn/${"x".repeat(60)}`;
  const patch = new patches.Patch();
  storage.store(id, { retries: 1 }, {}, patch);
  const written = Object.keys(annotationsOf(patch));
  equal(written.length, 2);
  const [, v1] = written;
  const onlyV1 = { metadata: { annotations: { [v1 ?? ""]: '{"retries":2}' } } };
  deepEqual(storage.fetch(id, onlyV1), { retries: 2 });
  const withoutV1 = new progress.AnnotationsProgressStorage({ v1: false });
  equal(withoutV1.fetch(id, onlyV1), undefined);
});

Deno.test("a custom prefix gets the kopf-managed marker with the first write, once", () => {
  const storage = new progress.AnnotationsProgressStorage({ prefix: "my-op.example.com" });
  const patch = new patches.Patch();
  storage.store("create_fn", { retries: 1 }, {}, patch);
  storage.touch({}, patch, "t");
  deepEqual(annotationsOf(patch), {
    "my-op.example.com/create_fn": '{"retries":1}',
    "my-op.example.com/kopf-managed": "yes",
    "my-op.example.com/touch-dummy": "t",
  });
  const untouched = new patches.Patch();
  storage.touch({}, untouched, undefined);
  equal(untouched.isEmpty(), true);
});

Deno.test("a corrupted annotation record fails loudly, naming the annotation", () => {
  const body = { metadata: { annotations: { "kopf.zalando.org/create_fn": "{not json" } } };
  throws(
    () => new progress.AnnotationsProgressStorage().fetch("create_fn", body),
    /Cannot read the progress from the annotation "kopf.zalando.org\/create_fn"/,
  );
});

Deno.test("an annotations storage needs a prefix", () => {
  throws(() => new progress.AnnotationsProgressStorage({ prefix: "" }), /no prefix/);
});

Deno.test("status records are stored under the raw id, with nulls for the server to drop", () => {
  const patch = new patches.Patch();
  new progress.StatusProgressStorage({ name: "my-op" }).store("create_fn/sub", FULL, {}, patch);
  deepEqual(patch.toMergePatch(), {
    status: { "my-op": { progress: { "create_fn/sub": { ...FULL } } } },
  });
  const stored = bodies.resolve(patch.body, ["status", "my-op", "progress", "create_fn/sub"], {});
  deepEqual(Object.keys(stored as object), [...progress.RECORD_FIELDS]);
});

Deno.test("status storages take custom fields, formatted with their name", () => {
  const storage = new progress.StatusProgressStorage({
    name: "x",
    field: "status.ops.{name}",
    touchField: ["status", "{name}"],
  });
  deepEqual(storage.field, ["status", "ops", "x"]);
  deepEqual(storage.touchField, ["status", "{name}"]);
  equal(storage.fetch("a", { status: { ops: { x: { a: { retries: 3 } } } } })?.retries, 3);
  equal(storage.fetch("a", { status: { ops: { x: "corrupted" } } }), undefined);
});

Deno.test("the smart storage writes annotations only, but reads status records Kopf ≤ 1.43 left", () => {
  const storage = new progress.SmartProgressStorage();
  const leftover = {
    metadata: {},
    status: { kopf: { progress: { create_fn: { retries: 4 } }, dummy: "old" } },
  };
  equal(storage.fetch("create_fn", leftover)?.retries, 4);

  const patch = new patches.Patch();
  storage.store("create_fn", { retries: 5 }, leftover, patch);
  storage.touch(leftover, patch, "new");
  deepEqual(patch.toMergePatch(), {
    metadata: {
      annotations: {
        "kopf.zalando.org/create_fn": '{"retries":5}',
        "kopf.zalando.org/touch-dummy": "new",
      },
    },
  });
});

Deno.test("the smart storage purges records from both annotations and status", () => {
  const body = {
    metadata: { annotations: { "kopf.zalando.org/create_fn": "{}" } },
    status: { kopf: { progress: { create_fn: { retries: 4 } } } },
  };
  const patch = new patches.Patch();
  new progress.SmartProgressStorage().purge("create_fn", body, patch);
  deepEqual(patch.toMergePatch(), {
    metadata: { annotations: { "kopf.zalando.org/create_fn": null } },
    status: { kopf: { progress: { create_fn: null } } },
  });
});

Deno.test("the multi storage reads the first storage that has the record", () => {
  const storage = new progress.MultiProgressStorage([
    new progress.StatusProgressStorage(),
    new progress.AnnotationsProgressStorage(),
  ]);
  const body = {
    metadata: { annotations: { "kopf.zalando.org/create_fn": '{"retries":1}' } },
    status: { kopf: { progress: { create_fn: { retries: 2 } } } },
  };
  equal(storage.fetch("create_fn", body)?.retries, 2);
  equal(storage.fetch("create_fn", { metadata: body.metadata })?.retries, 1);
});

Deno.test("clearing annotations removes every key under the prefix and the emptied stanzas", () => {
  const essence = {
    spec: {},
    metadata: {
      annotations: {
        "kopf.zalando.org/create_fn": "{}",
        "kopf.zalando.org/last-handled-configuration": "{}",
        "kopf.zalando.orgx/create_fn": "{}",
      },
      labels: {},
    },
  };
  deepEqual(new progress.AnnotationsProgressStorage().clear(essence), {
    spec: {},
    metadata: { annotations: { "kopf.zalando.orgx/create_fn": "{}" } },
  });
  deepEqual(
    new progress.AnnotationsProgressStorage({ prefix: "kopf.zalando.orgx" }).clear(essence),
    {
      spec: {},
      metadata: {
        annotations: {
          "kopf.zalando.org/create_fn": "{}",
          "kopf.zalando.org/last-handled-configuration": "{}",
        },
      },
    },
  );
});

Deno.test("clearing status removes the progress field and the emptied status", () => {
  const essence = { spec: { a: 1 }, status: { kopf: { progress: { a: {} } } } };
  deepEqual(new progress.StatusProgressStorage().clear(essence), { spec: { a: 1 } });
});
