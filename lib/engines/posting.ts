// Kubernetes Events about objects, as Kopf posts them: queued without blocking, created as
// core/v1 Events by one background loop, rate-limited per object, best effort.
// Called by operator authors (`kopf.info()`, `warn()`, `event()`, `exception()`), by object
// loggers through `postingSink()`, and started and stopped by the runtime. It never blocks or
// fails its caller, never retries without end, and never posts an Event about an Event.

import type { Logger, LogRecord, Sink } from "@logtape/logtape";
import { compareLogLevel, getLogger } from "@logtape/logtape";
import * as clocks from "../async/clock.ts";
import type * as api from "../k8s/api.ts";
import type * as transports from "../k8s/transport.ts";
import type * as postingSettings from "../settings/posting.ts";
import * as references from "../structs/references.ts";

/** `Normal` or `Warning`: the two types core/v1 and events.k8s.io/v1 Events accept. */
export type EventType = "Normal" | "Warning";

/** The identity of an object an Event is about: the Event's `involvedObject`. */
export interface InvolvedObject {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

/** An object's body as handlers get it; only its identity is read. */
export interface ObjectBody {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly [key: string]: unknown;
  };
  readonly [key: string]: unknown;
}

/** One Event to post: about an object (its body or a reference to it). */
export interface ObjectEvent {
  involved: ObjectBody | InvolvedObject;
  type: EventType;
  reason: string;
  message: string;
}

/** What happened to the Events given to a poster, for logs, metrics and tests. */
export interface PostingStats {
  /** Created in the API. */
  posted: number;
  /** Refused by the API or lost on the network, after the retries. */
  failed: number;
  /** Pushed out of a full queue, or left unposted when the poster stopped. */
  dropped: number;
  /** Beyond the object's rate limit. */
  throttled: number;
  /** About an Event: never posted, so Events cannot breed Events. */
  skipped: number;
}

/** What a poster needs. */
export interface EventPosterOptions {
  transport: transports.Transport;
  /** Read at every use, so changes at runtime apply. */
  settings: postingSettings.PostingSettings;
  /** @default {clocks.realClock} */
  clock?: clocks.Clock;
  /** For the poster's own troubles; never an object logger. @default {getLogger(["kopf", "posting"])} */
  logger?: Logger;
}

const EVENTS: references.Resource = {
  group: "",
  version: "v1",
  plural: "events",
  kind: "Event",
  namespaced: true,
};

// Object loggers carry the object's reference under this property (engines/logging.ts sets it).
const OBJECT_PROPERTY = "k8s";

// With `eventTime` set, the API server validates `message` to 1024 bytes (NoteLengthLimit);
// Kopf cuts the middle out of longer messages, keeping both ends.
const MAX_MESSAGE_BYTES = 1024;
const CUT_INFIX = "...";

// Kopf's placeholder: `action` is required by the API server once `eventTime` is set.
const ACTION = "Action?";

// Full token buckets carry no state; they are swept out once the map grows past this.
const MIN_SWEEP_SIZE = 1024;

interface QueuedEvent {
  ref: InvolvedObject;
  type: EventType;
  reason: string;
  message: string;
  /** When it was posted to the queue: the time the Event reports. */
  at: number;
}

interface TokenBucket {
  tokens: number;
  at: number;
  /** Out of tokens, and the throttling was logged already. */
  dry: boolean;
}

