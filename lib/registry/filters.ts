// Filters: whether a registered handler matches an object and its cause — labels, annotations,
// `when`, `field` + `value`, `old`/`new` transitions — and which handlers a cause selects.
// Called by the registry and by processing/handling. Pure: predicates receive the context
// object the caller built; nothing here builds contexts or runs handlers.

import * as causes from "../causes/causes.ts";
import * as bodies from "../structs/bodies.ts";
import * as handlers from "./handlers.ts";

/** What the filters of an `on.event` handler read: the object as it is now. */
export interface EventSubject {
  /** The object as the watch delivered it. */
  readonly body: bodies.RawBody;
}

/** A changing cause (field values from the essences) or an event (from the body). */
export type Subject = causes.ChangingCause | EventSubject;

const ABSENT_VALUE: unique symbol = Symbol("absent");
type Resolved = unknown | typeof ABSENT_VALUE;

/**
 * Whether labels or annotations satisfy a filter: per key, an exact value, `PRESENT`,
 * `ABSENT`, or a predicate called with the value (undefined when missing) and the context.
 */
export function matchesMeta(
  filter: handlers.MetaFilter | undefined,
  content: unknown,
  context: unknown,
): boolean {
  if (filter === undefined) return true;
  const values = bodies.isObject(content) ? content : {};
  for (const [key, expected] of Object.entries(filter)) {
    const present = Object.hasOwn(values, key);
    if (expected === handlers.ABSENT) {
      if (present) return false;
    } else if (expected === handlers.PRESENT) {
      if (!present) return false;
    } else if (typeof expected === "function") {
      if (!expected(present ? values[key] : undefined, context)) return false;
    } else if (!present || values[key] !== expected) {
      return false;
    }
  }
  return true;
}

/**
 * Whether the handler's `field` + `value` filter holds. For changing causes, either the
 * current or the last handled value may satisfy it (the current one is tried first, so a
 * predicate that accepts it is not called again); a new object has only the current one. For
 * events, the body's value. With a field but no `value`, the field must be present.
 */
export function matchesValue(
  handler: handlers.ResourceHandler,
  subject: Subject,
  context: unknown,
): boolean {
  if (handler.field === undefined) return true;
  const field = handler.field;
  const values: Resolved[] = isChanging(subject)
    ? subject.old === undefined
      ? [resolve(subject.new, field)]
      : [resolve(subject.new, field), resolve(subject.old, field)]
    : [resolve(subject.body, field)];
  if (!handler.hasValue) return values.some((v) => v !== ABSENT_VALUE);
  return values.some((v) => passes(handler.value, v, context));
}

/**
 * Whether the handler's field changed as it requires: update and field handlers with a field
 * run only when the field's value differs between the last handled and the current essence;
 * `old`/`new` filters test the value before and after. True for anything else.
 */
export function matchesChange(
  handler: handlers.AnyResourceHandler,
  subject: Subject,
  context: unknown,
): boolean {
  if (handler.kind !== "changing" || !isChanging(subject) || handler.field === undefined) {
    return true;
  }
  if (handler.fieldNeedsChange && !causes.fieldChanged(subject, handler.field)) return false;
  const before = resolve(subject.old, handler.field);
  const after = resolve(subject.new, handler.field);
  return (!handler.hasOld || passes(handler.old, before, context)) &&
    (!handler.hasNew || passes(handler.new, after, context));
}

/** Whether the handler's `when` predicate accepts the context. */
export function matchesWhen(handler: handlers.ResourceHandler, context: unknown): boolean {
  return handler.when === undefined || Boolean(handler.when(context));
}

/**
 * Kopf's pre-match: labels, annotations, field value and `when`, but not the field change. It
 * decides whether an object is of interest at all and whether it needs the finalizer.
 */
export function prematches(
  handler: handlers.AnyResourceHandler,
  subject: Subject,
  context: unknown,
): boolean {
  return evaluate(handler, subject, context, false);
}

