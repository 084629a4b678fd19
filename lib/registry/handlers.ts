// Handler declarations: what an operator author registered, with which options, as plain
// frozen data. Registries hold these; causes/handling/processing and the activity runner read
// them. No I/O, no logic beyond the types and the filter markers.

import type * as references from "../structs/references.ts";

/** A persistent handler id: it names progress records and `status.<id>` results. */
export type HandlerId = string;

/** Why changing handlers run, as the handlers see it (`reason` in the context). */
export type Reason = "create" | "update" | "delete" | "resume";

/** How arbitrary errors (not `TemporaryError`/`PermanentError`) are treated. */
export type ErrorsMode = "temporary" | "permanent" | "ignored";

/** Marks a label, annotation or field that must be present, with any value. */
export const PRESENT: unique symbol = Symbol("kopf.PRESENT");
/** Marks a label, annotation or field that must be absent. */
export const ABSENT: unique symbol = Symbol("kopf.ABSENT");
/** Selects every served resource (except events) for a handler. */
export const EVERYTHING: unique symbol = Symbol("kopf.EVERYTHING");

/** A marker: `PRESENT` or `ABSENT`. */
export type Marker = typeof PRESENT | typeof ABSENT;

/** A predicate on one value (a label, an annotation, a field), given the handler's context too. */
// deno-lint-ignore no-explicit-any
export type ValueCallback = (value: any, context: any) => boolean;

/** Filters on labels or annotations: exact values, markers or predicates per key. */
export type MetaFilter = Readonly<Record<string, string | Marker | ValueCallback>>;

/** A filter on a field's value: an exact value (deep-equal), a marker or a predicate. */
export type ValueFilter = unknown;

/** A whole-object predicate, given the handler's context. */
// deno-lint-ignore no-explicit-any
export type WhenFilter = (context: any) => boolean;

/**
 * Which resources a handler serves: a name as the user writes it (`"kopfexamples"`,
 * `"kopfexamples.kopf.dev"`, `"kopfexamples.v1.kopf.dev"`, a kind or short name), its
 * parts, `EVERYTHING`, or a predicate over discovered resources.
 */
export type ResourceSelector =
  | string
  | {
    readonly group?: string;
    readonly version?: string;
    readonly plural?: string;
    readonly kind?: string;
    readonly singular?: string;
    readonly shortcut?: string;
    readonly category?: string;
  }
  | typeof EVERYTHING
  | ((resource: references.Resource) => boolean);

/** A handler function: receives one context object; its result goes to `status.<id>`. */
// deno-lint-ignore no-explicit-any
export type HandlerFn = (context: any) => unknown;

/** What every handler has. Durations are in seconds. */
export interface BaseHandler {
  readonly id: HandlerId;
  readonly fn: HandlerFn;
  readonly param: unknown;
  readonly errors: ErrorsMode | undefined;
  readonly timeout: number | undefined;
  readonly retries: number | undefined;
  readonly backoff: number | undefined;
}

/** What every handler of a resource has: its selector and its filters. */
export interface ResourceHandler extends BaseHandler {
  /** Undefined only for sub-handlers, which inherit the parent's resource. */
  readonly selector: ResourceSelector | undefined;
  readonly labels: MetaFilter | undefined;
  readonly annotations: MetaFilter | undefined;
  readonly when: WhenFilter | undefined;
  /** The field a field/update handler is scoped to, as a path: `["spec", "replicas"]`. */
  readonly field: readonly string[] | undefined;
  /** Filter on the field's value (`value=`); `undefined` when not given. */
  readonly value: ValueFilter | undefined;
  /**
   * Whether a `value` filter was given. As in Kopf (where `None` means "no filter"), a
   * `value: undefined` option is no filter; `ABSENT` requires a missing field.
   */
  readonly hasValue: boolean;
}

