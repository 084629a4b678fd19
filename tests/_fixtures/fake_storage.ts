// The fake's etcd: one resourceVersion counter for every write, the objects of each resource,
// and a bounded history of changes, so watches can resume and paged lists read a consistent
// snapshot. Compaction (explicit, or by the history limit) makes older versions "too old".

import type { Json } from "./fake_statuses.ts";

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

/**
 * One committed write. `object` is the stored state (for DELETED: the last state with the
 * deletion's resourceVersion); `prev` is the state before, absent for ADDED.
 */
export interface Change {
  readonly rv: number;
  readonly type: ChangeType;
  readonly key: string;
  readonly object: Json;
  readonly prev: Json | undefined;
}

/** Someone who hears every change of a collection as it commits, and when it goes away. */
export interface Subscriber {
  deliver(change: Change): void;
  collectionRemoved(): void;
}

/** The storage key of an object: `namespace/name`, or `name` when cluster-scoped. */
export function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** The objects of one resource (all its versions), with the history of their changes. */
export class Collection {
  readonly objects: Map<string, Json> = new Map();
  readonly subscribers: Set<Subscriber> = new Set();
  /** The resourceVersion when the collection appeared; history before it does not exist. */
  readonly startRV: number;
  #changes: Change[] = [];
  #head = 0;

  constructor(startRV: number) {
    this.startRV = startRV;
  }

  record(change: Change): void {
    if (change.type === "DELETED") this.objects.delete(change.key);
    else this.objects.set(change.key, change.object);
    this.#changes.push(change);
    for (const subscriber of [...this.subscribers]) subscriber.deliver(change);
  }

  /** The retained changes with a resourceVersion greater than `rv`, oldest first. */
  since(rv: number): Change[] {
    let lo = this.#head;
    let hi = this.#changes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#changes[mid]?.rv ?? Infinity) > rv) hi = mid;
      else lo = mid + 1;
    }
    return this.#changes.slice(lo);
  }

  /** The oldest retained change. */
  oldest(): Change | undefined {
    return this.#changes[this.#head];
  }

  /** Forgets the oldest retained change (the history limit evicted it). */
  forgetOldest(): void {
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#changes.length) {
      this.#changes = this.#changes.slice(this.#head);
      this.#head = 0;
    }
  }

  forgetAll(): void {
    this.#changes = [];
    this.#head = 0;
  }

  /** The objects as they were at `rv`, rebuilt by undoing the changes after it. */
  snapshot(rv: number): Map<string, Json> {
    const later = this.since(rv);
    if (later.length === 0) return this.objects;
    const state = new Map(this.objects);
    for (let i = later.length - 1; i >= 0; i--) {
      const change = later[i];
      if (!change) continue;
      if (change.prev === undefined) state.delete(change.key);
      else state.set(change.key, change.prev);
    }
    return state;
  }

  /** Ends every subscription: the resource is no longer served. */
  close(): void {
    for (const subscriber of [...this.subscribers]) subscriber.collectionRemoved();
    this.subscribers.clear();
  }
}

/** The global revision counter and the bounded, compactable history across collections. */
export class Storage {
  #rv = 0;
  #compactedRV = 0;
  #history: Collection[] = [];
  #head = 0;
  #limit: number;

  constructor(historyLimit: number) {
    this.#limit = Math.max(1, historyLimit);
  }

  /** The latest resourceVersion. */
  get rv(): number {
    return this.#rv;
  }

  /** Changes at or below this resourceVersion are forgotten. */
  get compactedRV(): number {
    return this.#compactedRV;
  }

  /** Whether history from `rv` on is gone for this collection. */
  tooOld(collection: Collection, rv: number): boolean {
    return rv < Math.max(this.#compactedRV, collection.startRV);
  }

  /** The oldest resourceVersion a watch on this collection may still resume from. */
  oldestResumable(collection: Collection): number {
    return Math.max(this.#compactedRV, collection.startRV);
  }

  newCollection(): Collection {
    return new Collection(this.#rv);
  }

  /**
   * Writes: bumps the revision, stamps `metadata.resourceVersion` on `object` (which the caller
   * hands over and must not touch again), and tells the collection's subscribers.
   */
  commit(
    collection: Collection,
    type: ChangeType,
    key: string,
    object: Json,
    prev: Json | undefined,
  ): Change {
    const rv = ++this.#rv;
    const metadata = { ...(object.metadata as Json | undefined), resourceVersion: String(rv) };
    const stored = { ...object, metadata };
    const change: Change = { rv, type, key, object: stored, prev };
    this.#history.push(collection);
    if (this.#history.length - this.#head > this.#limit) this.#evictOldest();
    collection.record(change);
    return change;
  }

  /** Forgets all history: any resourceVersion older than the current one becomes too old. */
  compact(collections: Iterable<Collection>): void {
    this.#compactedRV = this.#rv;
    this.#history = [];
    this.#head = 0;
    for (const collection of collections) collection.forgetAll();
  }

  #evictOldest(): void {
    const collection = this.#history[this.#head++];
    // The evicted change is the oldest of its collection too: history is in commit order.
    if (collection) {
      const oldest = collection.oldest();
      if (oldest) this.#compactedRV = Math.max(this.#compactedRV, oldest.rv);
      collection.forgetOldest();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#history.length) {
      this.#history = this.#history.slice(this.#head);
      this.#head = 0;
    }
  }
}
