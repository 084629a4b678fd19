// Writes of the fake API server: create, update and patch with the rules of kube-apiserver's
// generic registry: system metadata, resourceVersion preconditions, generation, the status
// subresource, finalizers of objects being deleted, CRD validation, and no-op detection.

import * as objects from "./fake_objects.ts";
import * as patches from "./fake_patches.ts";
import { isObject } from "./fake_patches.ts";
import type { ReadTarget } from "./fake_reads.ts";
import * as resources from "./fake_resources.ts";
import type { ResourceInfo } from "./fake_resources.ts";
import * as statuses from "./fake_statuses.ts";
import type { FieldError, Json } from "./fake_statuses.ts";
import { keyOf } from "./fake_storage.ts";
import type { Change, ChangeType, Collection, Storage } from "./fake_storage.ts";

/** What the write path needs from the fake: storage, namespaces, and commits with reactions. */
export interface Cluster {
  readonly storage: Storage;
  /** The phase of a namespace, `undefined` when it does not exist. */
  namespacePhase(name: string): string | undefined;
  /** Commits and lets the fake's controllers react (CRDs, namespaces). */
  commit(
    resource: ResourceInfo,
    collection: Collection,
    type: ChangeType,
    key: string,
    object: Json,
    prev: Json | undefined,
  ): Change;
}

export interface WriteTarget extends ReadTarget {
  subresource: string | undefined;
}

export interface WriteResult {
  status: number;
  body: unknown;
}

const JSON_PATCH = "application/json-patch+json";
const MERGE_PATCH = "application/merge-patch+json";
const STRATEGIC_PATCH = "application/strategic-merge-patch+json";
const APPLY_PATCH = "application/apply-patch+yaml";
export function create(
  cluster: Cluster,
  t: WriteTarget,
  body: unknown,
  query: URLSearchParams,
): WriteResult {
  const r = t.resource;
  const dryRun = objects.isDryRun(query, "CreateOptions");
  const object = objects.typed(r, body);
  const metadata = object.metadata as Json;
  objects.matchNamespace(r, t.namespace, metadata);
  if (!metadata.name && typeof metadata.generateName === "string" && metadata.generateName) {
    metadata.name = objects.generatedName(metadata.generateName);
  }
  const name = typeof metadata.name === "string" ? metadata.name : "";
  if (!name) {
    throw statuses.invalid(objects.gk(r), "", [{
      type: "FieldValueRequired",
      field: "metadata.name",
      detail: "name or generateName is required",
    }]);
  }
  if (t.namespace !== undefined && r.namespaced) {
    const phase = cluster.namespacePhase(t.namespace);
    if (phase === undefined) {
      throw statuses.notFound({ group: "", resource: "namespaces" }, t.namespace);
    }
    if (phase === "Terminating") {
      const error = statuses.forbidden(
        objects.gr(r),
        name,
        `unable to create new content in namespace ${t.namespace} because it is being terminated`,
      );
      error.status.details!.causes = [{
        reason: "NamespaceTerminating",
        message: `namespace ${t.namespace} is being terminated`,
        field: "metadata.namespace",
      }];
      throw error;
    }
  }
  const errors = objects.nameErrors(r, name);
  if (resources.isCrd(r)) errors.push(...resources.validateCrd(object));
  if (errors.length > 0) throw statuses.invalid(objects.gk(r), name, errors);
  const key = keyOf(r.namespaced ? t.namespace : undefined, name);
  if (t.collection.objects.has(key)) throw statuses.alreadyExists(objects.gr(r), name);

  for (
    const field of [
      "resourceVersion",
      "deletionTimestamp",
      "deletionGracePeriodSeconds",
      "selfLink",
    ]
  ) {
    delete metadata[field];
  }
  metadata.uid = crypto.randomUUID();
  metadata.creationTimestamp = resources.timestamp();
  if (r.tracksGeneration) metadata.generation = 1;
  else delete metadata.generation;
  if (r.subresources.includes("status") && !r.builtin) delete object.status;
  resources.applyDefaults(r, object, true);
  if (resources.isCrd(r)) {
    object.status = resources.crdStatus(object, undefined, resources.timestamp());
  }
  if (dryRun) return { status: 201, body: object };
  const change = cluster.commit(r, t.collection, "ADDED", key, object, undefined);
  return { status: 201, body: resources.viewOf(r, change.object) };
}

