// Holds the port to what Python Kopf 1.45.2 itself does with the same inputs: the cases and
// Kopf's answers come from tools/goldens/kopf_goldens.py (see tools/goldens/README.md).

import { deepEqual, equal } from "node:assert/strict";
import * as fakePatches from "../../_fixtures/fake_patches.ts";
import * as diffbase from "../../../lib/persistence/diffbase.ts";
import * as keys from "../../../lib/persistence/keys.ts";
import * as progress from "../../../lib/persistence/progress.ts";
import * as bodies from "../../../lib/structs/bodies.ts";
import * as diffs from "../../../lib/structs/diffs.ts";
import * as finalizers from "../../../lib/structs/finalizers.ts";
import * as patches from "../../../lib/structs/patches.ts";

type Json = Record<string, unknown>;
type Spec = Json & { kind: string; storages?: Spec[] };
type FnSpec = { fn: string; finalizer?: string; path?: string[]; value?: unknown; index?: number };

const goldens = JSON.parse(
  await Deno.readTextFile(new URL("../../_fixtures/goldens/kopf-1.45.2.json", import.meta.url)),
) as {
  bodies: Record<string, Json>;
  records: Record<string, progress.ProgressRecord>;
  progressStorages: Record<string, Spec>;
  diffbaseStorages: Record<string, Spec>;
  progressScenarios: Record<
    string,
    { op: string; key?: string; record?: string; value?: string | null }[]
  >;
  blake2b: { text: string; digestSize: number; hex: string }[];
  keys: {
    prefix: string;
    key: string;
    suffix: string;
    v1Key: string;
    v2Key: string;
    keys: string[];
    keysWithoutV1: string[];
    keysOfDeploymentReplicaSet: string[];
  }[];
  markedPrefixes: { body: string; keys: string[]; prefixes: string[] }[];
  progress: { storage: string; body: string; scenario: string; patch: Json }[];
  progressFetch: { storage: string; body: string; key: string; record: Json | null }[];
  progressClear: { storage: string; essence: Json; cleared: Json }[];
  diffbase: {
    storage: string;
    body: string;
    extraFields: bodies.FieldSpec[];
    essence: Json;
    patch: Json;
    fetched: Json | null;
  }[];
  pipeline: { progress: string; diffbase: string; body: string; essence: Json; patch: Json }[];
  finalizers: {
    name: string;
    body: Json;
    action: "appendFinalizer" | "removeFinalizer";
    ongoing: boolean;
    blocked: boolean;
    ops: patches.JsonPatchOperation[];
  }[];
  jsonPatches: { name: string; body: string; merge: Json; fns: FnSpec[]; ops: unknown[] }[];
  requests: {
    name: string;
    body: string;
    merge: Json;
    fns: FnSpec[];
    hasStatusSubresource: boolean;
    requests: Request[];
  }[];
  diffs: { a: unknown; b: unknown; diff: unknown[]; reduced: Record<string, unknown[]> }[];
  timestamps: { iso: string; formatted: string }[];
  finalizer: string;
};

interface Request {
  subresource: "status" | null;
  contentType: string;
  payload: unknown;
}

const MERGE = "application/merge-patch+json";
const JSON_PATCH = "application/json-patch+json";

// Where we differ from Kopf on purpose, by case name.
const DIVERGENCES: Record<string, string> = {
  // Kopf pops a null status off the object patch and then sends nothing: the deletion is lost.
  "status set to null": "a null status is sent to /status instead of being dropped",
  // jsonpatch turns an equal value removed here and added there into a `move`; we do not.
  "value moved to another key": "a remove and an add instead of a move",
  "list reordered": "an add and a remove instead of a move",
};

function progressStorage(spec: Spec): progress.ProgressStorage {
  const { kind, storages = [], ...options } = spec;
  if (kind === "annotations") return new progress.AnnotationsProgressStorage(options);
  if (kind === "status") return new progress.StatusProgressStorage(options);
  if (kind === "smart") return new progress.SmartProgressStorage(options);
  return new progress.MultiProgressStorage(storages.map(progressStorage));
}

