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

/** What every handler of a resource receives. */
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

/** A changing handler's function. Its result (if any) is merged into `status.<id>`. */
export type ChangingFn<Spec = Record<string, unknown>, Status = Record<string, unknown>> = (
  context: ChangingContext<Spec, Status>,
) => unknown;

/** An event handler's function. */
export type EventFn<Spec = Record<string, unknown>, Status = Record<string, unknown>> = (
  context: EventContext<Spec, Status>,
) => unknown;

/**
 * What activity handlers (`on.startup`, `on.cleanup`, `on.login`, `on.probe`) receive: no
 * object, but the operator-wide memo and settings.
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
export type ActivityFn = (context: ActivityContext) => unknown;

/** A login handler's function: the connection to use instead of the kubeconfig. */
export type LoginFn = (context: ActivityContext) => LoginResult | Promise<LoginResult>;

/** A probe handler's function: its result is shown in the liveness report under its id. */
export type ProbeFn = (context: ActivityContext) => unknown;
