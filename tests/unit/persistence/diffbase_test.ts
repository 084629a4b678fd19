import { deepEqual, equal, throws } from "node:assert/strict";
import * as encoding from "../../../lib/persistence/_encoding.ts";
import * as diffbase from "../../../lib/persistence/diffbase.ts";
import * as patches from "../../../lib/structs/patches.ts";

const BODY = {
  apiVersion: "kopf.dev/v1",
  kind: "KopfExample",
  metadata: {
    name: "example",
    uid: "uid-1",
    resourceVersion: "100",
    finalizers: ["kopf.zalando.org/KopfFinalizerMarker"],
    labels: { app: "demo" },
    annotations: {
      "example.com/note": "kept",
      "kubectl.kubernetes.io/last-applied-configuration": "{}\n",
      "kopf.zalando.org/create_fn": "{}",
      "team.kopf.zalando.org/create_fn": "{}",
      "other.example.com/kopf-managed": "yes",
      "other.example.com/create_fn": "{}",
      "kopf.example.com/create_fn": "kept: kopf.* prefixes are never marked",
    },
  },
  spec: { field: "value", empty: {} },
  status: { phase: "Running", observed: { generation: 1 } },
};

function storedAnnotation(patch: patches.Patch, key: string): unknown {
  const annotations = patch.toMergePatch().metadata as { annotations: Record<string, unknown> };
  return annotations.annotations[key];
}

Deno.test("the essence is spec and the like, labels, and annotations not of Kopf or kubectl", () => {
  const essence = new diffbase.AnnotationsDiffBaseStorage().build(BODY);
  deepEqual(essence, {
    spec: { field: "value", empty: {} },
    metadata: {
      labels: { app: "demo" },
      annotations: {
        "example.com/note": "kept",
        "kopf.example.com/create_fn": "kept: kopf.* prefixes are never marked",
      },
    },
  });
  deepEqual(Object.keys(essence), ["spec", "metadata"]);
});

Deno.test("the essence has no empty labels, annotations, metadata or status, but keeps empty spec", () => {
  const body = {
    metadata: { labels: {}, annotations: { "kopf.zalando.org/x": "{}" } },
    spec: {},
    data: {},
  };
  deepEqual(new diffbase.AnnotationsDiffBaseStorage().build(body), { spec: {}, data: {} });
  deepEqual(new diffbase.StatusDiffBaseStorage().build(body, ["status.missing"]), {
    spec: {},
    data: {},
  });
});

Deno.test("extra fields come back into the essence, after the metadata", () => {
  const essence = new diffbase.AnnotationsDiffBaseStorage().build(BODY, [
    "status.observed",
    ["metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"],
  ]);
  deepEqual(Object.keys(essence), ["spec", "metadata", "status"]);
  deepEqual(essence.status, { observed: { generation: 1 } });
  equal(
    (essence.metadata as { annotations: Record<string, string> }).annotations[
      "kubectl.kubernetes.io/last-applied-configuration"
    ],
    "{}\n",
  );
});

Deno.test("ignored fields are left out, with the parents they leave empty", () => {
  const storage = new diffbase.AnnotationsDiffBaseStorage({
    ignoredFields: ["spec.field", "metadata.labels.app", "spec.field.deeper"],
  });
  deepEqual(storage.build(BODY), {
    spec: { empty: {} },
    metadata: {
      annotations: {
        "example.com/note": "kept",
        "kopf.example.com/create_fn": "kept: kopf.* prefixes are never marked",
      },
    },
  });
});

Deno.test("the annotation holds compact, ASCII-only JSON and a trailing newline", () => {
  const patch = new patches.Patch();
  const storage = new diffbase.AnnotationsDiffBaseStorage();
  storage.store({}, patch, { spec: { text: "ünï ✓ 🚀", ratio: 0.5, tiny: 0.00001, n: 3 } });
  equal(
    storedAnnotation(patch, "kopf.zalando.org/last-handled-configuration"),
    '{"spec":{"text":"\\u00fcn\\u00ef \\u2713 \\ud83d\\ude80","ratio":0.5,"tiny":1e-05,"n":3}}\n',
  );
});

