// The errors of the Kubernetes boundary: API errors carrying the server's `Status`, transport
// failures carrying their cause, and configuration errors naming the file and the field.
// Everything above `k8s/` branches on these classes, never on raw HTTP codes.

/** One reason for a failure, as in `Status.details.causes[]`. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** Extra data of a `Status`: which object, why, and when to retry. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** The `meta/v1 Status` object the API server sends with every failure. */
export interface Status {
  kind?: string;
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code?: number;
}

/** The base of every error raised by the Kubernetes client. */
export class KubernetesError extends Error {
  override name = "KubernetesError";
}

/**
 * A kubeconfig or in-cluster configuration that cannot be used. The message names the file
 * and the field; `file` and `field` carry them for programs.
 */
export class ConfigError extends KubernetesError {
  override name = "ConfigError";
  readonly file: string | undefined;
  readonly field: string | undefined;
  constructor(message: string, options: { file?: string; field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.file = options.file;
    this.field = options.field;
  }
}

/** The server could not be reached or spoke no HTTP: refused, reset, DNS, TLS, timeout. */
export class TransportError extends KubernetesError {
  override name = "TransportError";
  readonly method: string;
  readonly url: string;
  constructor(message: string, method: string, url: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.method = method;
    this.url = url;
  }
}

/** An authentication source (token file, exec plugin) failed to give credentials. */
export class CredentialsError extends KubernetesError {
  override name = "CredentialsError";
}

/** The API server answered with an error status; `status` is its `Status` body. */
export class ApiError extends KubernetesError {
  override name = "ApiError";
  readonly code: number;
  readonly status: Status;
  readonly method: string;
  readonly url: string;
  /** From the `Retry-After` header, else from `status.details.retryAfterSeconds`. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    status: Status,
    init: {
      code: number;
      method: string;
      url: string;
      retryAfterSeconds?: number;
      cause?: unknown;
    },
  ) {
    const what = status.message || status.reason || `HTTP ${init.code}`;
    super(
      `${init.method} ${init.url} failed with ${init.code}${
        status.reason ? ` ${status.reason}` : ""
      }: ${what}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.code = init.code;
    this.status = status;
    this.method = init.method;
    this.url = init.url;
    this.retryAfterSeconds = init.retryAfterSeconds ?? status.details?.retryAfterSeconds;
  }

  /** The machine-readable reason: `NotFound`, `Conflict`, `AlreadyExists`, `Expired`, … */
  get reason(): string {
    return this.status.reason ?? "";
  }
}

/** 4xx: the request is wrong or not allowed; retrying it unchanged will not help. */
export class ApiClientError extends ApiError {
  override name = "ApiClientError";
}
/** 401: the credentials were refused even after one refresh. */
export class ApiUnauthorizedError extends ApiClientError {
  override name = "ApiUnauthorizedError";
}
/** 403: RBAC denies the verb on the resource; the message names both. */
export class ApiForbiddenError extends ApiClientError {
  override name = "ApiForbiddenError";
}
/** 404: the object, or the whole resource (CRD gone), does not exist. */
export class ApiNotFoundError extends ApiClientError {
  override name = "ApiNotFoundError";
}
/** 409: `AlreadyExists` on create, `Conflict` on a stale resourceVersion. */
export class ApiConflictError extends ApiClientError {
  override name = "ApiConflictError";
}
/** 410: the resourceVersion or continue token has expired; relist. */
export class ApiGoneError extends ApiClientError {
  override name = "ApiGoneError";
}
/** 422: the object is invalid; `status.details.causes` says which fields. */
export class ApiInvalidError extends ApiClientError {
  override name = "ApiInvalidError";
}
/** 429: throttled (API Priority and Fairness); retry after `retryAfterSeconds`. */
export class ApiTooManyRequestsError extends ApiClientError {
  override name = "ApiTooManyRequestsError";
}
/** 5xx: the server failed; retrying later may succeed. */
export class ApiServerError extends ApiError {
  override name = "ApiServerError";
}

/** Builds the error class that fits the HTTP code. */
export function apiError(
  status: Status,
  init: { code: number; method: string; url: string; retryAfterSeconds?: number },
): ApiError {
  const classes: Record<number, typeof ApiError> = {
    401: ApiUnauthorizedError,
    403: ApiForbiddenError,
    404: ApiNotFoundError,
    409: ApiConflictError,
    410: ApiGoneError,
    422: ApiInvalidError,
    429: ApiTooManyRequestsError,
  };
  const cls = classes[init.code] ??
    (init.code >= 500 ? ApiServerError : init.code >= 400 ? ApiClientError : ApiError);
  return new cls(status, init);
}

/** True when a watch or list must start over: HTTP 410, or a `Status` with reason `Expired`/`Gone`. */
export function isExpired(error: unknown): boolean {
  return error instanceof ApiError &&
    (error.code === 410 || error.reason === "Expired" || error.reason === "Gone");
}

/**
 * True for failures worth retrying unchanged: connection problems, 429 and 5xx.
 * 4xx other than 429 are the caller's to fix.
 */
export function isRetriable(error: unknown): boolean {
  return error instanceof TransportError || error instanceof ApiTooManyRequestsError ||
    error instanceof ApiServerError;
}
