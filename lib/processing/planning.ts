// Patch planning: from one cycle's accumulated Patch, the smallest set of requests to send —
// a merge patch of the object, a merge patch of /status (when the resource has that
// subresource), and JSON patches for the transformation functions (finalizers), each guarded
// by a test of the resourceVersion. Pure data: the runtime only sends what is planned.

import type * as references from "../structs/references.ts";
import * as patches from "../structs/patches.ts";

/** One planned request. */
export type PlannedRequest =
  | {
    readonly type: "merge";
    readonly subresource: "status" | undefined;
    readonly body: Record<string, unknown>;
  }
  | {
    readonly type: "json";
    readonly subresource: "status" | undefined;
    /**
     * The operations, without the guard: the runtime prepends
     * `{"op": "test", "path": "/metadata/resourceVersion", "value": <the freshest RV>}`
     * using the RV of the previous response of this plan (or of the body the plan was made on).
     */
    readonly ops: readonly patches.JsonPatchOperation[];
  };

/** Whether the resource's status lives in a subresource (then it is patched separately). */
export function hasStatusSubresource(resource: Pick<references.Resource, "subresources">): boolean {
  return resource.subresources?.includes("status") ?? false;
}

/**
 * Plans the requests for `patch` on `body`, in the order they must be sent: merge status,
 * merge object, JSON object, JSON status. Empty parts cost nothing.
 */
export function plan(
  patch: patches.Patch,
  body: Record<string, unknown>,
  resource: Pick<references.Resource, "subresources">,
): PlannedRequest[] {
  const requests: PlannedRequest[] = [];
  const subresource = hasStatusSubresource(resource);
  const { object, status } = patch.split(subresource);
  // Status first: a crash between the two then repeats a handler (its success is recorded in the
  // object's annotations, which come second) instead of losing its result for good.
  if (status) requests.push({ type: "merge", subresource: "status", body: status });
  if (object) requests.push({ type: "merge", subresource: undefined, body: object });
  // Only the functions go as a JSON patch (the merge document went above), as Kopf sends them.
  const ops = patch.fns.length ? new patches.Patch({ fns: patch.fns }).asJsonPatch(body) : [];
  const split = patches.splitJsonPatch(ops, subresource);
  if (split.object.length) {
    requests.push({ type: "json", subresource: undefined, ops: split.object });
  }
  if (split.status.length) {
    requests.push({ type: "json", subresource: "status", ops: split.status });
  }
  return requests;
}

/**
 * The operations with the guard the runtime puts in front: a `test` of the resourceVersion of
 * `freshest` — the body returned by the previous request of the plan, or the one it was made on.
 */
export function guarded(
  request: Extract<PlannedRequest, { type: "json" }>,
  freshest: Record<string, unknown>,
): patches.JsonPatchOperation[] {
  return patches.withResourceVersionTest(request.ops, freshest);
}