/**
 * Posts Events from a bounded in-memory queue in the background. `post()` only enqueues;
 * the loop started by `start()` creates the Events one by one, in order.
 *
 * Guarantees and caveats:
 * - `post()` never blocks, never throws, and never waits for the API server.
 * - A full queue drops its oldest Event for the newest one; each object gets `burst` Events,
 *   then `refillPerSecond` (client-go's spam filter); both are counted in `stats`.
 * - A failed Event is retried only `retries` times (connection errors, 429, 5xx), then
 *   dropped; the first failure of an outage is a warning, the rest are debug lines.
 * - `stop()` posts what is queued for up to `drainTimeoutSeconds`, then drops the rest.
 *   An aborted `start()` signal stops at once, abandoning what is queued.
 *
 * @example The runtime's part: start with the operator, stop when it exits
 * ```ts
 * import { EventPoster } from "./posting.ts";
 * import { Transport } from "../k8s/transport.ts";
 * import { anonymous } from "../k8s/connections.ts";
 * import { defaultPosting } from "../settings/posting.ts";
 *
 * using transport = new Transport({
 *   server: "https://127.0.0.1:6443", caCerts: [], insecureSkipTlsVerify: false,
 *   namespace: "default", source: "example", authenticator: anonymous,
 * });
 * const poster = new EventPoster({ transport, settings: defaultPosting() });
 * const body = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app", namespace: "default" } };
 * poster.post({ involved: body, type: "Normal", reason: "Reloaded", message: "New settings" });
 * // poster.start(signal) posts in the background; this example never starts it, so nothing
 * // is sent and stop() drops the queued Event.
 * await poster.stop();
 * ```
 */
export class EventPoster {
  readonly #stats: PostingStats = { posted: 0, failed: 0, dropped: 0, throttled: 0, skipped: 0 };
  readonly #transport: transports.Transport;
  readonly #settings: postingSettings.PostingSettings;
  readonly #clock: clocks.Clock;
  readonly #logger: Logger;
  #queue: QueuedEvent[] = [];
  #buckets = new Map<string, TokenBucket>();
  #sweepAt = MIN_SWEEP_SIZE;
  #state: "idle" | "running" | "stopping" | "stopped" = "idle";
  #abort = new AbortController();
  #wake: (() => void) | undefined;
  #loop: Promise<void> = Promise.resolve();
  #failing = false;
  #overflowing = false;

  constructor(options: EventPosterOptions) {
    this.#transport = options.transport;
    this.#settings = options.settings;
    this.#clock = options.clock ?? clocks.realClock;
    this.#logger = options.logger ?? getLogger(["kopf", "posting"]);
    this.#abort.signal.addEventListener("abort", () => this.#wake?.(), { once: true });
  }

