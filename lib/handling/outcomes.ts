// The in-memory outcome of one attempt of one handler: final or to be retried after a delay,
// with its result or error. States (states.ts) turn outcomes into persisted progress. No I/O.

/** What one attempt of a handler ended with. */
export interface Outcome {
  /** No more attempts: it succeeded or failed for good. */
  readonly final: boolean;
  /** Seconds until the next attempt (for non-final outcomes). */
  readonly delay: number | undefined;
  /** The handler's return value (for successes). */
  readonly result: unknown;
  /** What was thrown (for failures, final or not). */
  readonly error: unknown;
  /** The error as one line, for the progress record's `message`. */
  readonly message: string | undefined;
  /** Ids of the sub-handlers this handler declared, all levels deep. */
  readonly subrefs: readonly string[];
}

/** A success with the handler's result. */
export function success(result: unknown, subrefs: readonly string[] = []): Outcome {
  return { final: true, delay: undefined, result, error: undefined, message: undefined, subrefs };
}

/** A failure for good. */
export function failure(error: unknown, message: string, subrefs: readonly string[] = []): Outcome {
  return { final: true, delay: undefined, result: undefined, error, message, subrefs };
}

/** A failure to retry after `delay` seconds. */
export function retry(
  error: unknown,
  message: string,
  delay: number,
  subrefs: readonly string[] = [],
): Outcome {
  return { final: false, delay, result: undefined, error, message, subrefs };
}