/** `on.create/update/delete/resume/field`: runs for causes, with persisted progress. */
export interface ChangingHandler extends ResourceHandler {
  readonly kind: "changing";
  /**
   * The cause reason the handler is for. Undefined for `on.field` and sub-handlers, which run
   * for every handler reason. `"resume"` for resume handlers, which (with `initial`) also mix
   * into update and delete causes of objects of the initial listing.
   */
  readonly reason: Reason | undefined;
  /** Resume handlers: run once per process for objects of the initial listing. */
  readonly initial: boolean;
  /** Resume handlers with `deleted: true` also run for objects being deleted. */
  readonly deleted: boolean;
  /** Non-optional delete handlers need the finalizer to block deletion. */
  readonly requiresFinalizer: boolean;
  /** `on.update`/`on.field` with a field: run only when that field changed. */
  readonly fieldNeedsChange: boolean;
  readonly old: ValueFilter | undefined;
  readonly hasOld: boolean;
  readonly new: ValueFilter | undefined;
  readonly hasNew: boolean;
  /** Set for sub-handlers: the id of the parent. */
  readonly parent: HandlerId | undefined;
}

/** `on.event`: runs for every watch event, without progress, errors ignored by default. */
export interface WatchingHandler extends ResourceHandler {
  readonly kind: "watching";
}

/**
 * `on.index`: runs for every watch event (the initial listing too) before the other handlers
 * of the object; its result goes into the in-memory index named by its id, never to the API.
 * Errors are ignored by default (the previous values stay).
 */
export interface IndexingHandler extends ResourceHandler {
  readonly kind: "indexing";
}

/**
 * `on.daemon`/`on.timer`: background work that accompanies each matching object while it
 * exists and matches, in this process only (nothing is persisted but results and patches).
 * Both need the finalizer, as in Kopf: they are stopped before their object goes.
 */
export interface SpawningHandler extends ResourceHandler {
  /** Seconds to wait after spawning before the first call. */
  readonly initialDelay: number | undefined;
  /** Always true: the object keeps the finalizer until its daemons and timers have stopped. */
  readonly requiresFinalizer: boolean;
}

/** `on.daemon`: one long-running call per object, stopped by `stopped` and then cancelled. */
export interface DaemonHandler extends SpawningHandler {
  readonly kind: "daemon";
  /** Seconds between the stop request and the cancellation (`signal` aborted). */
  readonly cancellationBackoff: number | undefined;
  /** Seconds after the cancellation until the daemon is abandoned; undefined: wait forever. */
  readonly cancellationTimeout: number | undefined;
  /** How often a daemon without a timeout is checked while stopping; settings' by default. */
  readonly cancellationPolling: number | undefined;
}

/** `on.timer`: calls per object every `interval` seconds and/or after `idle` quiet seconds. */
export interface TimerHandler extends SpawningHandler {
  readonly kind: "timer";
  /** Seconds from the end of one call to the start of the next. */
  readonly interval: number | undefined;
  /** Seconds without essential changes of the object before a call. */
  readonly idle: number | undefined;
  /** Calls start on the grid `first + k × interval`, however long each call takes. */
  readonly sharp: boolean;
}

/** A daemon or a timer. */
export type AnySpawningHandler = DaemonHandler | TimerHandler;

/** Any handler of a resource. */
export type AnyResourceHandler =
  | ChangingHandler
  | WatchingHandler
  | IndexingHandler
  | DaemonHandler
  | TimerHandler;

/**
 * An operator-wide activity, named as Kopf names them (`kopf.Activity`): `on.startup`,
 * `on.cleanup`, `on.login` (`"authentication"`) and `on.probe`.
 */
export type Activity = "startup" | "cleanup" | "authentication" | "probe";

/** `on.startup/cleanup/login/probe`: runs for the operator, not for objects; no progress kept. */
export interface ActivityHandler extends BaseHandler {
  readonly kind: "activity";
  readonly activity: Activity;
}

/** Any handler a registry holds. */
export type AnyHandler = AnyResourceHandler | ActivityHandler;
