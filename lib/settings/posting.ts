// Tunables of Kubernetes Events about objects: whether they are posted, which object-logger
// messages become Events, how the poster identifies itself, and how storms are contained.
// Plain data with defaults; `engines/posting.ts` and `engines/logging.ts` read them, no I/O here.

/** The severity names shared with the loggers (LogTape's names). */
export type PostingLevel = "debug" | "info" | "warning" | "error";

/** How Events about objects are posted. */
export interface PostingSettings {
  /** Post Events at all: explicit `kopf.info()`/`warn()`/`event()`/`exception()` and logs. */
  enabled: boolean;
  /**
   * The lowest level of object-logger messages that become Events (when `loggers` is on).
   * It does not apply to explicit `kopf.info()` and friends, which post whenever `enabled`.
   */
  level: PostingLevel;
  /** Turn object-logger messages at or above `level` into Events (reason `Logging`). */
  loggers: boolean;
  /** `reportingComponent` and `source.component` of the Events (the "From" column). */
  reportingComponent: string;
  /** `reportingInstance` of the Events: which replica of the operator posted them. */
  reportingInstance: string;
  /** `metadata.generateName` of the Events: the API server appends a random suffix. */
  eventNamePrefix: string;
  /** Events waiting to be posted; when full, the oldest is dropped for the newest. */
  queueSize: number;
  /** Events one object may get in a burst before the refill rate limits it. */
  burst: number;
  /** Tokens an object's bucket regains per second (client-go: one per 300 s). */
  refillPerSecond: number;
  /** Retries of one Event after connection errors, 429 and 5xx; Events are best effort. */
  retries: number;
  /** How long `stop()` keeps posting what is queued before it gives up on the rest. */
  drainTimeoutSeconds: number;
}

/**
 * The defaults: Events on; object-logger warnings and errors become Events (handler
 * failures), while successes and other info messages stay silent; client-go's spam filter
 * (a burst of 25 per object, then one per 5 minutes); Kopf's identity (`kopf`, `dev`).
 *
 * @example Posting every info message of the object loggers too
 * ```ts
 * import { defaultPosting } from "./posting.ts";
 * const posting = defaultPosting();
 * posting.level = "info";
 * posting.reportingInstance = Deno.env.get("POD_NAME") ?? "dev";
 * ```
 */
export function defaultPosting(): PostingSettings {
  return {
    enabled: true,
    level: "warning",
    loggers: true,
    reportingComponent: "kopf",
    reportingInstance: "dev",
    eventNamePrefix: "kopf-event-",
    queueSize: 1000,
    burst: 25,
    refillPerSecond: 1 / 300,
    retries: 2,
    drainTimeoutSeconds: 5,
  };
}
