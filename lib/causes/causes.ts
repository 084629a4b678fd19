// What changed about an object, as changing handlers see it: the cause (create, update,
// delete, resume; or noop, free, gone for the reactor), which kinds of handler a cause calls,
// and field-relative views. Called by processing/ and registry/. Pure: the essences and the
// diff come from the persistence layer; nothing here does I/O or knows the registry.

import type * as diffbase from "../persistence/diffbase.ts";
import * as bodies from "../structs/bodies.ts";
import * as diffs from "../structs/diffs.ts";
import * as finalizers from "../structs/finalizers.ts";

/** Why a changing cycle happens: the four handler reasons and three for the reactor. */
export type CauseReason = "create" | "update" | "delete" | "resume" | "noop" | "free" | "gone";

/** The reasons that call handlers (the `reason` handlers receive). */
export type HandlerReason = "create" | "update" | "delete" | "resume";

/** The reasons that call handlers, in Kopf's order. */
export const HANDLER_REASONS: readonly HandlerReason[] = ["create", "update", "delete", "resume"];

/** The body minus what never counts as a change (status, most metadata), as persisted. */
export type Essence = diffbase.Essence;

/** A changing cause: why the cycle happens, and what changed since the last handled state. */
export interface ChangingCause {
  /** Why the cycle happens. */
  readonly reason: CauseReason;
  /** The object came with the initial listing and is not fully handled yet in this process. */
  readonly initial: boolean;
  /** Deletion is ongoing: `metadata.deletionTimestamp` is set. */
  readonly deleting: boolean;
  /** The object as the watch delivered it. */
  readonly body: bodies.RawBody;
  /** The last handled essence; undefined when none is stored (a new object). */
  readonly old: Essence | undefined;
  /** The current essence. */
  readonly new: Essence;
  /** From the last handled to the current essence. */
  readonly diff: diffs.Diff;
}

/** What cause detection reads: plain data, computed elsewhere. */
export interface Detection {
  /** The watch event type; undefined for objects of the initial listing. */
  readonly eventType: string | undefined;
  /** The object as the watch delivered it. */
  readonly body: bodies.RawBody;
  /** The diff-base (last handled essence), undefined when none is stored. */
  readonly old: Essence | undefined;
  /** The current essence. */
  readonly new: Essence;
  /** From `old` to `new`: empty when nothing essential changed. */
  readonly diff: diffs.Diff;
  /** Seen in the initial listing and not yet fully handled once by this process. */
  readonly initial: boolean;
  /** The operator's finalizer name, e.g. `kopf.zalando.org/KopfFinalizerMarker`. */
  readonly finalizer: string;
}

/**
 * Detects the cause of an event, as Kopf does, in this order: a `DELETED` event is `gone`;
 * deletion ongoing without our finalizer is `free`; deletion ongoing is `delete`; no stored
 * essence is `create` (never mixed with resuming, so `initial` becomes false); no diff for an
 * object of the initial listing is `resume`; no diff is `noop`; anything else is `update`.
 *
 * @example
 * ```ts
 * import * as causes from "./causes.ts";
 * const body = { metadata: { name: "a" }, spec: { x: 1 } };
 * const cause = causes.detect({
 *   eventType: "ADDED", body, old: undefined, new: { spec: { x: 1 } }, diff: [],
 *   initial: false, finalizer: "kopf.zalando.org/KopfFinalizerMarker",
 * });
 * cause.reason; // "create"
 * ```
 */
export function detect(input: Detection): ChangingCause {
  const deleting = finalizers.isDeletionOngoing(input.body);
  const base = {
    initial: input.initial,
    deleting,
    body: input.body,
    old: input.old,
    new: input.new,
    diff: input.diff,
  };
  if (input.eventType === "DELETED") return { ...base, reason: "gone" };
  if (deleting && !finalizers.isDeletionBlocked(input.body, input.finalizer)) {
    return { ...base, reason: "free" };
  }
  if (deleting) return { ...base, reason: "delete" };
  if (input.old === undefined) return { ...base, reason: "create", initial: false };
  if (input.diff.length === 0 && input.initial) return { ...base, reason: "resume" };
  if (input.diff.length === 0) return { ...base, reason: "noop" };
  return { ...base, reason: "update" };
}

/** Whether the cause calls handlers at all (noop, free and gone do not). */
export function isHandlerReason(reason: CauseReason): reason is HandlerReason {
  return (HANDLER_REASONS as readonly string[]).includes(reason);
}

/** What decides whether a handler runs for a cause at all, before any filter. */
export interface Gates {
  /** The reason the handler is for; undefined for field handlers and sub-handlers (any). */
  readonly reason: HandlerReason | undefined;
  /** Resume handlers: run for objects of the initial listing, mixed into their cause. */
  readonly initial: boolean;
  /** Resume handlers only: also run while the object is being deleted. */
  readonly deleted: boolean;
}

/**
 * Whether a cause calls a handler with these gates. Handlers for one reason run for causes of
 * that reason; field and sub-handlers for every handler reason. Resume handlers run for every
 * cause of an object of the initial listing ("cuckoo-style": mixed into update and delete,
 * or on a dedicated `resume` cause when nothing changed), but never for creation (which is
 * never initial) and not during deletion unless `deleted` is set.
 */
export function invokes(cause: ChangingCause, gates: Gates): boolean {
  if (!isHandlerReason(cause.reason)) return false;
  if (gates.initial) return cause.initial && (!cause.deleting || gates.deleted);
  return gates.reason === undefined || gates.reason === cause.reason;
}

/** A field's part of a cause: what field handlers receive as `old`, `new` and `diff`. */
export interface FieldView {
  /** The field's last handled value. */
  readonly old: unknown;
  /** The field's current value. */
  readonly new: unknown;
  /** The changes within the field, with paths relative to it. */
  readonly diff: diffs.Diff;
}

/**
 * The field-relative `old`, `new` and `diff` of a cause (undefined where the field is
 * missing), as Kopf gives them to field handlers. An empty path gives the whole essences.
 */
export function fieldView(cause: ChangingCause, field: bodies.FieldPath): FieldView {
  return {
    old: bodies.resolve(cause.old, field, undefined),
    new: bodies.resolve(cause.new, field, undefined),
    diff: diffs.reduce(cause.diff, field),
  };
}

/**
 * Whether the field differs between the last handled and the current essence (a field that
 * appears or disappears counts). Update and field handlers with a field run only then.
 */
export function fieldChanged(cause: ChangingCause, field: bodies.FieldPath): boolean {
  const absent = Symbol("absent");
  const before = bodies.resolve(cause.old, field, absent);
  const after = bodies.resolve(cause.new, field, absent);
  return !bodies.deepEqual(before, after);
}
