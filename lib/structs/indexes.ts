// In-memory indexes (Kopf's `Index` and `Store`): read-only views for handlers, and the
// `Indexer` that alone writes them, keeping each object's values under the keys its index
// function returned. Used by engines/indexing.ts only for writing; never does I/O or timing.

import * as bodies from "./bodies.ts";

/**
 * The values of one key of an index, one per object that returned that key (in the order the
 * objects were first indexed under it). Never empty while it is in an index: a store whose last
 * value goes is removed from its index. Values are not deduplicated.
 *
 * @example Reading the pods of one label value
 * ```ts
 * import { Indexer } from "./indexes.ts";
 * const indexer = new Indexer<string, string>();
 * indexer.replace("uid-1", { web: "pod-1" });
 * indexer.replace("uid-2", { web: "pod-2" });
 * const store = indexer.index.get("web");
 * store?.size; // 2
 * [...store ?? []]; // ["pod-1", "pod-2"]
 * ```
 */
export interface Store<V = unknown> extends Iterable<V> {
  /** How many values it holds (at least 1). */
  readonly size: number;
  /** Whether any value is deep-equal to `value` (as Kopf's `value in store`). */
  has(value: V): boolean;
  /** The values. */
  values(): MapIterator<V>;
  /** The values. */
  [Symbol.iterator](): MapIterator<V>;
}

/**
 * A read-only map from the keys that index functions returned to the stores of their values:
 * `get`, `has`, `size`, `keys`, `values`, `entries`, `forEach` and iteration, as a
 * `ReadonlyMap`. The key of a function that returned no key-value object is `null` (Kopf's
 * `None`). The index is live: it changes as objects are indexed, so keep the index rather than
 * a copy.
 *
 * @example Looking up and iterating
 * ```ts
 * import { Indexer } from "./indexes.ts";
 * const indexer = new Indexer<string | null, string>();
 * indexer.replace("uid-1", "pod-1"); // not a key-value object: under the key null
 * const index = indexer.index;
 * index.has(null); // true
 * for (const [key, store] of index) console.log(key, [...store]);
 * ```
 */
export interface Index<K = unknown, V = unknown> extends Iterable<[K, Store<V>]> {
  /** How many keys it has. */
  readonly size: number;
  /** The store of a key, or undefined when no object has that key now. */
  get(key: K): Store<V> | undefined;
  /** Whether any object has that key now. */
  has(key: K): boolean;
  /** The keys. */
  keys(): MapIterator<K>;
  /** The stores. */
  values(): MapIterator<Store<V>>;
  /** The keys with their stores. */
  entries(): MapIterator<[K, Store<V>]>;
  /** Calls `fn` for each key with its store. */
  forEach(fn: (store: Store<V>, key: K, index: Index<K, V>) => void): void;
  /** The keys with their stores. */
  [Symbol.iterator](): MapIterator<[K, Store<V>]>;
}

/**
 * The indexes of an operator by id, as handlers' contexts carry them (one field per index).
 *
 * @example
 * ```ts
 * import { Indexer, type Indexes } from "./indexes.ts";
 * const indexes: Indexes = { podsByLabel: new Indexer().index };
 * indexes.podsByLabel?.size; // 0
 * ```
 */
export type Indexes = Readonly<Record<string, Index>>;

class StoreView<V> implements Store<V> {
  readonly #items: Map<string, V>;

  constructor(items: Map<string, V>) {
    this.#items = items;
  }

  get size(): number {
    return this.#items.size;
  }

  has(value: V): boolean {
    for (const item of this.#items.values()) if (bodies.deepEqual(item, value)) return true;
    return false;
  }

  values(): MapIterator<V> {
    return this.#items.values();
  }

  [Symbol.iterator](): MapIterator<V> {
    return this.#items.values();
  }

  get [Symbol.toStringTag](): string {
    return "Store";
  }
}

class IndexView<K, V> implements Index<K, V> {
  readonly #stores: Map<K, Store<V>>;

  constructor(stores: Map<K, Store<V>>) {
    this.#stores = stores;
  }

  get size(): number {
    return this.#stores.size;
  }

  get(key: K): Store<V> | undefined {
    return this.#stores.get(key);
  }

  has(key: K): boolean {
    return this.#stores.has(key);
  }

