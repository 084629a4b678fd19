// The errors handlers raise to steer retries: TemporaryError (retry later), PermanentError
// (give up), and the two the framework raises when a handler's limits are reached. Public:
// re-exported from mod.ts. No I/O.

/**
 * A handler failure worth retrying later, after `delay` seconds.
 *
 * @example Waiting for a dependency
 * ```ts
 * import { TemporaryError } from "./errors.ts";
 * function checkReady(ready: boolean): void {
 *   if (!ready) throw new TemporaryError("the database is not ready yet", { delay: 10 });
 * }
 * ```
 */
export class TemporaryError extends Error {
  override name = "TemporaryError";
  /** Seconds until the next attempt; 0 means at once. @default {60} */
  readonly delay: number;
  constructor(message?: string, options: { delay?: number; cause?: unknown } = {}) {
    super(message ?? "", options.cause === undefined ? undefined : { cause: options.cause });
    this.delay = options.delay ?? 60;
  }
}

/**
 * A handler failure that retrying cannot fix: the handler is marked failed and not retried.
 *
 * @example Rejecting a bad spec
 * ```ts
 * import { PermanentError } from "./errors.ts";
 * function validate(size: number): void {
 *   if (size < 0) throw new PermanentError(`spec.size must not be negative, got ${size}`);
 * }
 * ```
 */
export class PermanentError extends Error {
  override name = "PermanentError";
  constructor(message?: string, options: { cause?: unknown } = {}) {
    super(message ?? "", options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * The handler ran out of its `timeout`: raised by the framework, permanent.
 *
 * @example
 * ```ts
 * import { HandlerTimeoutError, PermanentError } from "./errors.ts";
 * console.assert(new HandlerTimeoutError("slow") instanceof PermanentError);
 * ```
 */
export class HandlerTimeoutError extends PermanentError {
  override name = "HandlerTimeoutError";
}

/**
 * The handler ran out of its `retries`: raised by the framework, permanent.
 *
 * @example
 * ```ts
 * import { HandlerRetriesError, PermanentError } from "./errors.ts";
 * console.assert(new HandlerRetriesError("again") instanceof PermanentError);
 * ```
 */
export class HandlerRetriesError extends PermanentError {
  override name = "HandlerRetriesError";
}

/** Internal: a parent handler has unfinished sub-handlers; run it again soon. */
export class HandlerChildrenRetry extends TemporaryError {
  override name = "HandlerChildrenRetry";
}

/** The message of anything thrown, as Kopf prints it: the message, else the value itself. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  try {
    return typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