  /** What happened to the Events so far (a copy). */
  get stats(): Readonly<PostingStats> {
    return { ...this.#stats };
  }

  /** Events waiting in the queue (not counting one being posted now). */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Queues an Event; returns at once. Events about Events, Events beyond the object's rate
   * limit, and all Events while posting is disabled or after `stop()` are not queued.
   */
  post(event: ObjectEvent): void {
    try {
      this.#enqueue(event);
    } catch (error) {
      // A body with throwing getters or similar: the caller must not pay for our troubles.
      this.#logger.debug("Cannot queue an Event: {error}", { error });
    }
  }

  /** Starts the background loop; aborting `signal` stops it at once, as does `stop()` gracefully. */
  start(signal?: AbortSignal): void {
    if (this.#state !== "idle") return;
    this.#state = "running";
    if (signal?.aborted) this.#abort.abort(signal.reason);
    signal?.addEventListener("abort", () => this.#abort.abort(signal.reason), { once: true });
    this.#loop = this.#run();
  }

  /**
   * Posts what is queued (and what comes meanwhile, such as the last words of cancelled
   * handlers) for up to `drainTimeoutSeconds`, then abandons the rest, counted as dropped.
   * Afterwards, Events are no longer accepted. Resolves when the loop has ended; never rejects.
   */
  async stop(): Promise<void> {
    if (this.#state === "idle" || this.#state === "stopped") {
      this.#state = "stopped";
      this.#discard();
      return await this.#loop;
    }
    this.#state = "stopping";
    this.#wake?.();
    const timer = new AbortController();
    const deadline = this.#clock.sleep(this.#settings.drainTimeoutSeconds * 1000, timer.signal)
      .then(() => "timeout" as const, () => "done" as const);
    const outcome = await Promise.race([this.#loop.then(() => "done" as const), deadline]);
    timer.abort();
    if (outcome === "timeout") {
      const left = this.#queue.length + 1; // and the one in flight
      this.#logger.warning(
        "Stopped posting Events after {seconds} s with up to {left} of them unposted",
        { seconds: this.#settings.drainTimeoutSeconds, left },
      );
      this.#abort.abort(new Error("The event poster is stopping"));
    }
    await this.#loop;
    this.#discard();
  }

  #enqueue(event: ObjectEvent): void {
    if (!this.#settings.enabled) return;
    if (this.#state === "stopped") {
      this.#stats.dropped++;
      return;
    }
    const ref = referenceOf(event.involved);
    if (isEvent(ref)) {
      this.#stats.skipped++;
      return;
    }
    const now = this.#clock.now();
    if (!this.#take(keyOf(ref), now, ref)) {
      this.#stats.throttled++;
      return;
    }
    const { type, reason, message } = event;
    this.#queue.push({ ref, type, reason, message: String(message), at: now });
    const size = Math.max(1, this.#settings.queueSize);
    if (this.#queue.length > size) {
      const dropped = this.#queue.splice(0, this.#queue.length - size);
      this.#stats.dropped += dropped.length;
      if (!this.#overflowing) {
        this.#overflowing = true;
        this.#logger.warning(
          "The Event queue is full ({size} Events); the oldest ones are dropped",
          { size },
        );
      }
    }
    this.#wake?.();
  }

  /** Takes a token from the object's bucket; false when it is empty (the object is throttled). */
  #take(key: string, now: number, ref: InvolvedObject): boolean {
    const { burst, refillPerSecond } = this.#settings;
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      this.#sweep(now);
      bucket = { tokens: burst, at: now, dry: false };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = refilled(bucket, now, burst, refillPerSecond);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.dry = false;
      return true;
    }
    if (!bucket.dry) {
      bucket.dry = true;
      this.#logger.debug(
        "Events about {kind} {name} are throttled: more than {burst} in a burst",
        { kind: ref.kind, name: ref.name, burst },
      );
    }
    return false;
  }

  #sweep(now: number): void {
    if (this.#buckets.size < this.#sweepAt) return;
    const { burst, refillPerSecond } = this.#settings;
    for (const [key, bucket] of this.#buckets) {
      if (refilled(bucket, now, burst, refillPerSecond) >= burst) this.#buckets.delete(key);
    }
    this.#sweepAt = Math.max(MIN_SWEEP_SIZE, this.#buckets.size * 2);
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    try {
      while (!signal.aborted) {
        const next = this.#queue.shift();
        if (next === undefined) {
          this.#overflowing = false;
          if (this.#state === "stopping") break;
          await new Promise<void>((resolve) => this.#wake = resolve);
          this.#wake = undefined;
          continue;
        }
        await this.#send(next, signal);
      }
    } catch (error) {
      this.#logger.error("The event poster failed unexpectedly: {error}", { error });
    } finally {
      this.#state = "stopped";
    }
  }

  async #send(event: QueuedEvent, signal: AbortSignal): Promise<void> {
    // Cluster-scoped objects get their Events in the context's namespace, as in Kopf (#164).
    const namespace = event.ref.namespace || this.#transport.connection.namespace || "default";
    const body = eventBody(event, namespace, this.#settings);
    try {
      await this.#transport.request("POST", references.path(EVENTS, { namespace }), {
        body,
        retries: this.#settings.retries,
        signal,
      });
      this.#stats.posted++;
      this.#failing = false;
    } catch (error) {
      if (signal.aborted) {
        this.#stats.dropped++;
        return;
      }
      this.#stats.failed++;
      const properties = {
        error,
        type: event.type,
        reason: event.reason,
        kind: event.ref.kind,
        name: event.ref.name,
      };
      if (this.#failing) {
        this.#logger.debug(
          "Failed to post an Event {reason} about {kind} {name}: {error}",
          properties,
        );
      } else {
        this.#failing = true;
        this.#logger.warning(
          "Failed to post an Event {reason} about {kind} {name}; ignoring it, as Events are " +
            "best effort (further failures are logged at the debug level): {error}",
          properties,
        );
      }
    }
  }