function diffbaseStorage(spec: Spec): diffbase.DiffBaseStorage {
  const { kind, storages = [], ...options } = spec;
  if (kind === "annotations") return new diffbase.AnnotationsDiffBaseStorage(options);
  if (kind === "status") return new diffbase.StatusDiffBaseStorage(options);
  return new diffbase.MultiDiffBaseStorage(storages.map(diffbaseStorage));
}

function makeFn(spec: FnSpec): patches.PatchFn {
  const path = spec.path ?? [];
  switch (spec.fn) {
    case "appendFinalizer":
      return finalizers.appendFinalizer(spec.finalizer ?? "");
    case "removeFinalizer":
      return finalizers.removeFinalizer(spec.finalizer ?? "");
    case "set":
      return (body) => bodies.ensure(body, path, bodies.deepCopy(spec.value));
    case "delete":
      return (body) => {
        const parent = bodies.resolve(body, path.slice(0, -1), undefined);
        if (bodies.isObject(parent)) delete parent[path.at(-1) ?? ""];
      };
    case "insert":
      return (body) => {
        const list = bodies.resolve(body, path, undefined);
        if (Array.isArray(list)) list.splice(spec.index ?? 0, 0, bodies.deepCopy(spec.value));
      };
  }
  throw new Error(`Unknown function "${spec.fn}" in the goldens`);
}

function bodyOf(name: string): Json {
  const body = goldens.bodies[name];
  if (body === undefined) throw new Error(`Unknown body "${name}" in the goldens`);
  return bodies.deepCopy(body);
}

function storageSpec(specs: Record<string, Spec>, name: string): Spec {
  const spec = specs[name];
  if (spec === undefined) throw new Error(`Unknown storage "${name}" in the goldens`);
  return spec;
}

// Kopf's patch_obj, rebuilt from our pieces: merge-patch the object, then /status, then the
// functions as JSON patches (object, then /status), each guarded by a resourceVersion test.
function plannedRequests(body: Json, patch: patches.Patch, hasStatus: boolean): Request[] {
  const requests: Request[] = [];
  let current: unknown = bodies.deepCopy(body);
  const send = (subresource: "status" | null, contentType: string, payload: unknown): Json => {
    requests.push({ subresource, contentType, payload });
    current = contentType === MERGE
      ? fakePatches.merge(current, payload)
      : fakePatches.applyJsonPatch(current, payload);
    const meta = (current as { metadata: Json }).metadata;
    meta.resourceVersion = String(Number(meta.resourceVersion) + 1);
    return bodies.deepCopy(current as Json);
  };
  const merged = patch.split(hasStatus);
  let fresh: Json = body;
  if (merged.object) fresh = send(null, MERGE, merged.object);
  if (merged.status) fresh = send("status", MERGE, merged.status);
  const ops = new patches.Patch({ fns: patch.fns }).asJsonPatch(fresh);
  const split = patches.splitJsonPatch(ops, hasStatus);
  if (split.object.length > 0) {
    fresh = send(null, JSON_PATCH, patches.withResourceVersionTest(split.object, fresh));
  }
  if (split.status.length > 0) {
    send("status", JSON_PATCH, patches.withResourceVersionTest(split.status, fresh));
  }
  return requests;
}

// Compares every case, then reports all mismatches at once.
function check<T>(cases: readonly T[], name: (c: T) => string, compare: (c: T) => void): void {
  const failures: string[] = [];
  for (const c of cases) {
    try {
      compare(c);
    } catch (error) {
      failures.push(`${name(c)}: ${(error as Error).message}`);
    }
  }
  const shown = failures.slice(0, 5).join("\n");
  equal(failures.length, 0, `${failures.length} of ${cases.length} cases differ:\n${shown}`);
  equal(cases.length > 0, true, "the goldens have cases for this");
}

// Kopf's None is both our undefined (missing) and null.
function nullish(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? null, (_k, v) => v === undefined ? null : v));
}