/** PUT of an object or its status. */
export function update(
  cluster: Cluster,
  t: WriteTarget,
  body: unknown,
  query: URLSearchParams,
): WriteResult {
  const r = t.resource;
  const dryRun = objects.isDryRun(query, "UpdateOptions");
  const object = objects.typed(r, body);
  const metadata = object.metadata as Json;
  objects.checkName(metadata, t.name);
  objects.matchNamespace(r, t.namespace, metadata);
  const key = keyOf(r.namespaced ? t.namespace : undefined, t.name ?? "");
  const old = t.collection.objects.get(key);
  if (!old) throw statuses.notFound(objects.gr(r), t.name ?? "");
  return commitUpdate(cluster, t, old, object, dryRun);
}

/** PATCH of an object or its status, in any of the four patch types the resource accepts. */
export function patch(
  cluster: Cluster,
  t: WriteTarget,
  contentType: string,
  text: string,
  query: URLSearchParams,
): WriteResult {
  const r = t.resource;
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  const accepted = r.builtin
    ? [JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH]
    : [JSON_PATCH, MERGE_PATCH, APPLY_PATCH];
  if (!accepted.includes(type)) throw statuses.unsupportedMediaType(accepted);
  const errors: FieldError[] = [];
  if (type === APPLY_PATCH && !query.get("fieldManager")) {
    errors.push({
      type: "FieldValueRequired",
      field: "fieldManager",
      detail: "is required for apply patch",
    });
  }
  if (type !== APPLY_PATCH && query.has("force")) {
    errors.push({
      type: "FieldValueForbidden",
      field: "force",
      detail: "may not be specified for non-apply patch",
    });
  }
  if (errors.length > 0) {
    throw statuses.invalid({ group: "meta.k8s.io", kind: "PatchOptions" }, "", errors);
  }
  const dryRun = objects.isDryRun(query, "PatchOptions");
  const body = objects.parseBody(text);
  const key = keyOf(r.namespaced ? t.namespace : undefined, t.name ?? "");
  const old = t.collection.objects.get(key);
  if (!old) {
    // Server-side apply creates what does not exist; every other patch needs an object.
    if (type !== APPLY_PATCH || t.subresource) throw statuses.notFound(objects.gr(r), t.name ?? "");
    const object = objects.typed(r, body);
    objects.checkName(object.metadata as Json, t.name);
    return create(cluster, t, object, query);
  }
  const current = resources.viewOf(r, old);
  let patched: unknown;
  if (type === JSON_PATCH) patched = patches.applyJsonPatch(current, body);
  else if (type === STRATEGIC_PATCH) patched = patches.strategicMerge(current, body);
  else if (isObject(body)) patched = patches.merge(current, body);
  else throw statuses.badRequest("the patch must be a JSON object");
  const object = objects.typed(r, patched);
  const metadata = object.metadata as Json;
  objects.matchNamespace(r, t.namespace, metadata);
  objects.checkName(metadata, t.name);
  return commitUpdate(cluster, t, old, object, dryRun);
}

