// Admission reviews: one AdmissionReview from the API server → the matching `on.validate` and
// `on.mutate` handlers → one response (allowed or the reason why not, warnings, and a JSONPatch
// computed from the handlers' `patch`). Called by the webhook server (reactor/webhooks.ts) per
// request. Never listens on a socket, never talks to the API server, never retries a handler.

import { getLogger, type Logger } from "@logtape/logtape";
import * as handlingContexts from "../handling/contexts.ts";
import * as handlingErrors from "../handling/errors.ts";
import type * as admission from "../registry/admission.ts";
import type * as contexts from "../registry/contexts.ts";
import * as filters from "../registry/filters.ts";
import * as selectors from "../registry/selectors.ts";
import * as bodies from "../structs/bodies.ts";
import * as diffs from "../structs/diffs.ts";
import type * as indexes from "../structs/indexes.ts";
import * as patches from "../structs/patches.ts";
import type * as references from "../structs/references.ts";

const log = getLogger(["kopf", "admission"]);

/**
 * Rejects the API request under admission with this message and HTTP code: what the client
 * (kubectl) shows. Other errors reject too (`PermanentError`, `TemporaryError`: code 500), but
 * an unexpected error fails the webhook call itself, so the webhook's failure policy decides
 * (`ignoreFailures`).
 *
 * @example Rejecting with a 422
 * ```ts
 * import { AdmissionError } from "./admission.ts";
 * function check(size: unknown): void {
 *   if (typeof size !== "number") throw new AdmissionError("spec.size must be a number", { code: 422 });
 * }
 * check(1);
 * ```
 */
