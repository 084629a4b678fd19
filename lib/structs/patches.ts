// The patch that handlers and storages write to during a cycle: a JSON merge-patch document
// (RFC 7386) plus Kopf 1.44's transformation functions, which become a JSON patch (RFC 6902).
// Built by handling/ and the storages, sent by the caller; never does I/O itself.

import * as bodies from "./bodies.ts";
import * as jsonDiffs from "./_json_diffs.ts";

/**
 * A transformation of the object, applied in place to a copy of its freshest body; the
 * resulting changes are sent as a JSON patch (Kopf 1.44's `patch.fns`).
 */
export type PatchFn = (body: Record<string, unknown>) => void;

/** One RFC 6902 operation, with Kopf's key order: `op`, `from`, `path`, `value`. */
export interface JsonPatchOperation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  value?: unknown;
  from?: string;
}

/**
 * The metadata part of a patch. `labels` and `annotations` spring into existence on first
 * read, so `patch.metadata.labels.app = "x"` works; `null` values delete on the server.
 */
export interface MetaPatch {
  labels: Record<string, string | null>;
  annotations: Record<string, string | null>;
  [key: string]: unknown;
}

/** What to send: the object's merge patch and, separately, the `/status` subresource's. */
export interface SplitPatch {
  /** The merge-patch for the object itself; undefined when there is nothing to send. */
  readonly object: Record<string, unknown> | undefined;
  /** `{status: …}` for the `/status` subresource; undefined when there is nothing to send. */
  readonly status: Record<string, unknown> | undefined;
}

/**
 * The merge-patch document and transformation functions of one object in one cycle.
 *
 * @example Writing status and labels, then splitting for a resource with `/status`
 * ```ts
 * import * as patches from "./patches.ts";
 * const patch = new patches.Patch();
 * patch.status.phase = "Ready";
 * patch.metadata.labels.app = "demo";
 * patch.split(true);
 * // { object: { metadata: { labels: { app: "demo" } } }, status: { status: { phase: "Ready" } } }
 * ```
 */
export class Patch {
  /** The merge-patch document as written so far (empty objects included, see `toMergePatch`). */
  readonly body: Record<string, unknown>;
  /** Transformation functions, applied in order; see `asJsonPatch`. */
  readonly fns: PatchFn[];
  #metaTarget: Record<string, unknown> | undefined;
  #metaView: MetaPatch | undefined;

  /** A patch that starts with a copy of `body` (a merge-patch document) and the given `fns`. */
  constructor(options: { body?: Record<string, unknown>; fns?: Iterable<PatchFn> } = {}) {
    this.body = bodies.deepCopy(options.body ?? {});
    this.fns = [...(options.fns ?? [])];
  }