/** Every filter of the handler, in Kopf's order (`when` last, as it may be costly). */
export function matches(
  handler: handlers.AnyResourceHandler,
  subject: Subject,
  context: unknown,
): boolean {
  return evaluate(handler, subject, context, true);
}

/**
 * The changing handlers a cause runs, in registration order: those the cause invokes (by
 * reason; resume handlers for objects of the initial listing) whose filters all match, each
 * function+id once. Give only the handlers of the cause's resource (or a sub-registry's).
 */
export function selectChanging(
  candidates: Iterable<handlers.ChangingHandler>,
  cause: causes.ChangingCause,
  context: unknown,
): handlers.ChangingHandler[] {
  const selected: handlers.ChangingHandler[] = [];
  for (const handler of candidates) {
    if (causes.invokes(cause, handler) && matches(handler, cause, context)) selected.push(handler);
  }
  return deduplicated(selected);
}

/** The `on.event` handlers an event runs: those whose filters match, each function+id once. */
export function selectWatching(
  candidates: Iterable<handlers.WatchingHandler>,
  subject: EventSubject,
  context: unknown,
): handlers.WatchingHandler[] {
  return deduplicated([...candidates].filter((handler) => matches(handler, subject, context)));
}

/** Whether the object must carry the finalizer: a handler that needs one pre-matches it. */
export function requiresFinalizer(
  candidates: Iterable<handlers.ChangingHandler>,
  cause: causes.ChangingCause,
  context: unknown,
): boolean {
  for (const handler of candidates) {
    if (handler.requiresFinalizer && prematches(handler, cause, context)) return true;
  }
  return false;
}

/**
 * Whether any handler pre-matches the object. When none does, the object is out of scope
 * ("stealth mode"): no state is stored on it and nothing is logged about it.
 */
export function anyPrematches(
  candidates: Iterable<handlers.AnyResourceHandler>,
  subject: Subject,
  context: unknown,
): boolean {
  for (const handler of candidates) if (prematches(handler, subject, context)) return true;
  return false;
}

/**
 * Each function+id once, the first occurrence kept: a function registered for several
 * reasons (say, create and resume) runs once per cycle even when both select it.
 */
export function deduplicated<H extends handlers.BaseHandler>(list: Iterable<H>): H[] {
  const seen = new Map<handlers.HandlerFn, Set<handlers.HandlerId>>();
  const result: H[] = [];
  for (const handler of list) {
    const ids = seen.get(handler.fn) ?? new Set<handlers.HandlerId>();
    if (ids.has(handler.id)) continue;
    ids.add(handler.id);
    seen.set(handler.fn, ids);
    result.push(handler);
  }
  return result;
}

function evaluate(
  handler: handlers.AnyResourceHandler,
  subject: Subject,
  context: unknown,
  withChange: boolean,
): boolean {
  const metadata = bodies.resolve(subject.body, ["metadata"], {});
  return matchesMeta(handler.labels, bodies.resolve(metadata, ["labels"], {}), context) &&
    matchesMeta(handler.annotations, bodies.resolve(metadata, ["annotations"], {}), context) &&
    matchesValue(handler, subject, context) &&
    (!withChange || matchesChange(handler, subject, context)) &&
    matchesWhen(handler, context);
}

function isChanging(subject: Subject): subject is causes.ChangingCause {
  return "reason" in subject;
}

function resolve(obj: unknown, field: bodies.FieldPath): Resolved {
  return bodies.resolve(obj, field, ABSENT_VALUE);
}

function passes(filter: handlers.ValueFilter, value: Resolved, context: unknown): boolean {
  if (filter === handlers.ABSENT) return value === ABSENT_VALUE;
  if (filter === handlers.PRESENT) return value !== ABSENT_VALUE;
  if (typeof filter === "function") {
    return Boolean(filter(value === ABSENT_VALUE ? undefined : value, context));
  }
  return value !== ABSENT_VALUE && bodies.deepEqual(filter, value);
}
