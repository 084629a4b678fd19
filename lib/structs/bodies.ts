// Field paths into Kubernetes objects and the small JSON helpers around them: parsing
// "spec.a.b", resolving with a fallback, deep copies, deep equality, and setting or removing
// nested fields. Used by diffs, patches, finalizers and the storages. Never does I/O.

/** A Kubernetes object as it comes from the API: parsed JSON, read-only here. */
export type RawBody = { readonly [key: string]: unknown };

/** A parsed field path: `["spec", "replicas"]`; `[]` is the root. */
export type FieldPath = readonly string[];

/** A field as users write it: `"spec.replicas"` or `["metadata", "labels", "app.kubernetes.io/name"]`. */
export type FieldSpec = string | readonly string[];

/**
 * Parses a field into its path. A string is split at dots; an array is taken as is (so keys
 * with dots, like annotation names, can be addressed).
 *
 * @example Parsing a dotted field
 * ```ts
 * import * as bodies from "./bodies.ts";
 * bodies.parseField("spec.template.metadata"); // ["spec", "template", "metadata"]
 * ```
 */
export function parseField(field: FieldSpec): FieldPath {
  const path = typeof field === "string" ? field.split(".") : [...field];
  if (path.some((part) => part === "")) {
    const shown = typeof field === "string" ? field : JSON.stringify(field);
    throw new Error(`Cannot parse the field "${shown}": field names must not be empty`);
  }
  return Object.freeze(path);
}

/** A plain JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The value at the field, or `fallback` when a key is missing or a parent is not an object
 * (as Kopf does: corrupted or absent structures read as if they were empty). A present `null`
 * is returned as `null`.
 */
export function resolve(obj: unknown, field: FieldSpec, fallback: unknown): unknown {
  let current = obj;
  // A path is used as it is, a dotted field parsed once: this runs several times per event,
  // and a split or a copy each time adds up (an iterator per loop, too: hence the index).
  const path = typeof field === "string" ? parsedField(field) : checkedPath(field);
  for (let i = 0; i < path.length; i++) {
    const key = path[i]!;
    if (!isObject(current) || !Object.hasOwn(current, key)) return fallback;
    current = current[key];
  }
  return current;
}

const PARSED_FIELDS = new Map<string, FieldPath>();
const PARSED_FIELDS_LIMIT = 1024;

/** `parseField` of a dotted field, remembered: the same few fields are resolved again and again. */
function parsedField(field: string): FieldPath {
  let path = PARSED_FIELDS.get(field);
  if (path === undefined) {
    path = parseField(field);
    if (PARSED_FIELDS.size >= PARSED_FIELDS_LIMIT) PARSED_FIELDS.clear();
    PARSED_FIELDS.set(field, path);
  }
  return path;
}

/** A path as given, or the error `parseField` gives for an empty part. */
function checkedPath(path: readonly string[]): FieldPath {
  for (let i = 0; i < path.length; i++) if (path[i] === "") return parseField(path);
  return path;
}

/** A deep copy of a JSON value, keeping the key order. */
export function deepCopy<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item) => deepCopy(item)) as T;
  if (isObject(value)) {
    // for-in, not Object.entries: no array per key (JSON objects have no inherited keys).
    const copy: Record<string, unknown> = {};
    for (const key in value) copy[key] = deepCopy(value[key]);
    return copy as T;
  }
  return value;
}

/** Structural equality of JSON values; the key order of objects does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}

/**
 * Sets the value at the field in `target` (mutating it), creating missing parents as
 * objects and replacing parents that are not objects.
 */
export function ensure(target: Record<string, unknown>, field: FieldSpec, value: unknown): void {
  const path = parseField(field);
  const last = path.at(-1);
  if (last === undefined) throw new Error("Cannot set the root of an object: name a field");
  let current = target;
  for (const key of path.slice(0, -1)) {
    const next = current[key];
    if (isObject(next)) {
      current = next;
    } else {
      const created: Record<string, unknown> = {};
      current[key] = created;
      current = created;
    }
  }
  current[last] = value;
}

/**
 * Removes the field from `target` (mutating it), then every parent on the path that is left
 * empty, as Kopf does. A missing field is not an error; a parent that is not an object is
 * left alone.
 */
export function remove(target: Record<string, unknown>, field: FieldSpec): void {
  const path = parseField(field);
  if (path.length === 0) throw new Error("Cannot remove the root of an object: name a field");
  removePath(target, path);
}

function removePath(target: Record<string, unknown>, path: FieldPath): void {
  const [head, ...tail] = path;
  if (head === undefined || !Object.hasOwn(target, head)) return;
  if (tail.length === 0) {
    delete target[head];
    return;
  }
  const child = target[head];
  if (!isObject(child)) return;
  removePath(child, tail);
  // Kopf drops the parent when it is empty after the removal, even if it was empty before.
  if (Object.keys(child).length === 0) delete target[head];
}

/**
 * Copies the given fields from `source` to `target` (deep copies, mutating `target`); fields
 * missing in the source are skipped.
 */
export function cherrypick(
  source: unknown,
  target: Record<string, unknown>,
  fields: Iterable<FieldSpec>,
): void {
  const absent = Symbol("absent");
  for (const field of fields) {
    const value = resolve(source, field, absent);
    if (value !== absent) ensure(target, field, deepCopy(value));
  }
}
