// `Status` bodies with the codes, reasons and messages of kube-apiserver (apimachinery
// `api/errors`, `util/validation/field`), and the error that carries them through the fake.
// Every fake_* file throws these; the HTTP layer of fake_apiserver.ts turns them into responses.

/** A JSON object as the fake stores and sends it. */
export type Json = Record<string, unknown>;

/** A resource named by group and plural, as in Go's `schema.GroupResource`. */
export interface GroupResource {
  group: string;
  resource: string;
}

/** A kind named by group, as in Go's `schema.GroupKind`. */
export interface GroupKind {
  group: string;
  kind: string;
}

/** One entry of `Status.details.causes`. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** `Status.details`; empty fields are omitted, as Go's `omitempty` does. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** The `meta/v1 Status` object. */
export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: { continue?: string };
  status: "Failure" | "Success";
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code?: number;
}

/** A failed request: the `Status` to send and any extra response headers (`Retry-After`). */
export class ApiError extends Error {
  readonly status: Status;
  readonly headers: Record<string, string>;
  constructor(status: Status, headers: Record<string, string> = {}) {
    super(status.message ?? "");
    this.name = "ApiError";
    this.status = status;
    this.headers = headers;
  }
  get code(): number {
    return this.status.code ?? 500;
  }
}

/** One validation failure, rendered like Go's `field.Error`. */
export interface FieldError {
  type:
    | "FieldValueInvalid"
    | "FieldValueRequired"
    | "FieldValueForbidden"
    | "FieldValueNotSupported";
  field: string;
  detail: string;
  value?: unknown;
  supported?: string[];
}

export const OBJECT_MODIFIED =
  "the object has been modified; please apply your changes to the latest version and try again";

/** `plural.group`, or just `plural` for the core group: how Go prints a GroupResource. */
export function resourceString(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

function kindString(gk: GroupKind): string {
  return gk.group ? `${gk.kind}.${gk.group}` : gk.kind;
}

function failure(
  code: number,
  reason: string,
  message: string,
  details?: StatusDetails,
  metadata: { continue?: string } = {},
): Status {
  const status: Status = {
    kind: "Status",
    apiVersion: "v1",
    metadata,
    status: "Failure",
    message,
    reason,
  };
  if (details) status.details = details;
  status.code = code;
  return status;
}

function detailsOf(gr: GroupResource, name = ""): StatusDetails {
  const details: StatusDetails = {};
  if (name) details.name = name;
  if (gr.group) details.group = gr.group;
  if (gr.resource) details.kind = gr.resource;
  return details;
}

// Go prints a field value with %q for strings and %v otherwise.
function goValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined || value === null) return "null";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function errorBody(e: FieldError): string {
  const detail = e.detail ? `: ${e.detail}` : "";
  switch (e.type) {
    case "FieldValueRequired":
      return `Required value${detail}`;
    case "FieldValueForbidden":
      return `Forbidden${detail}`;
    case "FieldValueNotSupported": {
      const quoted = (e.supported ?? []).map((s) => JSON.stringify(s)).join(", ");
      return `Unsupported value: ${goValue(e.value)}: supported values: ${quoted}`;
    }
    case "FieldValueInvalid":
      return `Invalid value: ${goValue(e.value)}${detail}`;
  }
}

/** 404 NotFound for a named object: `configmaps "x" not found`. */
export function notFound(gr: GroupResource, name: string): ApiError {
  const message = `${resourceString(gr)} ${JSON.stringify(name)} not found`;
  return new ApiError(failure(404, "NotFound", message, detailsOf(gr, name)));
}

/** 404 for a path the server does not serve (unknown group, version, resource or subresource). */
export function pathNotFound(): ApiError {
  return new ApiError(
    failure(404, "NotFound", "the server could not find the requested resource", {}),
  );
}

/** 409 AlreadyExists, from a create. */
export function alreadyExists(gr: GroupResource, name: string): ApiError {
  const message = `${resourceString(gr)} ${JSON.stringify(name)} already exists`;
  return new ApiError(failure(409, "AlreadyExists", message, detailsOf(gr, name)));
}

/** 409 Conflict, from a stale resourceVersion or a failed delete precondition. */
export function conflict(gr: GroupResource, name: string, why: string): ApiError {
  const message = `Operation cannot be fulfilled on ${resourceString(gr)} ${
    JSON.stringify(name)
  }: ${why}`;
  return new ApiError(failure(409, "Conflict", message, detailsOf(gr, name)));
}

/** 422 Invalid with one cause per field error: `Kind "name" is invalid: field: detail`. */
export function invalid(gk: GroupKind, name: string, errors: FieldError[]): ApiError {
  const texts = errors.map((e) => `${e.field}: ${errorBody(e)}`);
  const aggregate = texts.length === 1 ? texts[0] : `[${texts.join(", ")}]`;
  const message = `${kindString(gk)} ${JSON.stringify(name)} is invalid: ${aggregate}`;
  const details: StatusDetails = {};
  if (name) details.name = name;
  if (gk.group) details.group = gk.group;
  if (gk.kind) details.kind = gk.kind;
  details.causes = errors.map((e) => ({ reason: e.type, message: errorBody(e), field: e.field }));
  return new ApiError(failure(422, "Invalid", message, details));
}