  #discard(): void {
    this.#stats.dropped += this.#queue.length;
    this.#queue = [];
  }
}

// ---- The public doors: what operator authors call, and the object loggers' sink ----

/** One object body or several. */
export type ObjectBodies = ObjectBody | readonly ObjectBody[];

/** The fields of an Event of a given type. */
export interface EventPostOptions {
  type: EventType;
  reason: string;
  message: string;
}

/** The fields of an informational or warning Event. */
export interface InfoPostOptions {
  reason: string;
  message: string;
}

/** The fields of an Event about an error. */
export interface ExceptionPostOptions {
  /** @default {the error's name, e.g. "TypeError"} */
  reason?: string;
  /** Put before the error's own message. @default {""} */
  message?: string;
  error?: unknown;
}

let activePoster: EventPoster | undefined;
const warnedOutside = new Set<string>();

/**
 * Makes `poster` the one that `info()`, `warn()`, `event()` and `exception()` post through;
 * the runtime sets it when an operator starts and clears it (`undefined`) when it stops.
 * Clearing it also re-arms the one-time warning about calls outside an operator.
 *
 * @example Around an operator's run
 * ```ts
 * import { EventPoster, setActivePoster } from "./posting.ts";
 * import { Transport } from "../k8s/transport.ts";
 * import { anonymous } from "../k8s/connections.ts";
 * import { defaultPosting } from "../settings/posting.ts";
 *
 * using transport = new Transport({
 *   server: "https://127.0.0.1:6443", caCerts: [], insecureSkipTlsVerify: false,
 *   namespace: "default", source: "example", authenticator: anonymous,
 * });
 * const poster = new EventPoster({ transport, settings: defaultPosting() });
 * setActivePoster(poster);
 * try {
 *   // … the operator runs; handlers call kopf.info() and friends …
 * } finally {
 *   setActivePoster(undefined);
 *   await poster.stop();
 * }
 * ```
 */
export function setActivePoster(poster: EventPoster | undefined): void {
  activePoster = poster;
  warnedOutside.clear();
}

/**
 * Posts an Event of the given type about each object, in the background.
 *
 * @example Reporting a scaling decision from a handler
 * ```ts
 * import { on } from "../registry/registering.ts";
 * import { event } from "./posting.ts";
 *
 * on.update("kopfexamples.v1.kopf.dev", function scale({ body }) {
 *   event(body, { type: "Normal", reason: "Scaled", message: "Scaled to 3 replicas" });
 * });
 * ```
 */
export function event(objs: ObjectBodies, options: EventPostOptions): void {
  postAll("event", objs, options.type, options.reason, options.message);
}

/**
 * Posts a `Normal` Event about each object, in the background.
 *
 * @example Telling `kubectl describe` readers what happened
 * ```ts
 * import { on } from "../registry/registering.ts";
 * import { info } from "./posting.ts";
 *
 * on.create("kopfexamples.v1.kopf.dev", function provision({ body }) {
 *   info(body, { reason: "Provisioned", message: "The database is ready" });
 * });
 * ```
 */
export function info(objs: ObjectBodies, options: InfoPostOptions): void {
  postAll("info", objs, "Normal", options.reason, options.message);
}

/**
 * Posts a `Warning` Event about each object, in the background.
 *
 * @example Warning about a deprecated field
 * ```ts
 * import { on } from "../registry/registering.ts";
 * import { warn } from "./posting.ts";
 *
 * on.create("kopfexamples.v1.kopf.dev", function check({ body, spec }) {
 *   if (spec.size) warn(body, { reason: "Deprecated", message: "spec.size is deprecated" });
 * });
 * ```
 */
