// Handler ids: persistent names for handlers, which key progress records and `status.<id>`
// results, so they must stay the same across restarts. Called by registering.ts only.
// Never consults the registry: clashes between ids are the registry's business.

import type * as handlers from "./handlers.ts";

/** The kinds of handler an id can be made for; anonymous handlers are named after it. */
export type HandlerKind =
  | "create"
  | "update"
  | "delete"
  | "resume"
  | "field"
  | "event"
  | "index"
  | "daemon"
  | "timer"
  | "validate"
  | "mutate"
  | "convert"
  | "sub"
  | ActivityKind;

/** The kinds of activity handlers, as registered: `on.startup`, `on.cleanup`, … */
export type ActivityKind = "startup" | "cleanup" | "login" | "probe";

/** What an id is made from. */
export interface IdOptions {
  /** The id the user gave; the function's name otherwise. */
  id?: string | undefined;
  /** The field of a field handler: its dotted path becomes a suffix, `fn/spec.field`. */
  field?: readonly string[] | undefined;
  /** The parent of a sub-handler: its id becomes a prefix, `parent/child`. */
  parent?: handlers.HandlerId | undefined;
}

/**
 * The id of a handler, as Kopf makes it: the explicit id, else the function's name; then
 * `/<dotted field>` for field handlers, and `<parent>/` before sub-handlers. Sub-handlers get
 * no field suffix (Kopf does not give them one). Bound functions use the target's name.
 *
 * Anonymous functions (an inline arrow has an empty `name`) cannot be named reliably across
 * restarts, so they get a fallback from the handler kind: `on.create`, `on.update`,
 * `on.delete`, `on.resume`, `on.field`, `on.event`, `on.startup`, `on.cleanup`, `on.login`,
 * `on.probe`, `on.daemon`, `on.timer`, `on.validate`, `on.mutate`, `on.convert`, `subhandler` (so `on.field/spec.x`, `parent/subhandler`). Two anonymous handlers of one kind on one resource would clash; the
 * registry rejects the second one.
 *
 * @example
 * ```ts
 * import { handlerId } from "./ids.ts";
 * function scale() {}
 * handlerId(scale, "field", { field: ["spec", "replicas"] }); // "scale/spec.replicas"
 * handlerId(() => {}, "create"); // "on.create"
 * handlerId(scale, "sub", { id: "step1", parent: "create_fn" }); // "create_fn/step1"
 * handlerId(async () => 42, "probe"); // "on.probe"
 * ```
 */
export function handlerId(
  fn: handlers.HandlerFn,
  kind: HandlerKind,
  options: IdOptions = {},
): handlers.HandlerId {
  let id = options.id ?? (functionName(fn) || fallbackId(kind));
  // Neither sub-handlers nor indexes get a field suffix (Kopf gives them none).
  if (
    kind !== "sub" && kind !== "index" && options.field !== undefined && options.field.length > 0
  ) {
    id = `${id}/${options.field.join(".")}`;
  }
  if (options.parent !== undefined) id = `${options.parent}/${id}`;
  return id;
}

/** Whether a handler's id comes from the fallback: no explicit id and an anonymous function. */
export function isAnonymous(fn: handlers.HandlerFn, options: IdOptions = {}): boolean {
  return options.id === undefined && functionName(fn) === "";
}

/** The id an anonymous handler of this kind gets (before the field suffix and parent prefix). */
export function fallbackId(kind: HandlerKind): string {
  return kind === "sub" ? "subhandler" : `on.${kind}`;
}

/** The function's own name: `bound fn` is named `fn`, as Kopf unwraps `functools.partial`. */
export function functionName(fn: handlers.HandlerFn): string {
  return fn.name.replace(/^(?:bound )+/, "");
}