export class AdmissionError extends handlingErrors.PermanentError {
  override name = "AdmissionError";
  /** The HTTP status code the client gets. @default {500, as Kopf} */
  readonly code: number;
  constructor(message?: string, options: { code?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.code = options.code ?? 500;
  }
}

/**
 * The webhook request itself is wrong or failed, not the API request under review: the server
 * answers with `status` (and the API server applies the webhook's failure policy).
 *
 * @example
 * ```ts
 * import { WebhookError } from "./admission.ts";
 * new WebhookError(400, "The body is not an AdmissionReview").status; // 400
 * ```
 */
export class WebhookError extends Error {
  override name = "WebhookError";
  /** The HTTP status of the answer. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The `request` of an AdmissionReview, as far as the framework reads it. */
export interface AdmissionRequest {
  readonly uid: string;
  readonly kind?: { readonly group?: string; readonly version?: string; readonly kind?: string };
  readonly resource: {
    readonly group: string;
    readonly version: string;
    readonly resource: string;
  };
  readonly subResource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly operation: admission.Operation;
  readonly userInfo: admission.UserInfo;
  readonly object?: bodies.RawBody | null;
  readonly oldObject?: bodies.RawBody | null;
  readonly dryRun?: boolean;
}

/** An AdmissionReview as the API server sends it. */
export interface AdmissionReview {
  readonly apiVersion: string;
  readonly kind: "AdmissionReview";
  readonly request: AdmissionRequest;
}

/** The `response` of an AdmissionReview. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  warnings?: string[];
  status?: { code: number; message: string };
  /** Base64 of the JSON patch. */
  patch?: string;
  patchType?: "JSONPatch";
}

/** The answer to an AdmissionReview. */
export interface AdmissionReviewResponse {
  apiVersion: string;
  kind: "AdmissionReview";
  response: AdmissionResponse;
}

/** What the review of one request needs besides the request. */
export interface ReviewOptions {
  /** Every admission handler of the operator (`registry.admission.webhooks()`). */
  readonly handlers: readonly admission.WebhookHandler[];
  /** The handler id from the URL path; undefined runs every matching handler (Kopf's rule). */
  readonly webhook?: string | undefined;
  /** The discovered resources: selectors by kind or short name need them. */
  readonly resources: readonly references.Resource[];
  /** The API server's request headers, given to handlers as `headers`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The operator memo: each request's handlers get a shallow copy. @default {{}} */
  readonly memo?: contexts.Memo;
  /** The operator's indexes, as context fields named by their ids. */
  readonly indexes?: indexes.Indexes | undefined;
  /** Aborted when the operator stops. */
  readonly signal?: AbortSignal;
  /** The logger of one object. @default {the "kopf.admission" logger} */
  readonly loggerOf?: (resource: references.Resource, body: bodies.RawBody) => Logger;
}

/**
 * Checks that a parsed JSON body is an AdmissionReview with what the framework needs, and
 * returns it typed.
 *
 * @throws {WebhookError} 400 naming the first missing or malformed field.
 *
 * @example
 * ```ts
 * import { parseReview } from "./admission.ts";
 * parseReview({
 *   apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
 *   request: { uid: "1", operation: "CREATE", userInfo: {}, object: { metadata: {} },
 *     resource: { group: "kopf.dev", version: "v1", resource: "kopfexamples" } },
 * }).request.operation; // "CREATE"
 * ```
 */
export function parseReview(data: unknown): AdmissionReview {
  const bad = (detail: string): never => {
    throw new WebhookError(400, `The body is not an AdmissionReview: ${detail}`);
  };
  if (!bodies.isObject(data)) return bad("it is not a JSON object");
  if (data.kind !== "AdmissionReview") return bad(`"kind" is ${JSON.stringify(data.kind)}`);
  const request = data.request;
  if (!bodies.isObject(request)) return bad(`"request" is missing`);
  if (typeof request.uid !== "string" || request.uid === "") {
    return bad(`"request.uid" is missing`);
  }
  const resource = request.resource;
  if (
    !bodies.isObject(resource) || typeof resource.group !== "string" ||
    typeof resource.version !== "string" || typeof resource.resource !== "string"
  ) {
    return bad(`"request.resource" needs group, version and resource`);
  }
  if (!["CREATE", "UPDATE", "DELETE", "CONNECT"].includes(request.operation as string)) {
    return bad(`"request.operation" is ${JSON.stringify(request.operation)}`);
  }
  if (!bodies.isObject(request.userInfo)) return bad(`"request.userInfo" is missing`);
  if (!bodies.isObject(request.object) && !bodies.isObject(request.oldObject)) {
    return bad(`neither "request.object" nor "request.oldObject" is an object`);
  }
  return data as unknown as AdmissionReview;
}

/**
 * Reviews one request: runs the matching handlers one after another (sharing `patch` and
 * `warnings`) and answers. Allowed unless a handler threw; the error shown is the most specific
 * one (`AdmissionError`, then `PermanentError`, then `TemporaryError`). Mutating handlers'
 * patch comes back as a JSONPatch against `request.object`.
 *
 * @throws {WebhookError} 404 for an unknown handler id or a resource no handler serves; 500
 * when handlers threw only unexpected errors (the webhook's failure policy then decides).
 *
 * @example Allowing a creation with a label added
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { OperatorRegistry } from "../registry/registries.ts";
 * import * as on from "../registry/admission.ts";
 * import { parseReview, review } from "./admission.ts";
 *
 * const registry = new OperatorRegistry();
 * on.mutate("kopfexamples.v1.kopf.dev", { registry }, function add_label({ patch }) {
 *   patch.metadata.labels.mutated = "yes";
 * });
 * const request = parseReview({
 *   apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview",
 *   request: { uid: "1", operation: "CREATE", userInfo: {}, object: { metadata: { name: "x" } },
 *     resource: { group: "kopf.dev", version: "v1", resource: "kopfexamples" } },
 * });
 * const answer = await review(request, { handlers: registry.admission.webhooks(), resources: [] });
 * equal(answer.response.allowed, true);
 * equal(atob(answer.response.patch!), '[{"op":"add","path":"/metadata/labels","value":{"mutated":"yes"}}]');
 * ```
 */
export async function review(
  request: AdmissionReview,
  options: ReviewOptions,
): Promise<AdmissionReviewResponse> {
  const payload = request.request;
  const webhook = options.webhook;
  let candidates = options.handlers;
  if (webhook !== undefined) {
    candidates = candidates.filter((h) => h.id === webhook);
    if (candidates.length === 0) {
      throw new WebhookError(404, `No admission handler has the id "${webhook}"`);
    }
  }
  const resource = findResource(payload, options.resources);
  const serving = candidates.filter((h) =>
    h.selector !== undefined && selectors.check(selectors.parse(h.selector), resource)
  );
  if (serving.length === 0 && webhook === undefined) {
    throw new WebhookError(
      404,
      `No admission handler serves ${describeResource(payload.resource)}`,
    );
  }
  const newBody = bodies.isObject(payload.object) ? payload.object : undefined;
  const oldBody = bodies.isObject(payload.oldObject) ? payload.oldObject : undefined;
  const body = (newBody ?? oldBody) as contexts.Body;
  const patch = new patches.Patch();
  const warnings: string[] = [];
  const logger = options.loggerOf?.(resource, body) ?? log;
  const subject: handlingContexts.Subject = {
    body,
    resource,
    patch,
    logger,
    memo: { ...options.memo },
    indexes: options.indexes,
  };
  const signal = options.signal ?? new AbortController().signal;
  const diff = diffs.diff(oldBody, newBody);
  const contextOf = (handler: admission.WebhookHandler): admission.AdmissionContext => ({
    ...handlingContexts.resourceContext(subject, handler, signal),
    reason: handler.kind,
    operation: payload.operation,
    subresource: payload.subResource || undefined,
    dryrun: Boolean(payload.dryRun),
    userInfo: payload.userInfo,
    warnings,
    headers: options.headers ?? {},
    webhook,
    old: oldBody as contexts.Body | undefined,
    new: newBody as contexts.Body | undefined,
    diff,
    ...options.indexes,
  });

  const failures: unknown[] = [];
  let mutated = false;
  for (const handler of serving) {
    if (!applies(handler, payload)) continue;
    const context = contextOf(handler);
    if (!matches(handler, body, context)) continue;
    if (handler.kind === "mutating") mutated = true;
    try {
      await handler.fn(context);
      logger.debug(`Webhook '${handler.id}' succeeded`);
    } catch (error) {
      failures.push(error);
      const text = handlingErrors.describe(error);
      if (error instanceof AdmissionError) {
        logger.info(`Webhook '${handler.id}' rejected the request: ${text}`);
      } else if (
        error instanceof handlingErrors.PermanentError ||
        error instanceof handlingErrors.TemporaryError
      ) {
        logger.warning(`Webhook '${handler.id}' rejected the request: ${text}`);
      } else {
        logger.error(`Webhook '${handler.id}' failed with an unexpected error: ${text}`, {
          error,
        });
      }
    }
  }
  const ops = failures.length === 0 && mutated && newBody !== undefined
    ? jsonPatch(patch, newBody)
    : [];
  if (!mutated && !patch.isEmpty()) {
    logger.warning("Validating webhooks cannot change the object: their patch is ignored");
  }
  return buildResponse(request, { failures, warnings, patch: ops });
}

/**
 * The answer to a review from what the handlers did: allowed if nothing failed; else the most
 * specific failure's message and code. Only unexpected failures: a `WebhookError` 500.
 *
 * @throws {WebhookError} 500 when every failure is unexpected.
 *
 * @example A rejection
 * ```ts
 * import { AdmissionError, buildResponse } from "./admission.ts";
 * const request = { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" as const,
 *   request: { uid: "7" } } as Parameters<typeof buildResponse>[0];
 * buildResponse(request, { failures: [new AdmissionError("no", { code: 403 })], warnings: [], patch: [] })
 *   .response; // { uid: "7", allowed: false, status: { code: 403, message: "no" } }
 * ```
 */
export function buildResponse(
  request: AdmissionReview,
  outcome: {
    failures: readonly unknown[];
    warnings: readonly string[];
    patch: readonly patches.JsonPatchOperation[];
  },
): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid: request.request.uid, allowed: true };
  if (outcome.warnings.length > 0) response.warnings = outcome.warnings.map(String);
  const ranked = [...outcome.failures].sort((a, b) => rank(a) - rank(b));
  const first = ranked[0];
  if (first !== undefined && rank(first) === UNEXPECTED) {
    throw new WebhookError(500, `The admission handlers failed: ${handlingErrors.describe(first)}`);
  }
  if (first !== undefined) {
    response.allowed = false;
    response.status = {
      code: first instanceof AdmissionError ? first.code : 500,
      message: handlingErrors.describe(first),
    };
  } else if (outcome.patch.length > 0) {
    response.patch = base64(JSON.stringify(outcome.patch));
    response.patchType = "JSONPatch";
  }
  return {
    apiVersion: request.apiVersion || "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response,
  };
}