function sortedDiff(d: diffs.Diff): unknown[] {
  const items = d.map(([op, path, old, value]) => [op, [...path], old, value]);
  return nullish(items.sort((x, y) => {
    const [a, b] = [JSON.stringify(x.slice(0, 2)), JSON.stringify(y.slice(0, 2))];
    return a < b ? -1 : a > b ? 1 : 0;
  })) as unknown[];
}

Deno.test("blake2b() gives Python's hashlib digests of every size", () => {
  check(goldens.blake2b, (c) => `${JSON.stringify(c.text).slice(0, 20)}/${c.digestSize}`, (c) => {
    const digest = keys.blake2b(new TextEncoder().encode(c.text), c.digestSize);
    equal(Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""), c.hex);
  });
});

Deno.test("annotation keys, V1 and V2, hashed and marked, are Kopf's for every prefix and id", () => {
  const replicaSet = bodyOf("replicaset-of-deployment");
  check(goldens.keys, (c) => `${c.prefix} ${c.key}`, (c) => {
    equal(keys.hashSuffix(c.key), c.suffix);
    equal(keys.v1Key(c.prefix, c.key), c.v1Key);
    equal(keys.v2Key(c.prefix, c.key), c.v2Key);
    deepEqual(keys.makeKeys(c.prefix, c.key), c.keys);
    deepEqual(keys.makeKeys(c.prefix, c.key, { v1: false }), c.keysWithoutV1);
    deepEqual(keys.makeKeys(c.prefix, c.key, { body: replicaSet }), c.keysOfDeploymentReplicaSet);
  });
});

Deno.test("the prefixes of other Kopf operators are detected as Kopf detects them", () => {
  check(goldens.markedPrefixes, (c) => c.body, (c) => {
    deepEqual([...keys.detectMarkedPrefixes(c.keys)].sort(), c.prefixes);
  });
});

Deno.test("progress storages write the same patches as Kopf's for store, purge and touch", () => {
  check(goldens.progress, (c) => `${c.storage} ${c.body} ${c.scenario}`, (c) => {
    const storage = progressStorage(storageSpec(goldens.progressStorages, c.storage));
    const body = bodyOf(c.body);
    const patch = new patches.Patch();
    for (const step of goldens.progressScenarios[c.scenario] ?? []) {
      const key = step.key ?? "";
      if (step.op === "store") {
        storage.store(key, goldens.records[step.record ?? ""] ?? {}, body, patch);
      } else if (step.op === "purge") {
        storage.purge(key, body, patch);
      } else {
        storage.touch(body, patch, step.value ?? undefined);
      }
    }
    storage.flush();
    deepEqual(patch.toMergePatch(), c.patch);
  });
});

Deno.test("progress storages fetch the same records as Kopf's", () => {
  check(goldens.progressFetch, (c) => `${c.storage} ${c.body} ${c.key}`, (c) => {
    const storage = progressStorage(storageSpec(goldens.progressStorages, c.storage));
    deepEqual(storage.fetch(c.key, bodyOf(c.body)) ?? null, c.record);
  });
});

Deno.test("progress storages clear the same keys from an essence as Kopf's", () => {
  check(
    goldens.progressClear,
    (c) => `${c.storage} ${JSON.stringify(c.essence).slice(0, 60)}`,
    (c) => {
      const storage = progressStorage(storageSpec(goldens.progressStorages, c.storage));
      deepEqual(storage.clear(c.essence), c.cleared);
    },
  );
});

Deno.test("diff-base storages build, store and fetch the same essences as Kopf's", () => {
  check(goldens.diffbase, (c) => `${c.storage} ${c.body} ${JSON.stringify(c.extraFields)}`, (c) => {
    const storage = diffbaseStorage(storageSpec(goldens.diffbaseStorages, c.storage));
    const body = bodyOf(c.body);
    const essence = storage.build(body, c.extraFields);
    deepEqual(essence, c.essence);
    deepEqual(Object.keys(essence), Object.keys(c.essence));
    const patch = new patches.Patch();
    storage.store(body, patch, essence);
    deepEqual(patch.toMergePatch(), c.patch);
    deepEqual(storage.fetch(body) ?? null, c.fetched);
  });
});

