// Finalizers: whether an object is being deleted, whether our finalizer blocks it, and the
// transformation functions that add or remove the finalizer (sent by Kopf 1.44+ as an atomic
// JSON patch guarded by a resourceVersion test). Used by processing/; never does I/O.

import * as bodies from "./bodies.ts";
import type * as patches from "./patches.ts";

/** Whether the object is marked for deletion (has a `metadata.deletionTimestamp`). */
export function isDeletionOngoing(body: bodies.RawBody): boolean {
  const timestamp = bodies.resolve(body, ["metadata", "deletionTimestamp"], null);
  return timestamp !== null && timestamp !== undefined;
}

/** Whether the object carries the finalizer in `metadata.finalizers`. */
export function hasFinalizer(body: bodies.RawBody, finalizer: string): boolean {
  const finalizers = bodies.resolve(body, ["metadata", "finalizers"], []);
  return Array.isArray(finalizers) && finalizers.includes(finalizer);
}

/**
 * Whether the operator's finalizer blocks the object's deletion (Kopf's name for
 * `hasFinalizer`): the object cannot go away until the finalizer is removed.
 */
export function isDeletionBlocked(body: bodies.RawBody, finalizer: string): boolean {
  return hasFinalizer(body, finalizer);
}

/**
 * A transformation that appends the finalizer unless it is there already, creating
 * `metadata.finalizers` (and `metadata`) if needed.
 *
 * @example Adding the finalizer through the patch
 * ```ts
 * import * as finalizers from "./finalizers.ts";
 * import * as patches from "./patches.ts";
 * const patch = new patches.Patch();
 * patch.fns.push(finalizers.appendFinalizer("kopf.zalando.org/KopfFinalizerMarker"));
 * patch.asJsonPatch({ metadata: { resourceVersion: "7" } });
 * // [{ op: "add", path: "/metadata/finalizers", value: ["kopf.zalando.org/KopfFinalizerMarker"] }]
 * ```
 */
export function appendFinalizer(finalizer: string): patches.PatchFn {
  return (body) => {
    if (hasFinalizer(body, finalizer)) return;
    const metadata = bodies.isObject(body.metadata) ? body.metadata : (body.metadata = {});
    if (Array.isArray(metadata.finalizers)) metadata.finalizers.push(finalizer);
    else metadata.finalizers = [finalizer];
  };
}

/**
 * A transformation that removes every occurrence of the finalizer, then `metadata.finalizers`
 * if it is left empty, then `metadata` if that is left empty (as Kopf does).
 */
export function removeFinalizer(finalizer: string): patches.PatchFn {
  return (body) => {
    const metadata = body.metadata;
    if (!bodies.isObject(metadata)) return;
    const finalizers = metadata.finalizers;
    if (Array.isArray(finalizers)) {
      for (let i = finalizers.indexOf(finalizer); i >= 0; i = finalizers.indexOf(finalizer)) {
        finalizers.splice(i, 1);
      }
    }
    const list = metadata.finalizers;
    const emptyList = Array.isArray(list) ? list.length === 0 : !list;
    if (Object.hasOwn(metadata, "finalizers") && emptyList) delete metadata.finalizers;
    if (Object.keys(metadata).length === 0) delete body.metadata;
  };
}