  keys(): MapIterator<K> {
    return this.#stores.keys();
  }

  values(): MapIterator<Store<V>> {
    return this.#stores.values();
  }

  entries(): MapIterator<[K, Store<V>]> {
    return this.#stores.entries();
  }

  forEach(fn: (store: Store<V>, key: K, index: Index<K, V>) => void): void {
    for (const [key, store] of this.#stores) fn(store, key, this);
  }

  [Symbol.iterator](): MapIterator<[K, Store<V>]> {
    return this.#stores.entries();
  }

  get [Symbol.toStringTag](): string {
    return "Index";
  }
}

/**
 * The keys and values an index function's result gives, as Kopf reads it: a plain object
 * (`{ key: value }`, its own enumerable string keys) or a `Map` (any keys) merges under its
 * keys; anything else (a string, a number, an array, a class instance, …) is one value under
 * the key `null`. `undefined` and `null` give nothing (the caller keeps the previous values).
 *
 * @example
 * ```ts
 * import { entriesOf } from "./indexes.ts";
 * entriesOf({ a: 1, b: 2 }); // [["a", 1], ["b", 2]]
 * entriesOf(new Map([[7, "x"]])); // [[7, "x"]]
 * entriesOf("pod-1"); // [[null, "pod-1"]]
 * ```
 */
export function entriesOf(result: unknown): [unknown, unknown][] {
  if (result === undefined || result === null) return [];
  if (result instanceof Map) return [...result.entries()];
  if (isPlainObject(result)) return Object.entries(result);
  return [[null, result]];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * Writes one index: per object (by an opaque key, such as its uid), the values under the keys
 * its function returned last. Updates cost O(keys of that object): a reverse map remembers
 * where each object's values are. Handlers only ever see `index`, the read-only view.
 *
 * @example An object's values replaced, then discarded
 * ```ts
 * import { Indexer } from "./indexes.ts";
 * const indexer = new Indexer<string, string>();
 * indexer.replace("uid-1", { web: "pod-1", db: "pod-1" });
 * indexer.replace("uid-1", { web: "pod-1" }); // no longer under "db": that store goes
 * indexer.index.has("db"); // false
 * indexer.discard("uid-1");
 * indexer.index.size; // 0
 * ```
 */
export class Indexer<K = unknown, V = unknown> {
  readonly #items = new Map<K, Map<string, V>>();
  readonly #stores = new Map<K, Store<V>>();
  readonly #reverse = new Map<string, Set<K>>();
  /** The read-only, live view handlers get. */
  readonly index: Index<K, V> = new IndexView(this.#stores);

  /**
   * Stores the object's values from its function's result (see `entriesOf`): under each key
   * returned, its value replaces the object's previous one; from keys not returned this time,
   * the object's values are removed. `undefined` and `null` change nothing.
   */
  replace(objectKey: string, result: unknown): void {
    if (result === undefined || result === null) return;
    const entries = entriesOf(result) as [K, V][];
    const previous = this.#reverse.get(objectKey) ?? new Set<K>();
    const now = new Set<K>();
    for (const [key, value] of entries) {
      let items = this.#items.get(key);
      if (items === undefined) {
        items = new Map();
        this.#items.set(key, items);
        this.#stores.set(key, new StoreView(items));
      }
      items.set(objectKey, value);
      now.add(key);
    }
    for (const key of previous) if (!now.has(key)) this.#remove(objectKey, key);
    if (now.size > 0) this.#reverse.set(objectKey, now);
    else this.#reverse.delete(objectKey);
  }

  /** Removes every value of the object (it was deleted, stopped matching, or failed). */
  discard(objectKey: string): void {
    const keys = this.#reverse.get(objectKey);
    if (keys === undefined) return;
    for (const key of keys) this.#remove(objectKey, key);
    this.#reverse.delete(objectKey);
  }

  /** Whether the object has any values in the index. */
  holds(objectKey: string): boolean {
    return this.#reverse.has(objectKey);
  }

  #remove(objectKey: string, key: K): void {
    const items = this.#items.get(key);
    if (items === undefined) return;
    items.delete(objectKey);
    if (items.size > 0) return;
    this.#items.delete(key);
    this.#stores.delete(key);
  }
}
