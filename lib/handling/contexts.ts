// Builds the one context object each handler receives, with Kopf's names: body, spec, meta,
// status, name, namespace, patch, logger, memo, retry, diff, old, new, event, type, …; for
// activities: activity, memo, settings. Field handlers get field-relative old/new/diff. Pure
// construction; no I/O.

import type { Logger } from "@logtape/logtape";
import { AsyncLocalStorage } from "node:async_hooks";
import * as causes from "../causes/causes.ts";
import type * as contexts from "../registry/contexts.ts";
import type * as handlers from "../registry/handlers.ts";
import type * as operatorSettings from "../settings/operator.ts";
import type * as indexes from "../structs/indexes.ts";
import type * as patches from "../structs/patches.ts";
import type * as references from "../structs/references.ts";
import type * as execution from "./execution.ts";

/** What every context of one object in one cycle shares. */
export interface Subject {
  readonly body: contexts.Body;
  readonly resource: references.Resource;
  readonly patch: patches.Patch;
  readonly logger: Logger;
  readonly memo: contexts.Memo;
  /**
   * The operator's indexes by id: each becomes a context field of that name, set last, so an
   * index replaces a framework field of the same name (Kopf's rule: new fields never break
   * existing indexes).
   */
  readonly indexes?: indexes.Indexes | undefined;
}

const EMPTY: Readonly<Record<string, never>> = Object.freeze({});

/**
 * The body of the object whose handler is running: helpers such as `adopt()` use it as the
 * default owner. Set around every resource handler call.
 */
export const currentBody: AsyncLocalStorage<Readonly<Record<string, unknown>>> =
  new AsyncLocalStorage();

/** The fields every resource handler receives. */
export function resourceContext(
  subject: Subject,
  handler: handlers.BaseHandler,
  signal: AbortSignal,
): contexts.ResourceContext {
  const meta = subject.body.metadata ?? EMPTY;
  return {
    body: subject.body,
    spec: (subject.body.spec ?? EMPTY) as Record<string, unknown>,
    meta,
    status: (subject.body.status ?? EMPTY) as Record<string, unknown>,
    name: meta.name ?? "",
    namespace: meta.namespace,
    uid: meta.uid ?? "",
    labels: meta.labels ?? EMPTY,
    annotations: meta.annotations ?? EMPTY,
    resource: subject.resource,
    patch: subject.patch,
    logger: subject.logger,
    memo: subject.memo,
    param: handler.param,
    signal,
    id: handler.id,
    ...subject.indexes,
  };
}

/** The context of a changing handler's attempt; field handlers see their field only. */
export function changingContext(
  subject: Subject,
  handler: handlers.ChangingHandler,
  cause: causes.ChangingCause & { reason: causes.HandlerReason },
  attempt: execution.Attempt,
): contexts.ChangingContext {
  const view = handler.field ? causes.fieldView(cause, handler.field) : {
    old: cause.old,
    new: cause.new,
    diff: cause.diff,
  };
  return {
    ...resourceContext(subject, handler, attempt.signal),
    reason: cause.reason,
    retry: attempt.retry,
    started: attempt.started,
    runtime: attempt.runtime,
    diff: view.diff,
    old: view.old,
    new: view.new,
    ...subject.indexes,
  };
}

/** The context of an `on.event` handler. */
export function eventContext(
  subject: Subject,
  handler: handlers.BaseHandler,
  event: contexts.RawEvent,
  signal: AbortSignal,
): contexts.EventContext {
  return {
    ...resourceContext(subject, handler, signal),
    event,
    type: event.type,
    ...subject.indexes,
  };
}

/** The context of an index function's attempt: no `patch`, as indexing writes nothing. */
export function indexingContext(
  subject: Subject,
  handler: handlers.BaseHandler,
  attempt: execution.Attempt,
): contexts.IndexingContext {
  const { patch: _, ...fields } = resourceContext(subject, handler, attempt.signal);
  return {
    ...fields,
    retry: attempt.retry,
    started: attempt.started,
    runtime: attempt.runtime,
    ...subject.indexes,
  };
}

/**
 * A context for filter predicates (`when`, value callbacks) before any attempt: the same
 * fields, with retry 0 and the cause's old/new/diff.
 */
export function filterContext(
  subject: Subject,
  cause: causes.ChangingCause | undefined,
  signal: AbortSignal,
): Record<string, unknown> {
  const base = resourceContext(subject, {
    id: "",
    fn: () => {},
    param: undefined,
    errors: undefined,
    timeout: undefined,
    retries: undefined,
    backoff: undefined,
  }, signal);
  if (!cause) return { ...base };
  return {
    ...base,
    reason: causes.isHandlerReason(cause.reason) ? cause.reason : undefined,
    diff: cause.diff,
    old: cause.old,
    new: cause.new,
    ...subject.indexes,
  };
}

/** What every handler of one activity run shares. */
export interface ActivitySubject {
  readonly activity: handlers.Activity;
  readonly logger: Logger;
  readonly memo: contexts.Memo;
  readonly settings: operatorSettings.OperatorSettings;
  /** The operator's indexes by id, as context fields (see `Subject.indexes`). */
  readonly indexes?: indexes.Indexes | undefined;
}

/** The context of an activity handler's attempt. */
export function activityContext(
  subject: ActivitySubject,
  handler: handlers.BaseHandler,
  attempt: execution.Attempt,
): contexts.ActivityContext {
  return {
    activity: subject.activity,
    logger: subject.logger,
    memo: subject.memo,
    settings: subject.settings,
    param: handler.param,
    retry: attempt.retry,
    started: attempt.started,
    runtime: attempt.runtime,
    signal: attempt.signal,
    id: handler.id,
    ...subject.indexes,
  };
}
