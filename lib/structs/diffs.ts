// Diffs between two states of an object (or of one field), in Kopf's form: a list of
// (operation, field path, old, new) items. `causes/` computes them from the last handled
// essence; handlers receive them. Pure functions; never mutates the compared values.

import * as bodies from "./bodies.ts";

/** What happened to a field. */
export type DiffOperation = "add" | "change" | "remove";

/** One change: the operation, the field path (`[]` is the root), the old and the new value. */
export type DiffItem = readonly [
  op: DiffOperation,
  path: readonly string[],
  old: unknown,
  new: unknown,
];

/** All changes between two states; empty when they are equal. */
export type Diff = readonly DiffItem[];

/** The diff of two equal states. */
export const EMPTY: Diff = Object.freeze([]);

/**
 * The changes that turn `a` into `b`, with Kopf's semantics:
 *
 * - Objects are compared key by key, recursively; lists and scalars are compared whole (a
 *   list with an item added is one `change` of the whole list).
 * - `null` and a missing key are the same thing: a key that is `null` on one side and missing
 *   on the other is no change, and a field going from either to a value is an `add` (with
 *   `old` as given: undefined for a missing key), from a value to either is a `remove`.
 * - At the root, `diff(undefined, {...})` is one `add` of the whole object, and
 *   `diff({...}, undefined)` one `remove`.
 *
 * Kopf yields the keys of an object in no defined order; here, added keys come first (in the
 * order of `b`), then removed keys (in the order of `a`), then the changes in common keys.
 *
 * @example A field added and a list changed
 * ```ts
 * import * as diffs from "./diffs.ts";
 * diffs.diff({ spec: { a: [1] } }, { spec: { a: [1, 2], b: "x" } });
 * // [["add", ["spec", "b"], undefined, "x"], ["change", ["spec", "a"], [1], [1, 2]]]
 * ```
 */
export function diff(a: unknown, b: unknown, path: readonly string[] = []): Diff {
  const items: DiffItem[] = [];
  collect(a, b, Object.freeze([...path]), items);
  return Object.freeze(items);
}

function isNone(value: unknown): boolean {
  return value === null || value === undefined;
}

function collect(a: unknown, b: unknown, path: readonly string[], into: DiffItem[]): void {
  if ((isNone(a) && isNone(b)) || bodies.deepEqual(a, b)) return;
  if (isNone(a)) {
    into.push(Object.freeze(["add", path, a, b] as const));
  } else if (isNone(b)) {
    into.push(Object.freeze(["remove", path, a, b] as const));
  } else if (bodies.isObject(a) && bodies.isObject(b)) {
    const sub = (key: string) => Object.freeze([...path, key]);
    for (const key of Object.keys(b)) {
      if (!Object.hasOwn(a, key)) collect(undefined, b[key], sub(key), into);
    }
    for (const key of Object.keys(a)) {
      if (!Object.hasOwn(b, key)) collect(a[key], undefined, sub(key), into);
    }
    for (const key of Object.keys(a)) {
      if (Object.hasOwn(b, key)) collect(a[key], b[key], sub(key), into);
    }
  } else {
    into.push(Object.freeze(["change", path, a, b] as const));
  }
}

/**
 * The part of a diff that concerns one field, with paths relative to that field (as field
 * handlers see it):
 *
 * - items inside the field keep their tail path (`spec.a.b` under `spec.a` becomes `["b"]`);
 * - the item of the field itself becomes a root item;
 * - an item of a parent (e.g. all of `spec` added) is re-diffed for the field's old and new
 *   values within it, so adding `spec: {a: 1}` reduces to `["add", [], undefined, 1]` for
 *   `spec.a`;
 * - items of unrelated fields are dropped.
 *
 * An empty path returns the diff unchanged.
 */
export function reduce(d: Diff, field: bodies.FieldSpec): Diff {
  const path = bodies.parseField(field);
  if (path.length === 0) return d;
  const items: DiffItem[] = [];
  for (const [op, itemPath, oldValue, newValue] of d) {
    if (startsWith(itemPath, path)) {
      items.push(
        Object.freeze([op, Object.freeze(itemPath.slice(path.length)), oldValue, newValue]),
      );
    } else if (startsWith(path, itemPath)) {
      const tail = path.slice(itemPath.length);
      items.push(
        ...diff(
          bodies.resolve(oldValue, tail, undefined),
          bodies.resolve(newValue, tail, undefined),
        ),
      );
    }
  }
  return Object.freeze(items);
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((key, i) => path[i] === key);
}