  /** `metadata`, created on first use; its `labels` and `annotations` too. */
  get metadata(): MetaPatch {
    const target = this.#stanza(this.body, "metadata");
    if (this.#metaTarget !== target || this.#metaView === undefined) {
      const stanza = (holder: Record<string, unknown>, key: string) => this.#stanza(holder, key);
      this.#metaTarget = target;
      this.#metaView = new Proxy(target, {
        get(holder, key, receiver) {
          if (key === "labels" || key === "annotations") return stanza(holder, key);
          return Reflect.get(holder, key, receiver);
        },
      }) as MetaPatch;
    }
    return this.#metaView;
  }

  /** Same as `metadata`, as Kopf spells it for handlers. */
  get meta(): MetaPatch {
    return this.metadata;
  }

  /** `spec`, created on first use. */
  get spec(): Record<string, unknown> {
    return this.#stanza(this.body, "spec");
  }

  /** `status`, created on first use; sent to `/status` if the resource has that subresource. */
  get status(): Record<string, unknown> {
    return this.#stanza(this.body, "status");
  }

  /** Sets any field of the document, creating its parents: `patch.set(["data", "k"], "v")`. */
  set(field: bodies.FieldSpec, value: unknown): void {
    bodies.ensure(this.body, field, value);
  }

  /**
   * Forgets a pending change of the field, and the parents left empty by it. This is not a
   * deletion on the server: to delete, set the field to `null`.
   */
  discard(field: bodies.FieldSpec): void {
    bodies.remove(this.body, field);
  }

  /**
   * Merges another merge-patch document into this one so that sending the result equals
   * sending this patch and then `doc`: objects merge key by key, anything else (lists, scalars,
   * `null`, which deletes on the server) replaces.
   */
  merge(doc: Readonly<Record<string, unknown>>): void {
    mergeInto(this.body, doc);
  }

  /** Drops all changes and functions. */
  clear(): void {
    for (const key of Object.keys(this.body)) delete this.body[key];
    this.fns.length = 0;
  }

  /** Whether there is nothing to send: no values (`null` counts) and no functions. */
  isEmpty(): boolean {
    return this.fns.length === 0 && Object.keys(prune(this.body)).length === 0;
  }

  /** The merge-patch document to send, with empty objects pruned. */
  toMergePatch(): Record<string, unknown> {
    return prune(this.body);
  }

  /**
   * The merge-patch document split as Kopf sends it: with a status subresource, `status`
   * goes to `/status` (as `{status: …}`) and the rest to the object; without one, all of it
   * goes to the object.
   */
  split(hasStatusSubresource: boolean): SplitPatch {
    const doc = this.toMergePatch();
    if (!hasStatusSubresource || !Object.hasOwn(doc, "status")) {
      return { object: nonEmpty(doc), status: undefined };
    }
    const { status, ...rest } = doc;
    return { object: nonEmpty(rest), status: { status } };
  }

  /**
   * The JSON patch that turns `body` into what this patch makes of it: the merge document is
   * applied to a copy of `body` (as Kopf applies it: a `null` also drops the parents it leaves
   * empty), then the functions in order; the result is diffed against `body`. Empty when
   * nothing would change. Kopf sends only the functions this way (`new Patch({fns})`), and
   * prepends a `resourceVersion` test: see `withResourceVersionTest`.
   */
  asJsonPatch(body: bodies.RawBody): JsonPatchOperation[] {
    if (this.isEmpty()) return [];
    const before = bodies.deepCopy(body) as Record<string, unknown>;
    const after = bodies.deepCopy(before);
    applyMerge(after, [], this.body);
    for (const fn of this.fns) fn(after);
    return jsonDiffs.diff(before, after);
  }

  #stanza(holder: Record<string, unknown>, key: string): Record<string, unknown> {
    const value = holder[key];
    if (bodies.isObject(value)) return value;
    if (value !== undefined) {
      throw new TypeError(
        `Cannot patch inside "${key}": the patch already sets it to ${JSON.stringify(value)}`,
      );
    }
    const created: Record<string, unknown> = {};
    holder[key] = created;
    return created;
  }
}

/**
 * The JSON patch operations split by where Kopf sends them: with a status subresource,
 * operations on `/status` and below go to `/status`, the rest to the object.
 */
export function splitJsonPatch(
  ops: readonly JsonPatchOperation[],
  hasStatusSubresource: boolean,
): { object: JsonPatchOperation[]; status: JsonPatchOperation[] } {
  const isStatus = (op: JsonPatchOperation) =>
    hasStatusSubresource && (op.path === "/status" || op.path.startsWith("/status/"));
  return { object: ops.filter((op) => !isStatus(op)), status: ops.filter(isStatus) };
}

/**
 * The operations prefixed with Kopf's optimistic-concurrency guard: a `test` of
 * `/metadata/resourceVersion` against the body the operations were computed from. Kopf
 * adds it when sending each JSON patch (object and `/status` separately); when the body has
 * no resourceVersion, the test value is `null`, as in Kopf.
 */
export function withResourceVersionTest(
  ops: readonly JsonPatchOperation[],
  body: bodies.RawBody | undefined,
): JsonPatchOperation[] {
  const version = bodies.resolve(body, ["metadata", "resourceVersion"], null);
  return [{ op: "test", path: "/metadata/resourceVersion", value: version }, ...ops];
}

function prune(doc: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(doc)) {
    if (value === undefined) continue;
    if (bodies.isObject(value)) {
      const pruned = prune(value);
      if (Object.keys(pruned).length > 0) result[key] = pruned;
    } else {
      result[key] = bodies.deepCopy(value);
    }
  }
  return result;
}

function nonEmpty(doc: Record<string, unknown>): Record<string, unknown> | undefined {
  return Object.keys(doc).length > 0 ? doc : undefined;
}

function mergeInto(target: Record<string, unknown>, doc: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(doc)) {
    if (value === undefined) continue;
    const current = target[key];
    if (bodies.isObject(value) && bodies.isObject(current)) {
      mergeInto(current, value);
    } else {
      target[key] = bodies.deepCopy(value);
    }
  }
}

// Kopf's way of applying its merge document before the functions: `null` removes the field
// and the parents it leaves empty; objects recurse; anything else is set, parents created.
function applyMerge(
  target: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): void {
  if (value === undefined) return;
  if (value === null) {
    if (path.length > 0) bodies.remove(target, path);
  } else if (bodies.isObject(value)) {
    for (const [key, item] of Object.entries(value)) applyMerge(target, [...path, key], item);
  } else if (path.length > 0) {
    bodies.ensure(target, path, bodies.deepCopy(value));
  }
}
