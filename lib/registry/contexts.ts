// The context objects handlers receive: one typed object per handler kind, with Kopf's names
// (body, spec, meta, status, name, namespace, patch, logger, memo, retry, diff, old, new, …;
// activity, settings for activities). Types only; `handling/` builds them. New fields may be
// added without breaking handlers.

import type { Logger } from "@logtape/logtape";
import type * as connections from "../k8s/connections.ts";
import type * as operatorSettings from "../settings/operator.ts";
import type * as patches from "../structs/patches.ts";
import type * as diffs from "../structs/diffs.ts";
import type * as references from "../structs/references.ts";
import type * as handlers from "./handlers.ts";

/** Object metadata as handlers read it. */
export interface Meta {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly finalizers?: readonly string[];
  readonly ownerReferences?: readonly Readonly<Record<string, unknown>>[];
  readonly [key: string]: unknown;
}

/** An object as handlers read it: typed spec and status, everything else as it came. */
export interface Body<Spec = Record<string, unknown>, Status = Record<string, unknown>> {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: Meta;
  readonly spec?: Spec;
  readonly status?: Status;
  readonly [key: string]: unknown;
}

/** An operator-wide or per-object scratchpad, kept in memory only. */
export type Memo = Record<string, unknown>;

/**
 * What every handler of a resource receives. Besides these fields, the context has one per
 * index (`on.index`), named after the index's id and typed `Index` (an index whose id is a field
 * name here replaces that field, as in Kopf). Declare the indexes a handler reads in its
 * parameter's type: `(ctx: ChangingContext & { podsByLabel: Index<string, string> }) => …`.
 */
export interface ResourceContext<Spec = Record<string, unknown>, Status = Record<string, unknown>> {
  readonly body: Body<Spec, Status>;
  /** `body.spec`, or `{}` when the object has none. */
  readonly spec: Spec;
  readonly meta: Meta;
  /** `body.status`, or `{}` when the object has none. */
  readonly status: Status;
  readonly name: string;
  /** Undefined for cluster-scoped objects. */
  readonly namespace: string | undefined;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly resource: references.Resource;
  /** Changes to send after the handler: `patch.status.phase = "Ready"`, `patch.fns.push(fn)`. */
  readonly patch: patches.Patch;
  /** Logs with the object's `[namespace/name]` prefix. */
  readonly logger: Logger;
  /** The per-object memo (ephemeral: lost on restart). */
  readonly memo: Memo;
  /** The `param` option of the handler. */
  readonly param: unknown;
  /** Aborted when the operator stops or the handler's timeout passes. */
  readonly signal: AbortSignal;
  /** The id of the running handler. */
  readonly id: handlers.HandlerId;
}

/** What changing handlers (create/update/delete/resume/field) receive. */
export interface ChangingContext<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends ResourceContext<Spec, Status> {
  readonly reason: handlers.Reason;
  /** 0 on the first attempt, then the number of earlier attempts. */
  readonly retry: number;
  /** When the first attempt started. */
  readonly started: Date;
  /** Seconds since the first attempt started. */
  readonly runtime: number;
  /** What changed since the last handled state (field-relative for field handlers). */
  readonly diff: diffs.Diff;
  /** The last handled state (or field value), undefined on creation. */
  readonly old: unknown;
  /** The current state (or field value), undefined on deletion of a field. */
  readonly new: unknown;
}

/** The raw watch event an `on.event` handler receives. */
export interface RawEvent {
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | undefined;
  readonly object: Body;
}

/** What `on.event` handlers receive. */
export interface EventContext<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends ResourceContext<Spec, Status> {
  readonly event: RawEvent;
  /** The event type; undefined for objects of the initial listing. */
  readonly type: RawEvent["type"];
}

/**
 * A handler function that receives `Context`. It also accepts a function whose parameter is
 * `Context` with more fields: the indexes it reads (`Context & { podsByLabel: Index }`). Method
 * parameters are compared both ways in TypeScript, which is what lets that wider type in;
 * unrelated types and misspelt fields are still errors.
 */