/** 422 Invalid without causes, as a failed JSON patch gets (`NewGenericServerResponse`). */
export function patchRejected(): ApiError {
  return new ApiError(
    failure(422, "Invalid", "the server rejected our request due to an error in our request", {}),
  );
}

/** 400 BadRequest with a free-form message and no details. */
export function badRequest(message: string): ApiError {
  return new ApiError(failure(400, "BadRequest", message));
}

/** 410 Expired; a continue token in `metadata.continue` when the server offers one. */
export function expired(message: string, continueToken?: string): ApiError {
  const metadata = continueToken === undefined ? {} : { continue: continueToken };
  return new ApiError(failure(410, "Expired", message, undefined, metadata));
}

/** 403 Forbidden: `configmaps "x" is forbidden: why`. */
export function forbidden(gr: GroupResource, name: string, why: string): ApiError {
  const subject = name ? `${resourceString(gr)} ${JSON.stringify(name)}` : resourceString(gr);
  return new ApiError(
    failure(403, "Forbidden", `${subject} is forbidden: ${why}`, detailsOf(gr, name)),
  );
}

/** 415 for a patch content type the resource does not accept. */
export function unsupportedMediaType(accepted: string[]): ApiError {
  const message =
    `the body of the request was in an unknown format - accepted media types include: ${
      accepted.join(", ")
    }`;
  return new ApiError(failure(415, "UnsupportedMediaType", message));
}

/** 405 for a verb the path does not support. */
export function methodNotSupported(gr: GroupResource, action: string): ApiError {
  const message = `${action} is not supported on resources of kind ${
    JSON.stringify(resourceString(gr))
  }`;
  return new ApiError(failure(405, "MethodNotAllowed", message, detailsOf(gr)));
}

/** 504 when a read asks for a resourceVersion newer than the server has. */
export function tooLargeResourceVersion(requested: number, current: number): ApiError {
  const message = `Timeout: Too large resource version: ${requested}, current: ${current}`;
  const details: StatusDetails = {
    causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
    retryAfterSeconds: 1,
  };
  return new ApiError(failure(504, "Timeout", message, details), { "retry-after": "1" });
}

/** 500 InternalError. */
export function internalError(why: string): ApiError {
  return new ApiError(
    failure(500, "InternalError", `Internal error occurred: ${why}`, {
      causes: [{ message: why }],
    }),
  );
}

const GENERIC: Record<number, [string, string]> = {
  400: ["BadRequest", "the server rejected our request for an unknown reason"],
  401: ["Unauthorized", "Unauthorized"],
  404: ["NotFound", "the server could not find the requested resource"],
  405: ["MethodNotAllowed", "the server does not allow this method on the requested resource"],
  409: ["Conflict", "the server reported a conflict"],
  410: ["Expired", "the resourceVersion is too old"],
  422: ["Invalid", "the server rejected our request due to an error in our request"],
  429: ["TooManyRequests", "Too many requests, please try again later."],
  500: ["InternalError", "Internal error occurred: injected fault"],
  503: ["ServiceUnavailable", "the server is currently unable to handle the request"],
  504: ["Timeout", "Timeout: request did not complete within the allotted timeout"],
};

/**
 * An injected failure with the given code, shaped like the real server's answer for that code
 * (429 as API Priority and Fairness sends it: message, `details.retryAfterSeconds`, `Retry-After`).
 */
export function injected(
  code: number,
  retryAfterSeconds: number | undefined,
  forbiddenAs?: { gr: GroupResource; name: string; why: string },
): ApiError {
  if (code === 403 && forbiddenAs) {
    const error = forbidden(forbiddenAs.gr, forbiddenAs.name, forbiddenAs.why);
    return withRetryAfter(error, retryAfterSeconds);
  }
  const [reason, message] = GENERIC[code] ??
    (code >= 500
      ? [
        "InternalError",
        `an error on the server ("injected fault") has prevented the request from succeeding`,
      ]
      : [
        "Unknown",
        `the server responded with the status code ${code} but did not return more information`,
      ]);
  const retry = retryAfterSeconds ?? (code === 429 ? 1 : undefined);
  let details: StatusDetails | undefined;
  if (code === 500) details = { causes: [{ message: "injected fault" }] };
  if (retry !== undefined) details = { ...details, retryAfterSeconds: retry };
  const error = new ApiError(failure(code, reason, message, details));
  return withRetryAfter(error, retry);
}

function withRetryAfter(error: ApiError, seconds: number | undefined): ApiError {
  if (seconds === undefined) return error;
  if (error.status.details) error.status.details.retryAfterSeconds = seconds;
  else error.status.details = { retryAfterSeconds: seconds };
  return new ApiError(error.status, { ...error.headers, "retry-after": String(seconds) });
}

/** The `Status` a successful DELETE returns when the object is gone at once. */
export function deleted(gr: GroupResource, name: string, uid: string): Status {
  const details = detailsOf(gr, name);
  if (uid) details.uid = uid;
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details };
}
