// Indexing (Kopf's `kopf.index`): the operator's in-memory indexes, one per index id, fed by
// each object's events before its other handlers run; and the readiness gate that holds resource
// handlers until every indexed resource × namespace has its first listing in. Called by the
// reactor (running.ts: one per operator; serving.ts: per event). Never writes to the API.

import type { Logger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import * as toggles from "../async/toggles.ts";
import * as contexts from "../handling/contexts.ts";
import * as execution from "../handling/execution.ts";
import type * as outcomes from "../handling/outcomes.ts";
import * as states from "../handling/states.ts";
import type * as contextTypes from "../registry/contexts.ts";
import type * as handlers from "../registry/handlers.ts";
import type * as registries from "../registry/registries.ts";
import type * as operator from "../settings/operator.ts";
import * as indexes from "../structs/indexes.ts";
import * as patches from "../structs/patches.ts";
import type * as references from "../structs/references.ts";

/**
 * The indexes of one operator run, by index id, and its readiness gate. Every index exists from
 * the start (empty), so startup handlers get them too. Only `indexObject()` writes them.
 *
 * @example The indexes of a registry, as handlers get them
 * ```ts
 * import { OperatorIndexes } from "./indexing.ts";
 * import { OperatorRegistry } from "../registry/registries.ts";
 * import * as on from "../registry/registering.ts";
 *
 * const registry = new OperatorRegistry();
 * on.index("pods", { registry }, function podsByApp({ labels, name }) {
 *   return { [labels.app ?? ""]: name };
 * });
 * const operatorIndexes = new OperatorIndexes(registry.allIndexingHandlers());
 * operatorIndexes.indexes.podsByApp?.size; // 0
 * operatorIndexes.incomplete.on; // false: no listing is awaited yet
 * ```
 */
export class OperatorIndexes {
  readonly #indexers = new Map<handlers.HandlerId, indexes.Indexer>();
  /** The read-only indexes by id, as context fields. */
  readonly indexes: indexes.Indexes;
  /**
   * On while some index still waits for a first listing of one of its resources (each watcher
   * of an indexed resource holds a member, named after it), or while the operator has not yet
   * started its watchers. Resource handlers run only while it is off.
   */
  readonly incomplete: toggles.ToggleSet = new toggles.ToggleSet();

  constructor(indexing: Iterable<handlers.IndexingHandler>) {
    const views: Record<string, indexes.Index> = {};
    for (const handler of indexing) {
      if (this.#indexers.has(handler.id)) continue;
      const indexer = new indexes.Indexer();
      this.#indexers.set(handler.id, indexer);
      views[handler.id] = indexer.index;
    }
    this.indexes = Object.freeze(views);
  }

  /** Whether the operator has any index. */
  get any(): boolean {
    return this.#indexers.size > 0;
  }

  /** The writer of one index (for `indexObject()` and tests). */
  indexer(id: handlers.HandlerId): indexes.Indexer {
    const indexer = this.#indexers.get(id);
    if (indexer === undefined) {
      throw new Error(`No index "${id}": it was registered after the operator started`);
    }
    return indexer;
  }
}

/** What one object remembers of its indexing: only failures and retries (successes rerun). */
export interface IndexingMemory {
  /** By index id: the state since the first failure, until a success. */
  readonly states: Map<handlers.HandlerId, states.HandlerState>;
}

/**
 * A fresh indexing memory for an object first seen now.
 *
 * @example
 * ```ts
 * import { newMemory } from "./indexing.ts";
 * newMemory().states.size; // 0
 * ```
 */
export function newMemory(): IndexingMemory {
  return { states: new Map() };
}

/** One event of one object to index. */
export interface IndexingInput {
  readonly indexes: OperatorIndexes;
  readonly resource: references.Resource;
  readonly registry: registries.OperatorRegistry;
  readonly settings: operator.OperatorSettings;
  readonly clock: clocks.Clock;
  /** A logger whose messages are not posted as Events (`indexingLogger()`). */
  readonly logger: Logger;
  /** The object's memo, shared with its other handlers. */
  readonly memo: contextTypes.Memo;
  readonly memory: IndexingMemory;
  /** The watch event; type undefined for objects of a listing. */
  readonly event: contextTypes.RawEvent;
  /** Aborted when running handlers must be cancelled. */
  readonly signal?: AbortSignal | undefined;
}

/** What indexing one event led to. */
export interface IndexingResult {
  /** Seconds until an index function that failed temporarily may run again; undefined: none. */
  readonly delay: number | undefined;
}

/**
 * The key of an object in the indexes: its uid (names only for objects without one).
 *
 * @example
 * ```ts
 * import { objectKey } from "./indexing.ts";
 * objectKey({ metadata: { uid: "1a2b", name: "web-1" } }); // "1a2b"
 * ```
 */
export function objectKey(
  body: { readonly metadata?: { namespace?: string; name?: string; uid?: string } },
): string {
  const meta = body.metadata ?? {};
  return meta.uid ?? `${meta.namespace ?? ""}/${meta.name ?? ""}`;
}

/**
 * Indexes one event of one object, as Kopf's `index_resource` does. A deletion removes the
 * object's values from every index of its resource. Otherwise the matching index functions that
 * are not waiting for a retry run, and their outcomes apply: a result replaces the object's
 * values (`undefined`/`null`, or an error in the `"ignored"` mode, keep them); an error in the
 * other modes removes them. An index whose function does not match (or sleeps, or has failed
 * for good) loses the object's values.
 *
 * @example
 * ```ts ignore
 * const { delay } = await indexObject({ indexes, resource, registry, settings, clock, logger, memo, memory, event });
 * ```
 */
export async function indexObject(input: IndexingInput): Promise<IndexingResult> {
  const { resource, registry, clock, memory } = input;
  const all = registry.indexingHandlers(resource);
  if (all.length === 0) return { delay: undefined };
  const body = input.event.object;
  const key = objectKey(body);
  if (input.event.type === "DELETED") {
    for (const handler of all) input.indexes.indexer(handler.id).discard(key);
    memory.states.clear();
    return { delay: undefined };
  }

  const signal = input.signal ?? new AbortController().signal;
  const subject: contexts.Subject = {
    body,
    resource,
    patch: new patches.Patch(), // never applied: only filters see it
    logger: input.logger,
    memo: input.memo,
    indexes: input.indexes.indexes,
  };
  const filterContext = contexts.filterContext(subject, undefined, signal);
  const selected = registry.selectIndexing(resource, { body }, filterContext);
  const results = new Map<handlers.HandlerId, outcomes.Outcome>();
  for (const handler of selected) {
    const now = clock.now();
    const state = memory.states.get(handler.id) ?? states.fromScratch(now, "index");
    if (!states.isAwake(state, now)) continue; // sleeping or failed for good: no values
    const outcome = await execution.executeOnce(
      handler,
      state,
      (attempt) =>
        contexts.currentBody.run(
          body as Readonly<Record<string, unknown>>,
          () => handler.fn(contexts.indexingContext(subject, handler, attempt)),
        ),
      {
        clock,
        logger: input.logger,
        signal: input.signal,
        defaultBackoffSeconds: input.settings.execution.defaultBackoffSeconds,
        defaultErrors: "ignored",
        resultPlace: false,
        successLevel: "debug",
      },
    );
    results.set(handler.id, outcome);
    if (outcome.final && outcome.error === undefined) memory.states.delete(handler.id);
    else memory.states.set(handler.id, states.withOutcome(state, outcome, clock.now()));
  }

  for (const handler of all) {
    const indexer = input.indexes.indexer(handler.id);
    const outcome = results.get(handler.id);
    if (outcome === undefined || outcome.error !== undefined) indexer.discard(key);
    else indexer.replace(key, outcome.result);
  }

  // Retries are due only for the functions that match now (one that stopped matching waits for
  // the object to match again).
  const now = clock.now();
  const due: number[] = [];
  for (const handler of selected) {
    const state = memory.states.get(handler.id);
    if (state === undefined || states.isFinished(state) || state.delayed === undefined) continue;
    due.push(Math.max(0, (state.delayed - now) / 1000));
  }
  return { delay: due.length > 0 ? Math.min(...due) : undefined };
}

/**
 * One watcher's first listing of an indexed resource, as the readiness gate needs it: complete
 * once the listing has ended (SYNCED) and every object it listed has been indexed. Then its
 * member of `incomplete` turns off; later relistings do not turn it on again.
 *
 * @example
 * ```ts
 * import { FirstListing, OperatorIndexes } from "./indexing.ts";
 * const operatorIndexes = new OperatorIndexes([]);
 * const listing = new FirstListing(operatorIndexes.incomplete, "pods.v1 in namespace \"default\"");
 * listing.listed("uid-1");
 * listing.synced();
 * operatorIndexes.incomplete.on; // true: uid-1 is not indexed yet
 * listing.indexed("uid-1");
 * operatorIndexes.incomplete.on; // false
 * listing.close();
 * ```
 */
export class FirstListing {
  readonly #set: toggles.ToggleSet;
  readonly #toggle: toggles.Toggle;
  readonly #pending = new Set<string>();
  #synced = false;

  constructor(set: toggles.ToggleSet, name: string) {
    this.#set = set;
    this.#toggle = set.make(true, `indexing ${name}`);
  }

  /** Whether the first listing is indexed. */
  get complete(): boolean {
    return !this.#toggle.on;
  }

  /** An object of the listing arrived (before the listing ended). */
  listed(key: string): void {
    if (!this.complete && !this.#synced) this.#pending.add(key);
  }

  /** An event of the object has been indexed. */
  indexed(key: string): void {
    if (this.#pending.delete(key)) this.#check();
  }

  /** The listing ended. */
  synced(): void {
    this.#synced = true;
    this.#check();
  }

  /** The watcher stops: it no longer holds the gate. */
  close(): void {
    this.#set.drop(this.#toggle);
  }

  #check(): void {
    if (this.#synced && this.#pending.size === 0) this.#toggle.set(false);
  }
}
