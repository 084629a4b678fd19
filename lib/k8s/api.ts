// Typed object operations on top of the transport: get, paginated list, create, replace,
// merge/JSON patch (also on the status subresource) and delete, for core and named groups,
// namespaced and cluster-scoped resources. No caching and no retries of its own.

import * as references from "../structs/references.ts";
import * as errors from "./errors.ts";
import type * as transports from "./transport.ts";

/** The metadata fields the framework reads; the rest passes through untouched. */
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: Record<string, unknown>[];
  [key: string]: unknown;
}

/** Any Kubernetes object. */
export interface KubernetesObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [key: string]: unknown;
}

/** A list response. */
export interface ObjectList<T = KubernetesObject> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

/** The result of listing every page: the items and the collection's resourceVersion. */
export interface Listing<T = KubernetesObject> {
  items: T[];
  resourceVersion: string;
}

/** Options that address objects. */
export interface TargetOptions {
  /** Required for namespaced resources unless listing/watching all namespaces. */
  namespace?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Options of a (paginated) list. */
export interface ListOptions extends TargetOptions {
  labelSelector?: string | undefined;
  fieldSelector?: string | undefined;
  /** The page size; defaults to `listPageSize` of the networking settings. */
  limit?: number | undefined;
  /** `"0"` allows a cached answer; unset asks for the most recent state. */
  resourceVersion?: string | undefined;
  resourceVersionMatch?: "NotOlderThan" | "Exact" | undefined;
}

/** Which patch format: RFC 7386 merge patch or RFC 6902 JSON patch. */
export type PatchType = "merge" | "json";

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  value?: unknown;
  from?: string;
}

const contentTypes: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
};

/** Reads one object. */
export function getObject<T = KubernetesObject>(
  transport: transports.Transport,
  resource: references.Resource,
  name: string,
  options: TargetOptions & { subresource?: string } = {},
): Promise<T> {
  const path = references.path(resource, {
    namespace: options.namespace,
    name,
    subresource: options.subresource,
  });
  return transport.request<T>("GET", path, { signal: options.signal });
}

/** Yields list pages, following `continue` tokens. */
export async function* listPages<T = KubernetesObject>(
  transport: transports.Transport,
  resource: references.Resource,
  options: ListOptions = {},
): AsyncGenerator<ObjectList<T>, void, undefined> {
  const path = references.path(resource, { namespace: options.namespace });
  let token: string | undefined;
  do {
    const page: ObjectList<T> = await transport.request<ObjectList<T>>("GET", path, {
      signal: options.signal,
      query: {
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        limit: options.limit ?? transport.settings.listPageSize,
        // The resourceVersion applies to the first page only; continue tokens carry it on.
        resourceVersion: token ? undefined : options.resourceVersion,
        resourceVersionMatch: token ? undefined : options.resourceVersionMatch,
        continue: token,
      },
    });
    yield page;
    token = page.metadata?.continue || undefined;
  } while (token);
}

/**
 * Lists every object of a collection as one consistent snapshot. When a continue token
 * expires (410) mid-way, the listing starts over, since a continued list after expiry is
 * not consistent; `listRestarts` bounds how often.
 */
export async function listObjects<T = KubernetesObject>(
  transport: transports.Transport,
  resource: references.Resource,
  options: ListOptions = {},
): Promise<Listing<T>> {
  for (let restart = 0;; restart++) {
    const items: T[] = [];
    let resourceVersion = "";
    let pages = 0;
    try {
      for await (const page of listPages<T>(transport, resource, options)) {
        items.push(...page.items);
        resourceVersion = page.metadata?.resourceVersion ?? "";
        pages++;
      }
      return { items, resourceVersion };
    } catch (error) {
      // Only an expired continue token is worth a restart; an expired first page is not.
      if (!(errors.isExpired(error) && pages > 0 && restart < transport.settings.listRestarts)) {
        throw error;
      }
    }
  }
}

/** Creates an object; `AlreadyExists` comes back as `ApiConflictError`. */
export function createObject<T = KubernetesObject>(
  transport: transports.Transport,
  resource: references.Resource,
  body: KubernetesObject,
  options: TargetOptions & { dryRun?: boolean } = {},
): Promise<T> {
  const namespace = options.namespace ?? body.metadata?.namespace;
  const path = references.path(resource, { namespace });
  const full = { apiVersion: references.apiVersion(resource), kind: resource.kind, ...body };
  return transport.request<T>("POST", path, {
    body: full,
    signal: options.signal,
    query: { dryRun: options.dryRun ? "All" : undefined },
  });
}

/** Replaces an object (PUT); a stale `metadata.resourceVersion` gives `ApiConflictError`. */
export function replaceObject<T = KubernetesObject>(
  transport: transports.Transport,
  resource: references.Resource,
  name: string,
  body: KubernetesObject,
  options: TargetOptions & { subresource?: string } = {},
): Promise<T> {
  const path = references.path(resource, {
    namespace: options.namespace,
    name,
    subresource: options.subresource,
  });
  return transport.request<T>("PUT", path, { body, signal: options.signal });
}

/**
 * Patches an object or its `status` subresource with a merge patch (an object) or a JSON
 * patch (a list of operations, e.g. a `test` on the resourceVersion before a finalizer change).
 */
export function patchObject<T = KubernetesObject>(
  transport: transports.Transport,
  resource: references.Resource,
  name: string,
  patch: Record<string, unknown> | JsonPatchOperation[],
  options: TargetOptions & { type?: PatchType; subresource?: string } = {},
): Promise<T> {
  const type = options.type ?? (Array.isArray(patch) ? "json" : "merge");
  const path = references.path(resource, {
    namespace: options.namespace,
    name,
    subresource: options.subresource,
  });
  return transport.request<T>("PATCH", path, {
    body: patch,
    contentType: contentTypes[type],
    signal: options.signal,
  });
}

/** Options of a delete. */
export interface DeleteOptions extends TargetOptions {
  /** Fail with 409 unless the object still has this uid / resourceVersion. */
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: "Orphan" | "Background" | "Foreground";
  gracePeriodSeconds?: number;
}

/**
 * Deletes an object. Returns the object as the server last had it (with `deletionTimestamp`
 * while finalizers hold it) or the server's `Status`.
 */
export function deleteObject<T = KubernetesObject>(
  transport: transports.Transport,
  resource: references.Resource,
  name: string,
  options: DeleteOptions = {},
): Promise<T> {
  const path = references.path(resource, { namespace: options.namespace, name });
  const body: Record<string, unknown> = {};
  if (options.preconditions) body.preconditions = options.preconditions;
  if (options.propagationPolicy) body.propagationPolicy = options.propagationPolicy;
  if (options.gracePeriodSeconds !== undefined) {
    body.gracePeriodSeconds = options.gracePeriodSeconds;
  }
  return transport.request<T>("DELETE", path, {
    body: Object.keys(body).length
      ? { apiVersion: "v1", kind: "DeleteOptions", ...body }
      : undefined,
    signal: options.signal,
  });
}
