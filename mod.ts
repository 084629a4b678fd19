/**
 * Kopf for Deno: write Kubernetes operators as a few typed handler functions.
 *
 * This version ships the foundation: the Kubernetes API errors that handlers and the
 * framework raise. Handler registration (`on.create`, …) and `run()` follow.
 *
 * @example Telling a missing object from other API failures
 * ```ts
 * import * as kopf from "./mod.ts";
 *
 * function describe(error: unknown): string {
 *   return error instanceof kopf.ApiNotFoundError ? "gone" : "failed";
 * }
 * ```
 *
 * @module
 */

export {
  ApiClientError,
  ApiConflictError,
  ApiError,
  ApiForbiddenError,
  ApiGoneError,
  ApiInvalidError,
  ApiNotFoundError,
  ApiServerError,
  ApiTooManyRequestsError,
  ApiUnauthorizedError,
  ConfigError,
  CredentialsError,
  KubernetesError,
  TransportError,
} from "./lib/k8s/errors.ts";
export type { Status, StatusCause, StatusDetails } from "./lib/k8s/errors.ts";

/**
 * The version of this package.
 *
 * @example
 * ```ts
 * import { VERSION } from "./mod.ts";
 * console.log(`kopf ${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";