/**
 * The JSONPatch that applies a handler's `patch` (merge document and `fns`) to the object under
 * admission: empty when nothing changes. Paths are escaped (RFC 6901); `null` removes a field.
 *
 * @example
 * ```ts
 * import { Patch } from "../structs/patches.ts";
 * import { jsonPatch } from "./admission.ts";
 * const patch = new Patch();
 * patch.spec.size = 2;
 * jsonPatch(patch, { spec: { size: 1 } }); // [{ op: "replace", path: "/spec/size", value: 2 }]
 * ```
 */
export function jsonPatch(
  patch: patches.Patch,
  body: bodies.RawBody,
): patches.JsonPatchOperation[] {
  return patch.asJsonPatch(body);
}

const UNEXPECTED = 9;

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  // In chunks: spreading a large array into one call overflows the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function rank(error: unknown): number {
  if (error instanceof AdmissionError) return 0;
  if (error instanceof handlingErrors.PermanentError) return 1;
  if (error instanceof handlingErrors.TemporaryError) return 2;
  return UNEXPECTED;
}

/** Operations, subresource, and Kopf's rule: mutating handlers skip deletions unless only for them. */
function applies(handler: admission.WebhookHandler, payload: AdmissionRequest): boolean {
  if (handler.operations !== undefined && !handler.operations.includes(payload.operation)) {
    return false;
  }
  if ((handler.subresource ?? "") !== (payload.subResource ?? "")) return false;
  if (handler.kind === "mutating" && payload.operation === "DELETE") {
    return handler.operations?.length === 1 && handler.operations[0] === "DELETE";
  }
  return true;
}

function matches(
  handler: admission.WebhookHandler,
  body: contexts.Body,
  context: unknown,
): boolean {
  const metadata = body.metadata ?? {};
  return filters.matchesMeta(handler.labels, metadata.labels, context) &&
    filters.matchesMeta(handler.annotations, metadata.annotations, context) &&
    filters.matchesValue(handler, { body }, context) &&
    filters.matchesWhen(handler, context);
}

function findResource(
  payload: AdmissionRequest,
  resources: readonly references.Resource[],
): references.Resource {
  const { group, version, resource: plural } = payload.resource;
  const found = resources.find((r) =>
    r.group === group && r.version === version && r.plural === plural
  );
  if (found !== undefined) return found;
  // Not discovered (yet): the review says enough for selectors by group, version and plural.
  return {
    group,
    version,
    plural,
    namespaced: Boolean(payload.namespace),
    ...(payload.kind?.kind ? { kind: payload.kind.kind } : {}),
  };
}

function describeResource(resource: AdmissionRequest["resource"]): string {
  return `"${resource.resource}.${resource.version}${resource.group ? `.${resource.group}` : ""}"`;
}
