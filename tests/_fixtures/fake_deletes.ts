// Deletes of the fake API server: preconditions, immediate removal with a Success Status, or
// marking with deletionTimestamp when finalizers (or the CRD and namespace lifecycles) must run
// first; and deletecollection over the selectors.

import * as objects from "./fake_objects.ts";
import { isObject } from "./fake_patches.ts";
import * as resources from "./fake_resources.ts";
import * as selectors from "./fake_selectors.ts";
import * as statuses from "./fake_statuses.ts";
import type { Json } from "./fake_statuses.ts";
import { keyOf } from "./fake_storage.ts";
import type { Cluster, WriteResult, WriteTarget } from "./fake_writes.ts";

interface DeleteOptions {
  uid?: unknown;
  resourceVersion?: unknown;
  propagationPolicy?: unknown;
}

function deleteOptions(text: string, query: URLSearchParams): DeleteOptions {
  const body = text.trim() ? objects.parseBody(text) : {};
  const options: DeleteOptions = {};
  if (isObject(body)) {
    const pre = isObject(body.preconditions) ? body.preconditions : {};
    if (pre.uid !== undefined && pre.uid !== null) options.uid = pre.uid;
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== null) {
      options.resourceVersion = pre.resourceVersion;
    }
    if (body.propagationPolicy !== undefined) options.propagationPolicy = body.propagationPolicy;
  }
  const policy = query.get("propagationPolicy");
  if (policy !== null) options.propagationPolicy = policy;
  return options;
}

/** DELETE of one object: at once, or by marking it when finalizers must run first. */
export function remove(
  cluster: Cluster,
  t: WriteTarget,
  text: string,
  query: URLSearchParams,
): WriteResult {
  const r = t.resource;
  const name = t.name ?? "";
  const dryRun = objects.isDryRun(query, "DeleteOptions");
  const options = deleteOptions(text, query);
  const key = keyOf(r.namespaced ? t.namespace : undefined, name);
  const old = t.collection.objects.get(key);
  if (!old) throw statuses.notFound(objects.gr(r), name);
  const oldMeta = old.metadata as Json;
  if (options.uid !== undefined && options.uid !== oldMeta.uid) {
    throw statuses.conflict(
      objects.gr(r),
      name,
      `Precondition failed: UID in precondition: ${options.uid}, UID in object meta: ${oldMeta.uid}`,
    );
  }
  if (
    options.resourceVersion !== undefined && options.resourceVersion !== oldMeta.resourceVersion
  ) {
    throw statuses.conflict(
      objects.gr(r),
      name,
      `Precondition failed: ResourceVersion in precondition: ${options.resourceVersion}, ResourceVersion in object meta: ${oldMeta.resourceVersion}`,
    );
  }
  if (oldMeta.deletionTimestamp !== undefined) {
    return { status: 200, body: resources.viewOf(r, old) };
  }

  const finalizers = objects.finalizersOf(old);
  const extra = [
    ...(options.propagationPolicy === "Orphan" ? ["orphan"] : []),
    ...(options.propagationPolicy === "Foreground" ? ["foregroundDeletion"] : []),
    ...(resources.isCrd(r) ? [resources.CRD_CLEANUP_FINALIZER] : []),
  ];
  for (const f of extra) if (!finalizers.includes(f)) finalizers.push(f);
  if (finalizers.length === 0 && !resources.isNamespaces(r)) {
    if (!dryRun) cluster.commit(r, t.collection, "DELETED", key, old, old);
    return { status: 200, body: statuses.deleted(objects.gr(r), name, String(oldMeta.uid ?? "")) };
  }
  const next = structuredClone(old);
  const meta = next.metadata as Json;
  if (typeof meta.generation === "number" && meta.generation > 0) meta.generation += 1;
  meta.deletionTimestamp = resources.timestamp();
  meta.deletionGracePeriodSeconds = 0;
  if (finalizers.length > 0) meta.finalizers = finalizers;
  if (resources.isNamespaces(r)) next.status = { ...(next.status as Json), phase: "Terminating" };
  if (resources.isCrd(r)) {
    const status = isObject(next.status) ? next.status : {};
    const conditions = Array.isArray(status.conditions) ? status.conditions : [];
    next.status = {
      ...status,
      conditions: [...conditions, {
        type: "Terminating",
        status: "True",
        lastTransitionTime: meta.deletionTimestamp,
        reason: "InstanceDeletionPending",
        message:
          "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
      }],
    };
  }
  if (dryRun) return { status: 200, body: resources.viewOf(r, next) };
  const change = cluster.commit(r, t.collection, "MODIFIED", key, next, old);
  return { status: 200, body: resources.viewOf(r, change.object) };
}

/** DELETE of a collection: every object the selectors match, as a list of what was there. */
export function removeCollection(
  cluster: Cluster,
  t: WriteTarget,
  text: string,
  query: URLSearchParams,
): WriteResult {
  const r = t.resource;
  const labels = selectors.labelSelector(query.get("labelSelector") ?? "");
  const fields = selectors.fieldSelector(query.get("fieldSelector") ?? "", r.fieldSelectors);
  const items: Json[] = [];
  for (const object of [...t.collection.objects.values()]) {
    const metadata = object.metadata as Json;
    if (t.namespace !== undefined && metadata.namespace !== t.namespace) continue;
    if (!labels(object) || !fields(object)) continue;
    items.push(resources.viewOf(r, object));
    const name = String(metadata.name);
    remove(cluster, { ...t, name, subresource: undefined }, text, query);
  }
  return {
    status: 200,
    body: {
      kind: r.listKind,
      apiVersion: resources.apiVersionOf(r),
      metadata: { resourceVersion: String(cluster.storage.rv) },
      items,
    },
  };
}
