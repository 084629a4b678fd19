// One object's event, end to end, as Kopf orders it: event handlers; cause detection against
// the diff-base; the finalizer added in a dedicated cycle when handlers need it (and removed
// when none do); changing handlers with persisted progress; the diff-base refreshed when done;
// the finalizer released after deletion handlers; then one plan of requests for the runtime.
// It runs handlers but sends nothing: the runtime sends the plan and schedules the retries.

import type { Logger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import * as causes from "../causes/causes.ts";
import type * as daemons from "../engines/daemons.ts";
import * as changing from "../handling/changing.ts";
import * as contexts from "../handling/contexts.ts";
import * as execution from "../handling/execution.ts";
import * as states from "../handling/states.ts";
import type * as contextTypes from "../registry/contexts.ts";
import type * as registries from "../registry/registries.ts";
import type * as operator from "../settings/operator.ts";
import * as bodies from "../structs/bodies.ts";
import * as diffs from "../structs/diffs.ts";
import * as finalizers from "../structs/finalizers.ts";
import type * as indexes from "../structs/indexes.ts";
import * as patches from "../structs/patches.ts";
import type * as references from "../structs/references.ts";
import * as planning from "./planning.ts";

/** What the runtime keeps per object between events (in memory only). */
export interface ObjectMemory {
  /** The per-object memo handlers share. */
  readonly memo: contextTypes.Memo;
  /** The object came with the initial listing of this process (resume handlers apply). */
  noticedByListing: boolean;
  /** A cycle finished all its handlers once in this process (resume handlers are done). */
  fullyHandledOnce: boolean;
}

/**
 * A fresh memory for an object first seen now. Its memo is a shallow copy of the operator memo
 * (as Kopf's): values set at startup are seen by every object, while keys an object's handlers
 * set stay that object's.
 */
export function newMemory(
  noticedByListing: boolean,
  operatorMemo: contextTypes.Memo = {},
): ObjectMemory {
  const memo = Object.assign(Object.create(Object.getPrototypeOf(operatorMemo)), operatorMemo);
  return { memo, noticedByListing, fullyHandledOnce: false };
}

/** One event of one object to process. */
export interface ProcessingInput {
  readonly resource: references.Resource;
  readonly registry: registries.OperatorRegistry;
  readonly settings: operator.OperatorSettings;
  readonly clock: clocks.Clock;
  /** The object's logger (`[namespace/name]`). */
  readonly logger: Logger;
  readonly memory: ObjectMemory;
  /** The watch event; type undefined for objects of a listing. */
  readonly event: contextTypes.RawEvent;
  /**
   * False while our last write has not come back on the watch and the consistency timeout
   * has not passed: changing handlers then wait, as the body may be stale.
   */
  readonly consistent: boolean;
  /** Aborted when running handlers must be cancelled. */
  readonly signal?: AbortSignal | undefined;
  /** A retry of the last known state, not a new event: `on.event` handlers do not run. */
  readonly replay?: boolean | undefined;
  /**
   * The daemons and timers of the resource: spawned and stopped by each event, before the
   * changing handlers; the finalizer stays while they run. Undefined: the resource has none.
   */
  readonly daemons?: daemons.Daemons | undefined;
  /** The operator's indexes by id, given to every handler as context fields. */
  readonly indexes?: indexes.Indexes | undefined;
}

/** What processing decided. */
export interface ProcessingResult {
  /** The cause of the changing cycle, if any ran or was postponed. */
  readonly cause: causes.CauseReason | undefined;
  /** The accumulated changes (for logs and tests); `requests` is what to send. */
  readonly patch: patches.Patch;
  readonly requests: planning.PlannedRequest[];
  /** Seconds until the object must be processed again without a new event; undefined: never. */
  readonly delay: number | undefined;
  /** Changing handlers were postponed until our last write comes back (consistency). */
  readonly postponed: boolean;
}

const TITLES: Record<causes.HandlerReason, string> = {
  create: "creation",
  update: "updating",
  delete: "deletion",
  resume: "resuming",
};

/** Processes one event of one object. */
export async function processEvent(input: ProcessingInput): Promise<ProcessingResult> {
  const { resource, registry, settings, logger, memory } = input;
  const body = input.event.object as contextTypes.Body & Record<string, unknown>;
  const patch = new patches.Patch();
  const subject: contexts.Subject = {
    body,
    resource,
    patch,
    logger,
    memo: memory.memo,
    indexes: input.indexes,
  };
  const signal = input.signal ?? new AbortController().signal;

  if (!input.replay) await runEventHandlers(input, subject, signal);

  let cause: causes.ChangingCause | undefined;
  const delays: number[] = [];
  let postponed = false;
  const { finalizer, diffbaseStorage, progressStorage } = settings.persistence;

  // Daemons live through the whole life of the object: spawned before the changing handlers
  // run, stopped (on deletion) before the finalizer goes.
  const spawned = input.daemons === undefined ? undefined : await input.daemons.process({
    body,
    type: input.event.type,
    logger,
    memo: memory.memo,
  });
  const spawningNeeds = spawned?.requiresFinalizer ?? false;
  if (spawned !== undefined) delays.push(...spawned.delays);

  if (registry.changingHandlers(resource).length > 0 || spawned !== undefined) {
    const extraFields = registry.extraFields(resource);
    const stored = diffbaseStorage.fetch(body);
    const old = stored === undefined ? undefined : progressStorage.clear(stored);
    const now = progressStorage.clear(diffbaseStorage.build(body, extraFields));
    cause = causes.detect({
      eventType: input.event.type,
      body,
      old,
      new: now,
      diff: diffs.diff(old, now),
      initial: memory.noticedByListing && !memory.fullyHandledOnce,
      finalizer,
    });
    const filterContext = contexts.filterContext(subject, cause, signal);
    let interested = cause.reason !== "gone" && registry.prematches(resource, cause, filterContext);

    const ongoing = finalizers.isDeletionOngoing(body);
    const blocked = finalizers.isDeletionBlocked(body, finalizer);
    const mustBlock = (interested && registry.requiresFinalizer(resource, cause, filterContext)) ||
      (spawningNeeds && cause.reason !== "gone");
    if (cause.reason !== "gone") {
      if (mustBlock && !blocked && !ongoing) {
        // A dedicated cycle: handlers run only once the finalizer protects their side effects.
        logger.debug("Adding the finalizer, thus preventing the actual deletion");
        patch.fns.push(finalizers.appendFinalizer(finalizer));
        interested = false;
      } else if (!mustBlock && blocked) {
        logger.debug("Removing the finalizer, as there are no handlers requiring it");
        patch.fns.push(finalizers.removeFinalizer(finalizer));
        interested = false;
      }
    }

    if (interested && causes.isHandlerReason(cause.reason)) {
      if (!input.consistent) {
        postponed = true;
      } else {
        const handlerCause = cause as causes.ChangingCause & { reason: causes.HandlerReason };
        const outcome = await processChangingCause(
          input,
          subject,
          handlerCause,
          filterContext,
          old,
          now,
          ongoing && delays.length > 0, // daemons still stopping hold the finalizer
        );
        delays.push(...outcome.delays);
      }
    }

    if (
      input.event.type !== "DELETED" && ongoing && blocked && !postponed && delays.length === 0 &&
      (interested || spawningNeeds)
    ) {
      logger.debug("Removing the finalizer, thus allowing the actual deletion");
      patch.fns.push(finalizers.removeFinalizer(finalizer));
    }
  }

  return {
    cause: cause?.reason,
    patch,
    requests: planning.plan(patch, body, resource),
    delay: delays.length ? Math.min(...delays) : undefined,
    postponed,
  };
}

/** `on.event` handlers: every event, no progress, errors logged and ignored by default. */
async function runEventHandlers(
  input: ProcessingInput,
  subject: contexts.Subject,
  signal: AbortSignal,
): Promise<void> {
  const { registry, resource } = input;
  if (registry.watchingHandlers(resource).length === 0) return;
  const filterContext = contexts.filterContext(subject, undefined, signal);
  const selected = registry.selectWatching(resource, { body: subject.body }, filterContext);
  const now = input.clock.now();
  const results = new Map<string, Awaited<ReturnType<typeof execution.executeOnce>>>();
  for (const handler of selected) {
    const outcome = await execution.executeOnce(
      handler,
      states.fromScratch(now, undefined),
      (attempt) =>
        contexts.currentBody.run(
          subject.body as Readonly<Record<string, unknown>>,
          () => handler.fn(contexts.eventContext(subject, handler, input.event, attempt.signal)),
        ),
      {
        clock: input.clock,
        logger: subject.logger,
        signal: input.signal,
        defaultBackoffSeconds: input.settings.execution.defaultBackoffSeconds,
        defaultErrors: "ignored",
      },
    );
    results.set(handler.id, outcome);
  }
  changing.deliverResults(results, subject.patch);
}

/** The changing cycle proper (Kopf's process_changing_cause). */
async function processChangingCause(
  input: ProcessingInput,
  subject: contexts.Subject,
  cause: causes.ChangingCause & { reason: causes.HandlerReason },
  filterContext: unknown,
  old: causes.Essence | undefined,
  now: causes.Essence,
  holding = false,
): Promise<{ delays: number[] }> {
  const { registry, resource, settings, logger, memory } = input;
  const storage = settings.persistence.progressStorage;
  const body = subject.body as Record<string, unknown>;
  const title = TITLES[cause.reason];
  const owned = registry.changingHandlers(resource);
  const selected = registry.selectChanging(resource, cause, filterContext);

  let state = states.State.fromStorage(body, storage, owned.map((h) => h.id), input.clock)
    .withPurpose(cause.reason)
    .withHandlers(selected.map((h) => h.id));
  for (const [purpose, counters] of state.extras) {
    const extraTitle = TITLES[purpose as causes.HandlerReason] ?? purpose;
    logger.info(
      `${capitalize(extraTitle)} is superseded by ${title}: ${counters.success} succeeded; ` +
        `${counters.failure} failed; ${counters.running} left to the moment`,
    );
    state = state.withPurpose(cause.reason, selected.map((h) => h.id));
  }
  if (state.extras.size > 0) state.purge(body, subject.patch, storage, owned.map((h) => h.id));

  let done = true;
  let delays: number[] = [];
  if (selected.length > 0) {
    logger.debug(`${capitalize(title)} is in progress`);
    const results = await changing.executeOnce(selected, state, {
      subject,
      cause,
      settings,
      clock: input.clock,
      signal: input.signal,
    });
    state = state.withOutcomes(results);
    state.store(body, subject.patch, storage);
    changing.deliverResults(results, subject.patch);
    if (state.done) {
      const counts = state.counts;
      const summary = `${counts.success} succeeded; ${counts.failure} failed`;
      if (results.size > 0) logger.info(`${capitalize(title)} is processed: ${summary}`);
      // While the object's daemons still stop, the finalizer stays, and so do the records: the
      // next cycle must not run the delete handlers again (Kopf purges them and does).
      if (!holding) state.purge(body, subject.patch, storage, owned.map((h) => h.id));
    }
    done = state.done;
    delays = state.delays;
  }
  if (done) {
    if (!bodies.deepEqual(old, now)) {
      settings.persistence.diffbaseStorage.store(body, subject.patch, now);
    }
    memory.fullyHandledOnce = true;
  }
  return { delays };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