Deno.test("the stored diff-base after clearing the progress is byte-for-byte Kopf's", () => {
  check(goldens.pipeline, (c) => `${c.progress} ${c.diffbase} ${c.body}`, (c) => {
    const base = diffbaseStorage(storageSpec(goldens.diffbaseStorages, c.diffbase));
    const storage = progressStorage(storageSpec(goldens.progressStorages, c.progress));
    const body = bodyOf(c.body);
    const essence = storage.clear(base.build(body));
    deepEqual(essence, c.essence);
    const patch = new patches.Patch();
    base.store(body, patch, essence);
    deepEqual(patch.toMergePatch(), c.patch);
  });
});

Deno.test("finalizer functions produce Kopf's JSON patch operations", () => {
  check(goldens.finalizers, (c) => `${c.name} ${c.action}`, (c) => {
    equal(finalizers.isDeletionOngoing(c.body), c.ongoing);
    equal(finalizers.isDeletionBlocked(c.body, goldens.finalizer), c.blocked);
    const patch = new patches.Patch({ fns: [finalizers[c.action](goldens.finalizer)] });
    deepEqual(patch.asJsonPatch(c.body), c.ops);
  });
});

Deno.test("asJsonPatch() produces the operations of Kopf's jsonpatch library", () => {
  const cases = goldens.jsonPatches.filter((c) => !(c.name in DIVERGENCES));
  check(cases, (c) => c.name, (c) => {
    const patch = new patches.Patch({ body: c.merge, fns: c.fns.map(makeFn) });
    deepEqual(patch.asJsonPatch(bodyOf(c.body)), c.ops);
  });
});

Deno.test("the requests planned from a patch are those Kopf sends, test operations included", () => {
  const cases = goldens.requests.filter((c) => !(c.name in DIVERGENCES));
  check(cases, (c) => `${c.name} ${c.hasStatusSubresource}`, (c) => {
    const patch = new patches.Patch({ body: c.merge, fns: c.fns.map(makeFn) });
    deepEqual(plannedRequests(bodyOf(c.body), patch, c.hasStatusSubresource), c.requests);
  });
});

Deno.test("a null status is sent to /status, where Kopf drops it", () => {
  const kopf = goldens.requests.find((c) =>
    c.name === "status set to null" && c.hasStatusSubresource
  );
  deepEqual(kopf?.requests, []);
  const patch = new patches.Patch({ body: { status: null } });
  deepEqual(plannedRequests(bodyOf("crowded"), patch, true), [
    { subresource: "status", contentType: MERGE, payload: { status: null } },
  ]);
});

Deno.test("where jsonpatch moves a value, our operations give the same document", () => {
  const cases = goldens.jsonPatches.filter((c) => c.name in DIVERGENCES);
  check(cases, (c) => c.name, (c) => {
    const patch = new patches.Patch({ body: c.merge, fns: c.fns.map(makeFn) });
    const ours = patch.asJsonPatch(bodyOf(c.body));
    equal(ours.some((op) => op.op === "move"), false);
    const expected = fakePatches.applyJsonPatch(bodyOf(c.body), c.ops);
    deepEqual(fakePatches.applyJsonPatch(bodyOf(c.body), ours), expected);
  });
});

Deno.test("diff() and reduce() find Kopf's items (in any order)", () => {
  check(goldens.diffs, (c) => JSON.stringify([c.a, c.b]).slice(0, 60), (c) => {
    const d = diffs.diff(c.a, c.b);
    deepEqual(sortedDiff(d), c.diff);
    for (const [path, reduced] of Object.entries(c.reduced)) {
      deepEqual(sortedDiff(diffs.reduce(d, path)), reduced, `reduced to ${path}`);
    }
  });
});

Deno.test("Kopf's timestamps carry microseconds and +00:00, as ProgressRecord documents", () => {
  check(goldens.timestamps, (c) => c.iso, (c) => {
    equal(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/.test(c.formatted), true, c.formatted);
    equal(Date.parse(c.formatted), Date.parse(c.iso));
  });
});