Deno.test("a custom prefix gets the marker; a long key gets its V1 twin", () => {
  const patch = new patches.Patch();
  const storage = new diffbase.AnnotationsDiffBaseStorage({
    prefix: "lengthy-operator-name-to-hit-63-chars.example.com",
  });
  storage.store({}, patch, {});
  const keys = Object.keys((patch.toMergePatch().metadata as { annotations: object }).annotations);
  equal(keys.length, 3);
  equal(keys.includes("lengthy-operator-name-to-hit-63-chars.example.com/kopf-managed"), true);
  equal(
    keys.includes("lengthy-operator-name-to-hit-63-chars.example.com/last-handled-configuration"),
    true,
  );
});

Deno.test("the status field holds compact JSON without a newline", () => {
  const patch = new patches.Patch();
  new diffbase.StatusDiffBaseStorage({ name: "my-op" }).store({}, patch, { spec: { a: 1 } });
  deepEqual(patch.toMergePatch(), {
    status: { "my-op": { "last-handled-configuration": '{"spec":{"a":1}}' } },
  });
});

Deno.test("a corrupted diff-base fails loudly, naming where it was read", () => {
  const body = {
    metadata: { annotations: { "kopf.zalando.org/last-handled-configuration": "{" } },
  };
  throws(
    () => new diffbase.AnnotationsDiffBaseStorage().fetch(body),
    /Cannot read the diff-base from the annotation "kopf.zalando.org\/last-handled-configuration"/,
  );
  const inStatus = { status: { kopf: { "last-handled-configuration": "[" } } };
  throws(() => new diffbase.StatusDiffBaseStorage().fetch(inStatus), /the field "status.kopf/);
});

Deno.test("the multi storage stores everywhere, reads the first, and cleans for each", () => {
  const storage = new diffbase.MultiDiffBaseStorage([
    new diffbase.StatusDiffBaseStorage(),
    new diffbase.AnnotationsDiffBaseStorage({ prefix: "my-op.example.com" }),
  ]);
  const patch = new patches.Patch();
  storage.store({}, patch, { spec: { a: 1 } });
  deepEqual(patch.toMergePatch(), {
    status: { kopf: { "last-handled-configuration": '{"spec":{"a":1}}' } },
    metadata: {
      annotations: {
        "my-op.example.com/last-handled-configuration": '{"spec":{"a":1}}\n',
        "my-op.example.com/kopf-managed": "yes",
      },
    },
  });
  const body = {
    metadata: {
      annotations: { "my-op.example.com/last-handled-configuration": '{"spec":{"a":2}}\n' },
    },
    status: { kopf: { "last-handled-configuration": '{"spec":{"a":3}}' } },
  };
  deepEqual(storage.fetch(body), { spec: { a: 3 } });
  // Each storage drops its own data: the status one its field, and the parents it empties.
  deepEqual(storage.build(body, ["status.kopf"]), {});
});

Deno.test("JSON is encoded as Python's json.dumps with compact separators", () => {
  equal(encoding.encode({ a: [1, "x", null, true], b: {} }), '{"a":[1,"x",null,true],"b":{}}');
  equal(
    encoding.encode('quote " back \\ nl \n tab \t del \x7f nul \0'),
    String.raw`"quote \" back \\ nl \n tab \t del \u007f nul \u0000"`,
  );
  equal(
    encoding.encode([0.1, 1.5e-7, 123.456, -0.0001, 1e-5, 2 ** 53 + 2, -3]),
    "[0.1,1.5e-07,123.456,-0.0001,1e-05,9007199254740994,-3]",
  );
  equal(encoding.encode({ skipped: undefined, kept: 1 }), '{"kept":1}');
});
