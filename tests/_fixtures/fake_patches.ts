// The patch dialects of the fake API server: RFC 7386 merge patch, RFC 6902 JSON patch, and a
// close approximation of strategic merge for built-in kinds. Pure functions over JSON values;
// failures throw the real server's statuses (400 for a malformed patch, 422 when applying fails).

import * as statuses from "./fake_statuses.ts";
import type { Json } from "./fake_statuses.ts";

export function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Structural equality of JSON values; key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** RFC 7386: objects merge key by key, `null` deletes, anything else (lists too) replaces. */
export function merge(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = merge(result[key], value);
  }
  return result;
}

// Lists that built-in kinds merge instead of replacing (their `patchStrategy: merge`), with the
// key that identifies an element (undefined for lists of scalars).
const MERGED_LISTS: Record<string, string | undefined> = {
  "metadata.finalizers": undefined,
  "metadata.ownerReferences": "uid",
};

/**
 * Strategic merge patch, approximated: merge-patch semantics plus the merged metadata lists
 * and the `$patch`, `$deleteFromPrimitiveList/…`, `$setElementOrder/…` and `$retainKeys`
 * directives. Built-in kinds only; the API server answers 415 for custom resources.
 */
export function strategicMerge(target: unknown, patch: unknown, path = ""): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _, ...rest } = patch;
    return structuredClone(rest);
  }
  const result: Json = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    const here = path ? `${path}.${key}` : key;
    if (key === "$patch" || key === "$retainKeys" || key.startsWith("$setElementOrder/")) continue;
    if (key.startsWith("$deleteFromPrimitiveList/")) {
      const listKey = key.slice("$deleteFromPrimitiveList/".length);
      const current = result[listKey];
      if (Array.isArray(current) && Array.isArray(value)) {
        result[listKey] = current.filter((x) => !value.some((v) => deepEqual(v, x)));
      }
      continue;
    }
    if (value === null || (isObject(value) && value.$patch === "delete")) {
      delete result[key];
    } else if (Array.isArray(value) && Object.hasOwn(MERGED_LISTS, here)) {
      result[key] = mergeList(result[key], value, MERGED_LISTS[here]);
    } else {
      result[key] = strategicMerge(result[key], value, here);
    }
  }
  return result;
}

function mergeList(current: unknown, patch: unknown[], mergeKey: string | undefined): unknown[] {
  const out = Array.isArray(current) ? [...current] : [];
  for (const item of patch) {
    if (mergeKey === undefined) {
      if (!out.some((x) => deepEqual(x, item))) out.push(structuredClone(item));
      continue;
    }
    const id = isObject(item) ? item[mergeKey] : undefined;
    const at = out.findIndex((x) => isObject(x) && x[mergeKey] === id);
    if (isObject(item) && item.$patch === "delete") {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) {
      out[at] = strategicMerge(out[at], item);
    } else {
      out.push(structuredClone(item));
    }
  }
  return out;
}

/** RFC 6901: "/a/b~1c" → ["a", "b/c"]. */
function pointer(path: unknown): string[] {
  if (typeof path !== "string") throw statuses.patchRejected();
  if (path === "") return [];
  if (!path.startsWith("/")) throw statuses.patchRejected();
  return path.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function arrayIndex(token: string, length: number, forAdd: boolean): number {
  if (forAdd && token === "-") return length;
  if (!/^-?(0|[1-9][0-9]*)$/.test(token)) throw statuses.patchRejected();
  let index = Number(token);
  if (index < 0) index += length; // evanphx/json-patch v4 accepts negative indices
  if (index < 0 || index > (forAdd ? length : length - 1)) throw statuses.patchRejected();
  return index;
}

// The container that holds the last token of a path; every step on the way must exist.
function parentOf(doc: unknown, tokens: string[]): unknown {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length, false)];
    else if (isObject(node) && Object.hasOwn(node, token)) node = node[token];
    else throw statuses.patchRejected();
  }
  if (!Array.isArray(node) && !isObject(node)) throw statuses.patchRejected();
  return node;
}

function read(doc: unknown, tokens: string[]): unknown {
  if (tokens.length === 0) return doc;
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1] ?? "";
  if (Array.isArray(parent)) return parent[arrayIndex(last, parent.length, false)];
  if (isObject(parent) && Object.hasOwn(parent, last)) return parent[last];
  throw statuses.patchRejected();
}

function add(doc: unknown, tokens: string[], value: unknown): unknown {
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1] ?? "";
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true), 0, value);
  else (parent as Json)[last] = value;
  return doc;
}

function replace(doc: unknown, tokens: string[], value: unknown): unknown {
  read(doc, tokens);
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1] ?? "";
  if (Array.isArray(parent)) parent[arrayIndex(last, parent.length, false)] = value;
  else (parent as Json)[last] = value;
  return doc;
}

function remove(doc: unknown, tokens: string[]): unknown {
  if (tokens.length === 0) throw statuses.patchRejected();
  const parent = parentOf(doc, tokens);
  const last = tokens[tokens.length - 1] ?? "";
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(last, parent.length, false), 1);
  } else if (isObject(parent) && Object.hasOwn(parent, last)) {
    delete parent[last];
  } else {
    throw statuses.patchRejected();
  }
  return doc;
}

/**
 * RFC 6902 over a copy of `doc`. A body that is not a list of operations is a 400; an operation
 * that does not apply (a failed `test`, a missing path) is the real server's bare 422 Invalid.
 */
export function applyJsonPatch(doc: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations) || !operations.every(isObject)) {
    throw statuses.badRequest(
      "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    );
  }
  let result = structuredClone(doc);
  for (const op of operations) {
    const tokens = pointer(op.path);
    switch (op.op) {
      case "add":
        if (!Object.hasOwn(op, "value")) throw statuses.patchRejected();
        result = add(result, tokens, structuredClone(op.value));
        break;
      case "remove":
        result = remove(result, tokens);
        break;
      case "replace":
        if (!Object.hasOwn(op, "value")) throw statuses.patchRejected();
        result = replace(result, tokens, structuredClone(op.value));
        break;
      case "move": {
        const from = pointer(op.from);
        const value = read(result, from);
        result = add(remove(result, from), tokens, value);
        break;
      }
      case "copy":
        result = add(result, tokens, structuredClone(read(result, pointer(op.from))));
        break;
      case "test":
        if (!deepEqual(read(result, tokens), op.value ?? null)) throw statuses.patchRejected();
        break;
      default:
        throw statuses.patchRejected();
    }
  }
  return result;
}
