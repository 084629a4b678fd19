// The index stage of one watcher of an indexed resource: its events are indexed first, in a
// queue of their own that the readiness gate never holds, then handed to the object queue of the
// other handlers; the watcher's first listing holds the gate until it is indexed. Called by
// serving.ts only. Never holds the watch, and never sends anything to the API.

import type { Logger } from "@logtape/logtape";
import { getLogger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import type * as toggles from "../async/toggles.ts";
import * as indexing from "../engines/indexing.ts";
import * as logging from "../engines/logging.ts";
import type * as api from "../k8s/api.ts";
import * as processing from "../processing/processing.ts";
import type * as contextTypes from "../registry/contexts.ts";
import type * as registries from "../registry/registries.ts";
import type * as operator from "../settings/operator.ts";
import type * as references from "../structs/references.ts";
import * as queueing from "./queueing.ts";

type Event = queueing.ObjectEvent<api.KubernetesObject>;

/** What the index stage of one watcher needs. */
export interface IndexStageOptions {
  readonly indexes: indexing.OperatorIndexes;
  readonly resource: references.Resource;
  /** How the watcher is named in the gate's reasons: `pods.v1 in namespace "default"`. */
  readonly what: string;
  readonly registry: registries.OperatorRegistry;
  readonly settings: operator.OperatorSettings;
  readonly clock: clocks.Clock;
  /** The watcher's key of an object (its uid). */
  readonly keyOf: (object: api.KubernetesObject) => string;
  /** The operator memo: each object's memo starts as a shallow copy of it. */
  readonly memo?: contextTypes.Memo | undefined;
  /** Cancels running index functions (aborted only after the grace period of a stop). */
  readonly handlerSignal: AbortSignal;
  /**
   * Where an event goes once indexed (the object queue of the other handlers); undefined when
   * the resource has no other handlers. Retries of index functions are not passed on.
   */
  readonly forward: ((event: Event) => void) | undefined;
}

interface StageMemory extends indexing.IndexingMemory {
  readonly memo: contextTypes.Memo;
}

const log = getLogger(["kopf", "reactor"]);

/**
 * Indexes a watcher's events before its other handlers see them.
 *
 * @example
 * ```ts ignore
 * const stage = new IndexStage({ indexes, resource, what, registry, settings, clock, keyOf,
 *   handlerSignal, forward: (event) => queue.push(event) });
 * stage.push({ type: undefined, object: pod }); // from the listing
 * stage.synced(); // the listing ended: the gate opens once the listed pods are indexed
 * await stage.close();
 * ```
 */
export class IndexStage {
  readonly #options: IndexStageOptions;
  readonly #queue: queueing.ObjectQueue<api.KubernetesObject, StageMemory>;
  readonly #listing: indexing.FirstListing;
  readonly #memos = new Map<string, contextTypes.Memo>();

  constructor(options: IndexStageOptions) {
    this.#options = options;
    // Created at once, before the watch starts: no handler may run before this listing is in.
    this.#listing = new indexing.FirstListing(options.indexes.incomplete, options.what);
    this.#queue = new queueing.ObjectQueue<api.KubernetesObject, StageMemory>({
      workerLimit: options.settings.queueing.workerLimit,
      clock: options.clock,
      errorDelaysSeconds: options.settings.queueing.errorDelaysSeconds,
      keyOf: options.keyOf,
      newMemory: (event) => ({ ...indexing.newMemory(), memo: this.memoOf(event.object) }),
      process: (slot, event) => this.#process(slot, event),
      onError: (slot, error, delay) => {
        const logger = slot.last ? logging.indexingLogger(options.resource, slot.last.object) : log;
        logger.error(`Indexing failed unexpectedly; it is retried in ${delay} s: ${error}`, {
          error,
        });
      },
    });
  }

  /** How many objects the stage knows. */
  get size(): number {
    return this.#queue.size;
  }

  /** Takes an event from the watch (`type` undefined for objects of a listing). */
  push(event: Event): void {
    if (event.type === undefined) this.#listing.listed(this.#options.keyOf(event.object));
    this.#queue.push(event);
  }

  /** The watch's listing ended. */
  synced(): void {
    this.#listing.synced();
  }

  /** The memo the object's index functions and other handlers share. */
  memoOf(object: api.KubernetesObject): contextTypes.Memo {
    const key = this.#options.keyOf(object);
    let memo = this.#memos.get(key);
    if (memo === undefined) {
      memo = processing.newMemory(false, this.#options.memo).memo;
      this.#memos.set(key, memo);
    }
    return memo;
  }

  /** The object is gone for the other handlers too: its memo goes. */
  forget(key: string): void {
    this.#memos.delete(key);
  }

  /** Stops indexing (running index functions finish) and releases the gate. */
  async close(): Promise<void> {
    try {
      await this.#queue.close();
    } finally {
      this.#listing.close();
    }
  }

  async #process(slot: queueing.Slot<api.KubernetesObject, StageMemory>, event: Event) {
    const options = this.#options;
    const logger: Logger = logging.indexingLogger(options.resource, event.object);
    try {
      const { delay } = await indexing.indexObject({
        indexes: options.indexes,
        resource: options.resource,
        registry: options.registry,
        settings: options.settings,
        clock: options.clock,
        logger,
        memo: slot.memory.memo,
        memory: slot.memory,
        event: { type: event.type, object: event.object as contextTypes.Body },
        signal: options.handlerSignal,
      });
      if (event.type === "DELETED") {
        this.forget(slot.key);
        return { gone: true };
      }
      return { delay };
    } finally {
      this.#listing.indexed(slot.key);
      // Even when indexing failed unexpectedly: the other handlers must not miss the event.
      if (!event.replay) options.forward?.({ type: event.type, object: event.object });
    }
  }
}

/**
 * Holds an object queue while the operator's indexes are incomplete, and resumes it when they
 * are complete, if `mayResume()` agrees (not paused, not stopping). Returns the unsubscriber.
 *
 * @example
 * ```ts ignore
 * const unlisten = holdWhileIncomplete(queue, indexes.incomplete, () => !paused.on);
 * ```
 */
export function holdWhileIncomplete(
  queue: { hold(): void; release(): void },
  incomplete: toggles.ToggleSet,
  mayResume: () => boolean,
): () => void {
  if (incomplete.on) queue.hold();
  return incomplete.listen((on) => {
    if (on) queue.hold();
    else if (mayResume()) queue.release();
  });
}