// The shared tail of PUT and PATCH: preconditions, strategy, metadata rules, then the commit.
function commitUpdate(
  cluster: Cluster,
  t: WriteTarget,
  old: Json,
  candidate: Json,
  dryRun: boolean,
): WriteResult {
  const r = t.resource;
  const name = t.name ?? "";
  const oldMeta = old.metadata as Json;
  const rv = (candidate.metadata as Json).resourceVersion;
  if (rv === undefined || rv === "") {
    if (!r.builtin) {
      throw statuses.invalid({ group: r.group, kind: r.plural }, name, [
        {
          type: "FieldValueInvalid",
          field: "metadata.resourceVersion",
          value: 0,
          detail: "must be specified for an update",
        },
      ]);
    }
  } else if (typeof rv !== "string" || !/^\d+$/.test(rv)) {
    throw statuses.badRequest(`invalid resource version: ${JSON.stringify(rv)}`);
  } else if (rv !== oldMeta.resourceVersion) {
    throw statuses.conflict(objects.gr(r), name, statuses.OBJECT_MODIFIED);
  }

  let next: Json;
  if (t.subresource === "status") {
    // The status strategy keeps everything of the stored object except its status.
    next = structuredClone(old);
    if (Object.hasOwn(candidate, "status")) next.status = structuredClone(candidate.status);
    else delete next.status;
  } else {
    next = candidate;
    if (r.subresources.includes("status")) {
      if (Object.hasOwn(old, "status")) next.status = structuredClone(old.status);
      else delete next.status;
    }
  }
  next.apiVersion = old.apiVersion;
  const meta = next.metadata as Json;
  const errors: FieldError[] = [];
  if (meta.uid === undefined || meta.uid === "") meta.uid = oldMeta.uid;
  else if (meta.uid !== oldMeta.uid) {
    errors.push({
      type: "FieldValueInvalid",
      field: "metadata.uid",
      value: meta.uid,
      detail: "field is immutable",
    });
  }
  meta.creationTimestamp = oldMeta.creationTimestamp;
  meta.resourceVersion = oldMeta.resourceVersion;
  if (oldMeta.generation === undefined) delete meta.generation;
  else meta.generation = oldMeta.generation;
  if (oldMeta.deletionTimestamp !== undefined) {
    meta.deletionTimestamp = oldMeta.deletionTimestamp;
    if (meta.deletionGracePeriodSeconds === undefined) {
      meta.deletionGracePeriodSeconds = oldMeta.deletionGracePeriodSeconds;
    }
    const added = objects.finalizersOf(next).filter((f) => !objects.finalizersOf(old).includes(f));
    if (added.length > 0) {
      const list = [...new Set(added)].sort().map((f) => JSON.stringify(f)).join(", ");
      errors.push({
        type: "FieldValueForbidden",
        field: "metadata.finalizers",
        detail:
          `no new finalizers can be added if the object is being deleted, found new finalizers []string{${list}}`,
      });
    }
  } else if (meta.deletionTimestamp !== undefined) {
    errors.push({
      type: "FieldValueInvalid",
      field: "metadata.deletionTimestamp",
      value: meta.deletionTimestamp,
      detail: "field is immutable",
    });
  }
  if (resources.isCrd(r)) errors.push(...resources.validateCrd(next));
  if (errors.length > 0) throw statuses.invalid(objects.gk(r), name, errors);

  resources.applyDefaults(r, next, false);
  if (resources.isCrd(r)) {
    next.status = resources.crdStatus(next, old.status, resources.timestamp());
  }
  if (r.tracksGeneration && t.subresource !== "status" && typeof meta.generation === "number") {
    const { metadata: _a, ...nextRest } = next;
    const { metadata: _b, ...oldRest } = old;
    if (!patches.deepEqual(nextRest, oldRest)) meta.generation = meta.generation + 1;
  }
  if (patches.deepEqual(next, old)) return { status: 200, body: resources.viewOf(r, old) };
  if (dryRun) return { status: 200, body: resources.viewOf(r, next) };
  const key = keyOf(r.namespaced ? t.namespace : undefined, name);
  if (meta.deletionTimestamp !== undefined && objects.finalizersOf(next).length === 0) {
    // The registry deletes instead of writing the emptied finalizers: watchers see DELETED
    // with the last stored state, and the caller gets the object it asked for.
    cluster.commit(r, t.collection, "DELETED", key, old, old);
    return { status: 200, body: resources.viewOf(r, next) };
  }
  const change = cluster.commit(r, t.collection, "MODIFIED", key, next, old);
  return { status: 200, body: resources.viewOf(r, change.object) };
}