export function warn(objs: ObjectBodies, options: InfoPostOptions): void {
  postAll("warn", objs, "Warning", options.reason, options.message);
}

/**
 * Posts a `Warning` Event about an error for each object, in the background: the reason is
 * the error's name unless given, the message is `message` followed by the error's message.
 *
 * @example Reporting a failure that the handler recovers from
 * ```ts
 * import { on } from "../registry/registering.ts";
 * import { exception } from "./posting.ts";
 *
 * on.create("kopfexamples.v1.kopf.dev", function provision({ body }) {
 *   try {
 *     JSON.parse(String(body.spec?.config));
 *   } catch (error) {
 *     // Reason "SyntaxError"; message "spec.config is not JSON; using defaults: Unexpected …"
 *     exception(body, { message: "spec.config is not JSON; using defaults:", error });
 *   }
 * });
 * ```
 */
export function exception(objs: ObjectBodies, options: ExceptionPostOptions = {}): void {
  const { error } = options;
  const detail = error === undefined ? "" : error instanceof Error ? error.message : String(error);
  const reason = options.reason || (error instanceof Error ? error.name : "") || "Error";
  const message = [options.message, detail].filter((part) => part).join(" ");
  postAll("exception", objs, "Warning", reason, message);
}

function postAll(
  name: string,
  objs: ObjectBodies,
  type: EventType,
  reason: string,
  message: string,
): void {
  const poster = activePoster;
  if (poster === undefined) {
    if (!warnedOutside.has(name)) {
      warnedOutside.add(name);
      getLogger(["kopf", "posting"]).warning(
        `kopf.${name}() was called outside a running operator; the event is dropped`,
      );
    }
    return;
  }
  const list: readonly ObjectBody[] = Array.isArray(objs) ? objs : [objs as ObjectBody];
  for (const involved of list) poster.post({ involved, type, reason, message });
}

/**
 * A LogTape sink that turns object-logger records into Events (reason `Logging`, as Kopf
 * names them): records at or above `settings.level` while `settings.loggers` is on, that
 * carry an object reference (see `objectLogger()` in `engines/logging.ts`). Warnings and
 * errors become `Warning` Events, the rest `Normal` ones. Settings are read per record.
 *
 * @example Posting the object loggers' warnings and errors
 * ```ts
 * import { configureLogging, resetLogging } from "./logging.ts";
 * import { EventPoster, postingSink } from "./posting.ts";
 * import { Transport } from "../k8s/transport.ts";
 * import { anonymous } from "../k8s/connections.ts";
 * import { defaultPosting } from "../settings/posting.ts";
 *
 * const transport = new Transport({
 *   server: "https://127.0.0.1:6443", caCerts: [], insecureSkipTlsVerify: false,
 *   namespace: "default", source: "example", authenticator: anonymous,
 * });
 * const posting = defaultPosting();
 * const poster = new EventPoster({ transport, settings: posting });
 * await configureLogging({ posting, postingSink: postingSink(poster, posting) });
 * await resetLogging();
 * ```
 */
export function postingSink(poster: EventPoster, settings: postingSettings.PostingSettings): Sink {
  return (record) => {
    if (!settings.enabled || !settings.loggers) return;
    if (compareLogLevel(record.level, settings.level) < 0) return;
    const ref = record.properties[OBJECT_PROPERTY];
    if (!isRecord(ref)) return;
    poster.post({
      involved: ref as InvolvedObject,
      type: compareLogLevel(record.level, "warning") >= 0 ? "Warning" : "Normal",
      reason: "Logging",
      message: renderMessage(record),
    });
  };
}