export type HandlerFnOf<Context, Result = unknown> = {
  handler(context: Context): Result;
}["handler"];

/** A changing handler's function. Its result (if any) is merged into `status.<id>`. */
export type ChangingFn<Spec = Record<string, unknown>, Status = Record<string, unknown>> =
  HandlerFnOf<ChangingContext<Spec, Status>>;

/** An event handler's function. */
export type EventFn<Spec = Record<string, unknown>, Status = Record<string, unknown>> = HandlerFnOf<
  EventContext<Spec, Status>
>;

/**
 * What index functions (`on.index`) receive: the object's fields and the indexes (no `patch`:
 * indexing writes nothing to the API), and the retry counters since the first failure.
 */
export interface IndexingContext<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends Omit<ResourceContext<Spec, Status>, "patch"> {
  /** 0 on the first attempt, then the number of attempts since the first failure. */
  readonly retry: number;
  /** When the first attempt (since the last success) started. */
  readonly started: Date;
  /** Seconds since the first attempt (since the last success) started. */
  readonly runtime: number;
}

/**
 * An index function: what it returns is stored for the object in the index named by its id.
 * A plain object or a `Map` merges under its keys; any other value goes under the key `null`;
 * `undefined` and `null` index nothing and keep the object's previous values.
 */
export type IndexFn<Spec = Record<string, unknown>, Status = Record<string, unknown>> = HandlerFnOf<
  IndexingContext<Spec, Status>
>;

/**
 * What activity handlers (`on.startup`, `on.cleanup`, `on.login`, `on.probe`) receive: no
 * object, but the operator-wide memo and settings; and, as resource handlers, one field per
 * index, named after its id. Indexes are empty until their resources' listings arrive: a startup
 * handler sees them empty, but may keep them and read them later.
 */
export interface ActivityContext {
  /** Which activity runs: `startup`, `cleanup`, `authentication` (`on.login`) or `probe`. */
  readonly activity: handlers.Activity;
  /** Logs under `kopf.activities.<activity>`. */
  readonly logger: Logger;
  /**
   * The operator memo: the object given as `operator({ memo })` (a fresh `{}` by default), the
   * same for every activity. Per-object memos start as shallow copies of it, so values put here
   * by a startup handler are seen by every object's handlers.
   */
  readonly memo: Memo;
  /**
   * The operator's settings. Changes made by startup handlers apply to the whole run: they
   * run before the operator connects and starts watching.
   */
  readonly settings: operatorSettings.OperatorSettings;
  /** The `param` option of the handler. */
  readonly param: unknown;
  /** 0 on the first attempt, then the number of earlier attempts. */
  readonly retry: number;
  /** When the first attempt started. */
  readonly started: Date;
  /** Seconds since the first attempt started. */
  readonly runtime: number;
  /** Aborted when the operator stops (startup, login) or the handler's timeout passes. */
  readonly signal: AbortSignal;
  /** The id of the running handler. */
  readonly id: handlers.HandlerId;
}

/**
 * Where and how to connect, as a login handler returns it (Kopf's `ConnectionInfo`). PEM data
 * is given as text; give either a token or a username and password, and a certificate with its
 * key.
 */
export interface ConnectionInfo {
  /** The API server's base URL: `https://127.0.0.1:6443`. */
  readonly server: string;
  /** PEM certificates of the cluster's CA, trusted in addition to Deno's roots. */
  readonly caData?: string;
  /** Skip TLS verification; Deno can do it only process-wide (see the transport's docs). */
  readonly insecure?: boolean;
  /** Sent as `Authorization: <scheme> <token>`. */
  readonly token?: string;
  /** The scheme of the token. @default {"Bearer"} */
  readonly scheme?: string;
  /** Basic authentication. */
  readonly username?: string;
  /** Basic authentication. */
  readonly password?: string;
  /** A client certificate (PEM); needs `privateKeyData`. */
  readonly certificateData?: string;
  /** The client certificate's key (PEM). */
  readonly privateKeyData?: string;
  /** The namespace for Events of cluster-scoped objects. @default {"default"} */
  readonly defaultNamespace?: string;
  /** An HTTP(S) proxy to reach the server through. */
  readonly proxyUrl?: string;
  /** With several login handlers, the result of the highest priority wins. @default {0} */
  readonly priority?: number;
}

