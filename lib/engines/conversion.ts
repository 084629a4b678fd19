// CRD conversion reviews (beyond Kopf): one ConversionReview from the API server → each object
// through the `on.convert` functions from its version to the desired one (chained when needed:
// v1→v2→v3) → one response. Called by the webhook server (reactor/webhooks.ts) per request.
// Never listens, never talks to the API server; metadata other than labels and annotations
// always stays as it came (the API server rejects any other change).

import { getLogger, type Logger } from "@logtape/logtape";
import * as handlingErrors from "../handling/errors.ts";
import type * as admission from "../registry/admission.ts";
import type * as contexts from "../registry/contexts.ts";
import * as selectors from "../registry/selectors.ts";
import * as bodies from "../structs/bodies.ts";
import type * as references from "../structs/references.ts";

const log = getLogger(["kopf", "conversion"]);

/** A ConversionReview as the API server sends it. */
export interface ConversionReview {
  readonly apiVersion: string;
  readonly kind: "ConversionReview";
  readonly request: {
    readonly uid: string;
    /** `group/version` to convert every object to. */
    readonly desiredAPIVersion: string;
    readonly objects: readonly Record<string, unknown>[];
  };
}

/** The answer to a ConversionReview. */
export interface ConversionReviewResponse {
  apiVersion: string;
  kind: "ConversionReview";
  response: {
    uid: string;
    convertedObjects?: Record<string, unknown>[];
    result: { status: "Success" } | { status: "Failure"; message: string };
  };
}