/** The message alone, as Kopf posts it: values rendered bare (strings) or as JSON. */
function renderMessage(record: LogRecord): string {
  const parts = record.message;
  // A pre-formatted message with literal braces ("… {'a': 1}") has no values to fill them.
  const values = parts.filter((_, i) => i % 2 === 1);
  if (typeof record.rawMessage === "string" && values.every((v) => v === undefined)) {
    return record.rawMessage;
  }
  return parts.map((part, i) => i % 2 === 0 ? String(part) : renderValue(part)).join("");
}

function renderValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The body of a core/v1 Event, with Kopf's fields and naming. */
function eventBody(
  event: QueuedEvent,
  namespace: string,
  settings: postingSettings.PostingSettings,
): api.KubernetesObject {
  const time = microTime(event.at);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { namespace, generateName: settings.eventNamePrefix },
    action: ACTION,
    type: event.type,
    reason: event.reason,
    message: truncate(event.message),
    reportingComponent: settings.reportingComponent,
    reportingInstance: settings.reportingInstance,
    source: { component: settings.reportingComponent },
    // Kopf puts the Event's namespace here even for cluster-scoped objects: with `eventTime`
    // set, that lets Events of cluster-scoped objects live outside `default`.
    involvedObject: { ...event.ref, namespace },
    firstTimestamp: time,
    lastTimestamp: time,
    eventTime: time,
  };
}

/** RFC 3339 with 6 fraction digits, as `eventTime` (a MicroTime) must be. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "000Z");
}

const encoder = new TextEncoder();

/**
 * Keeps a message within the API's limit by cutting out its middle, as Kopf does (511 + 3 +
 * 510 characters for ASCII); counted in UTF-8 bytes, as the API server counts, and never
 * splitting a character.
 */
function truncate(message: string): string {
  if (encoder.encode(message).length <= MAX_MESSAGE_BYTES) return message;
  const chars = Array.from(message);
  const half = MAX_MESSAGE_BYTES / 2;
  const headBytes = half - Math.floor(CUT_INFIX.length / 2);
  const tailBytes = half - (CUT_INFIX.length - Math.floor(CUT_INFIX.length / 2));
  return takeHead(chars, headBytes) + CUT_INFIX + takeTail(chars, tailBytes);
}

function takeHead(chars: readonly string[], limit: number): string {
  let used = 0;
  let result = "";
  for (const char of chars) {
    used += utf8Length(char);
    if (used > limit) break;
    result += char;
  }
  return result;
}

function takeTail(chars: readonly string[], limit: number): string {
  let used = 0;
  let start = chars.length;
  while (start > 0) {
    used += utf8Length(chars[start - 1] ?? "");
    if (used > limit) break;
    start--;
  }
  return chars.slice(start).join("");
}

function utf8Length(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

function refilled(bucket: TokenBucket, now: number, burst: number, perSecond: number): number {
  return Math.min(burst, bucket.tokens + Math.max(0, now - bucket.at) / 1000 * perSecond);
}

/** A snapshot of the identity: later changes of the body do not change a queued Event. */
function referenceOf(involved: ObjectBody | InvolvedObject): InvolvedObject {
  const metadata = (involved as ObjectBody).metadata;
  const source: Record<string, unknown> = isRecord(metadata)
    ? { ...metadata, apiVersion: involved.apiVersion, kind: involved.kind }
    : involved as Record<string, unknown>;
  const ref: InvolvedObject = {};
  for (const field of ["apiVersion", "kind", "name", "namespace", "uid", "resourceVersion"]) {
    const value = source[field];
    if (typeof value === "string" && value) ref[field as keyof InvolvedObject] = value;
  }
  return ref;
}

/** Events of both APIs: an Event about them could be watched and evented again, endlessly. */
function isEvent(ref: InvolvedObject): boolean {
  return ref.kind === "Event" &&
    (ref.apiVersion === "v1" || (ref.apiVersion ?? "").startsWith("events.k8s.io/"));
}

function keyOf(ref: InvolvedObject): string {
  return ref.uid || [ref.apiVersion, ref.kind, ref.namespace, ref.name].join("/");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
