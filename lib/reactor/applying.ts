// Sends one cycle's planned requests for one object, in order, and reports the freshest
// resourceVersion (for the consistency wait). A vanished object (404) ends it quietly; a JSON
// patch whose resourceVersion test fails (422: someone changed the object) is dropped — the
// next cycle plans it again from the newer state.

import type { Logger } from "@logtape/logtape";
import * as api from "../k8s/api.ts";
import * as errors from "../k8s/errors.ts";
import type * as transports from "../k8s/transport.ts";
import * as planning from "../processing/planning.ts";
import type * as references from "../structs/references.ts";

/** What sending a plan achieved. */
export interface Applied {
  /** The resourceVersion of the last successful response, if any request was sent. */
  readonly resourceVersion: string | undefined;
  /**
   * The resourceVersions of the earlier responses: states of the object between our writes,
   * which the watch delivers before the last one and which must never be acted upon.
   */
  readonly intermediate: readonly string[];
  /** The object no longer exists. */
  readonly gone: boolean;
  /** A guarded JSON patch met a newer object and was not applied. */
  readonly conflicted: boolean;
}

/** Sends the requests of a plan, stopping at the first that cannot apply. */
export async function apply(
  transport: transports.Transport,
  resource: references.Resource,
  body: api.KubernetesObject,
  requests: readonly planning.PlannedRequest[],
  logger: Logger,
  signal?: AbortSignal,
): Promise<Applied> {
  const name = body.metadata?.name ?? "";
  const namespace = body.metadata?.namespace;
  let freshest: api.KubernetesObject = body;
  let resourceVersion: string | undefined;
  const intermediate: string[] = [];
  for (const request of requests) {
    const options = {
      namespace,
      signal,
      ...(request.subresource ? { subresource: request.subresource } : {}),
    };
    try {
      if (request.type === "merge") {
        logger.debug(`Merge-patching the ${request.subresource ?? "object"}`, {
          patch: request.body,
        });
        freshest = await api.patchObject(transport, resource, name, request.body, {
          ...options,
          type: "merge",
        });
      } else {
        const ops = planning.guarded(request, freshest as Record<string, unknown>);
        logger.debug(`JSON-patching the ${request.subresource ?? "object"}`, { patch: ops });
        freshest = await api.patchObject(transport, resource, name, ops, {
          ...options,
          type: "json",
        });
      }
      const written = freshest.metadata?.resourceVersion;
      if (written !== undefined) {
        if (resourceVersion !== undefined) intermediate.push(resourceVersion);
        resourceVersion = written;
      }
    } catch (error) {
      if (error instanceof errors.ApiNotFoundError) {
        logger.debug("Patching was skipped: the object does not exist anymore");
        return { resourceVersion, intermediate, gone: true, conflicted: false };
      }
      if (error instanceof errors.ApiInvalidError && request.type === "json") {
        logger.debug(
          "The object changed meanwhile; the rest of the patch waits for the next cycle",
        );
        return { resourceVersion, intermediate, gone: false, conflicted: true };
      }
      throw error;
    }
  }
  return { resourceVersion, intermediate, gone: false, conflicted: false };
}