/** The conversion's failure as the server answers it: `status` and a one-line message. */
export class ConversionRequestError extends Error {
  override name = "ConversionRequestError";
  /** The HTTP status of the answer. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** What converting one review needs besides the review. */
export interface ConversionOptions {
  /** Every conversion handler of the operator (`registry.admission.conversions()`). */
  readonly handlers: readonly admission.ConversionHandler[];
  /** The CRD the URL names: `kopfexamples.kopf.dev` (plural and group). */
  readonly crd: string;
  /** The discovered resources: selectors by kind or short name need them. */
  readonly resources: readonly references.Resource[];
  /** The operator memo: each object's function gets a shallow copy. @default {{}} */
  readonly memo?: contexts.Memo;
  /** Aborted when the operator stops. */
  readonly signal?: AbortSignal;
  /** The logger of one object. @default {the "kopf.conversion" logger} */
  readonly loggerOf?: (resource: references.Resource, body: bodies.RawBody) => Logger;
}

/**
 * Checks that a parsed JSON body is a ConversionReview and returns it typed.
 *
 * @throws {ConversionRequestError} 400 naming the first missing or malformed field.
 *
 * @example
 * ```ts
 * import { parseConversionReview } from "./conversion.ts";
 * parseConversionReview({
 *   apiVersion: "apiextensions.k8s.io/v1", kind: "ConversionReview",
 *   request: { uid: "1", desiredAPIVersion: "kopf.dev/v2", objects: [] },
 * }).request.desiredAPIVersion; // "kopf.dev/v2"
 * ```
 */
export function parseConversionReview(data: unknown): ConversionReview {
  const bad = (detail: string): never => {
    throw new ConversionRequestError(400, `The body is not a ConversionReview: ${detail}`);
  };
  if (!bodies.isObject(data)) return bad("it is not a JSON object");
  if (data.kind !== "ConversionReview") return bad(`"kind" is ${JSON.stringify(data.kind)}`);
  const request = data.request;
  if (!bodies.isObject(request)) return bad(`"request" is missing`);
  if (typeof request.uid !== "string" || request.uid === "") return bad(`"request.uid" is missing`);
  if (typeof request.desiredAPIVersion !== "string" || !request.desiredAPIVersion.includes("/")) {
    return bad(`"request.desiredAPIVersion" is not "group/version"`);
  }
  if (!Array.isArray(request.objects) || !request.objects.every(bodies.isObject)) {
    return bad(`"request.objects" is not a list of objects`);
  }
  return data as unknown as ConversionReview;
}

/**
 * Converts every object of a review to the desired version. Any failure (no chain of
 * conversions between the versions, a function that throws or returns a non-object) fails the
 * whole review with its message, as the API server expects.
 *
 * @throws {ConversionRequestError} 404 when no conversion function serves the CRD.
 *
 * @example v1 → v2
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { OperatorRegistry } from "../registry/registries.ts";
 * import * as on from "../registry/admission.ts";
 * import { convertReview } from "./conversion.ts";
 *
 * const registry = new OperatorRegistry();
 * on.convert("kopfexamples.kopf.dev", { from: "v1", to: "v2", registry }, function up({ body }) {
 *   return { ...body, spec: { replicas: (body.spec as { size: number }).size } };
 * });
 * const answer = await convertReview({
 *   apiVersion: "apiextensions.k8s.io/v1", kind: "ConversionReview",
 *   request: { uid: "1", desiredAPIVersion: "kopf.dev/v2", objects: [
 *     { apiVersion: "kopf.dev/v1", kind: "KopfExample", metadata: { name: "a" }, spec: { size: 3 } },
 *   ] },
 * }, { handlers: registry.admission.conversions(), crd: "kopfexamples.kopf.dev", resources: [] });
 * equal(answer.response.convertedObjects?.[0]?.apiVersion, "kopf.dev/v2");
 * ```
 */
export async function convertReview(
  review: ConversionReview,
  options: ConversionOptions,
): Promise<ConversionReviewResponse> {
  const { uid, desiredAPIVersion, objects } = review.request;
  const resource = crdResource(options.crd, options.resources);
  const handlers = options.handlers.filter((h) => serves(h, resource));
  if (handlers.length === 0) {
    throw new ConversionRequestError(404, `No conversion function serves "${options.crd}"`);
  }
  const answer = (result: ConversionReviewResponse["response"]) => ({
    apiVersion: review.apiVersion || "apiextensions.k8s.io/v1",
    kind: "ConversionReview" as const,
    response: result,
  });
  const [group, to] = splitApiVersion(desiredAPIVersion);
  const converted: Record<string, unknown>[] = [];
  for (const object of objects) {
    try {
      converted.push(await convertOne(object, group, to, handlers, resource, options));
    } catch (error) {
      const message = handlingErrors.describe(error);
      const logger = options.loggerOf?.(resource, object) ?? log;
      logger.error(`Cannot convert to ${desiredAPIVersion}: ${message}`);
      return answer({ uid, result: { status: "Failure", message } });
    }
  }
  return answer({ uid, convertedObjects: converted, result: { status: "Success" } });
}

/**
 * The shortest chain of conversion functions from one version to another, or undefined when
 * there is none; empty when the versions are the same.
 *
 * @example
 * ```ts
 * import { conversionPath } from "./conversion.ts";
 * const fn = () => {};
 * const step = (from: string, to: string) => ({ kind: "conversion" as const, id: `${from}-${to}`,
 *   fn, param: undefined, errors: undefined, timeout: undefined, retries: undefined,
 *   backoff: undefined, selector: "kex", from, to });
 * conversionPath([step("v1", "v2"), step("v2", "v3")], "v1", "v3")?.map((h) => h.id); // ["v1-v2", "v2-v3"]
 * ```
 */
export function conversionPath(
  handlers: readonly admission.ConversionHandler[],
  from: string,
  to: string,
): admission.ConversionHandler[] | undefined {
  const paths = new Map<string, admission.ConversionHandler[]>([[from, []]]);
  const queue = [from];
  while (queue.length > 0) {
    const version = queue.shift()!;
    const path = paths.get(version)!;
    if (version === to) return path;
    for (const handler of handlers) {
      if (handler.from !== version || paths.has(handler.to)) continue;
      paths.set(handler.to, [...path, handler]);
      queue.push(handler.to);
    }
  }
  return undefined;
}

async function convertOne(
  object: Record<string, unknown>,
  group: string,
  to: string,
  handlers: readonly admission.ConversionHandler[],
  resource: references.Resource,
  options: ConversionOptions,
): Promise<Record<string, unknown>> {
  const [objectGroup, from] = splitApiVersion(String(object.apiVersion ?? ""));
  const name = bodies.resolve(object, ["metadata", "name"], "");
  if (objectGroup !== group) {
    throw new Error(`The object "${name}" is of the group "${objectGroup}", not "${group}"`);
  }
  const path = conversionPath(handlers, from, to);
  if (path === undefined) {
    throw new Error(
      `No conversion from ${from} to ${to} for "${options.crd}": register ` +
        `on.convert("${options.crd}", { from: "${from}", to: "${to}" }, fn)`,
    );
  }
  const metadata = bodies.isObject(object.metadata) ? object.metadata : {};
  let current = object;
  for (const handler of path) {
    const body = bodies.deepCopy(current) as Record<string, unknown>;
    const meta = (bodies.isObject(body.metadata) ? body.metadata : {}) as contexts.Meta;
    const context: admission.ConversionContext = {
      body,
      spec: bodies.isObject(body.spec) ? body.spec : {},
      meta,
      name: meta.name ?? "",
      namespace: meta.namespace,
      from: handler.from,
      to: handler.to,
      logger: options.loggerOf?.(resource, body) ?? log,
      memo: { ...options.memo },
      param: handler.param,
      signal: options.signal ?? new AbortController().signal,
      id: handler.id,
    };
    const result = (await handler.fn(context)) ?? body;
    if (!bodies.isObject(result)) {
      throw new Error(
        `The conversion function '${handler.id}' returned ${typeof result}, not an object`,
      );
    }
    const resultMeta = bodies.isObject(result.metadata) ? result.metadata : {};
    current = {
      ...result,
      apiVersion: `${group}/${handler.to}`,
      metadata: restoredMetadata(metadata, resultMeta),
    };
  }
  return current === object ? { ...object } : current;
}

/** Only labels and annotations may change; everything else of the metadata stays as it came. */
function restoredMetadata(
  original: Record<string, unknown>,
  converted: Record<string, unknown>,
): Record<string, unknown> {
  const result: Record<string, unknown> = { ...original };
  for (const key of ["labels", "annotations"]) {
    if (converted[key] === undefined) delete result[key];
    else result[key] = converted[key];
  }
  return result;
}

function splitApiVersion(apiVersion: string): [string, string] {
  const slash = apiVersion.lastIndexOf("/");
  return slash < 0 ? ["", apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

/** The discovered resource of the CRD (any version), or one made from its name. */
function crdResource(crd: string, resources: readonly references.Resource[]): references.Resource {
  const dot = crd.indexOf(".");
  const plural = dot < 0 ? crd : crd.slice(0, dot);
  const group = dot < 0 ? "" : crd.slice(dot + 1);
  return resources.find((r) => r.group === group && r.plural === plural && (r.preferred ?? true)) ??
    resources.find((r) => r.group === group && r.plural === plural) ??
    { group, version: "", plural, namespaced: true };
}

/** Whether a conversion handler's selector names the CRD, whatever version it mentions. */
function serves(handler: admission.ConversionHandler, resource: references.Resource): boolean {
  const selector = selectors.parse(handler.selector);
  return selectors.check(selector, {
    ...resource,
    version: selector.version ?? resource.version,
    preferred: true,
  });
}