/**
 * What a login handler returns: a `ConnectionInfo`, a full `Connection` (e.g. from
 * `loginWithKubeconfig()`), or nothing when it has no credentials to offer.
 */
export type LoginResult = ConnectionInfo | connections.Connection | null | undefined;

/** A startup or cleanup handler's function; its result is ignored. */
export type ActivityFn = HandlerFnOf<ActivityContext>;

/** A login handler's function: the connection to use instead of the kubeconfig. */
export type LoginFn = HandlerFnOf<ActivityContext, LoginResult | Promise<LoginResult>>;

/** A probe handler's function: its result is shown in the liveness report under its id. */
export type ProbeFn = HandlerFnOf<ActivityContext>;

/**
 * Why a daemon or timer stops, first reason first (Kopf's `DaemonStoppingReason`): `"done"` (it
 * exited), `"filters mismatch"`, `"deleted"` (the object is being deleted or is gone),
 * `"operator paused"` (a peer took over; it is respawned on resume), `"operator exiting"`, then
 * the steps of the stop: `"cancelled"` (the `signal` aborted) and `"abandoned"`.
 */
export type StoppingReason =
  | "done"
  | "filters mismatch"
  | "deleted"
  | "operator paused"
  | "operator exiting"
  | "cancelled"
  | "abandoned";

/**
 * The stop flag of a daemon or timer (Kopf's `stopped`). Check `aborted` in loops, sleep with
 * `await stopped.wait(seconds)` (it wakes early when the stop comes), and pass `signal` to
 * `fetch()` and other abortable calls.
 */
export interface DaemonStopped {
  /** Whether the daemon or timer was asked to stop. */
  readonly aborted: boolean;
  /** Why it was first asked to stop; undefined until then. */
  readonly reason: StoppingReason | undefined;
  /** Every reason so far, in order: the first one, then the steps of the stop. */
  readonly reasons: readonly StoppingReason[];
  /** Aborts when the stop is asked for (with a DOMException "AbortError" naming the reason). */
  readonly signal: AbortSignal;
  /**
   * Resolves after `seconds`, or as soon as the stop is asked for (at once if it was), with
   * whether it was. Without `seconds`, waits for the stop however long it takes.
   */
  wait(seconds?: number): Promise<boolean>;
}

/**
 * What daemons and timers receive: the object's fields as live views (`body`, `spec`, `status`,
 * `labels`, … read the latest state the watch delivered, not the one they started with), the
 * stop flag, and the counters of the current call's retries. `signal` aborts when the daemon is
 * cancelled (after `cancellationBackoff`), on the handler's `timeout`, or when the operator gives
 * up waiting on exit; `stopped.signal` aborts as soon as the stop is asked for.
 */
export interface SpawningContext<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends ResourceContext<Spec, Status> {
  readonly stopped: DaemonStopped;
  /** 0 on the first attempt, then the number of earlier attempts (of this call, for timers). */
  readonly retry: number;
  /** When the first attempt started (of this call, for timers). */
  readonly started: Date;
  /** Seconds since the first attempt started. */
  readonly runtime: number;
}

/** What `on.daemon` functions receive. */
export type DaemonContext<Spec = Record<string, unknown>, Status = Record<string, unknown>> =
  SpawningContext<Spec, Status>;

/** What `on.timer` functions receive. */
export type TimerContext<Spec = Record<string, unknown>, Status = Record<string, unknown>> =
  SpawningContext<Spec, Status>;

/** A daemon's function: its result (if any) is merged into `status.<id>` when it returns. */
export type DaemonFn<Spec = Record<string, unknown>, Status = Record<string, unknown>> =
  HandlerFnOf<DaemonContext<Spec, Status>>;

/** A timer's function: its result (if any) is merged into `status.<id>` after each call. */
export type TimerFn<Spec = Record<string, unknown>, Status = Record<string, unknown>> = HandlerFnOf<
  TimerContext<Spec, Status>
>;
