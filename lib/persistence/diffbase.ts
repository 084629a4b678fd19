// Diff-base storages: the object's "essence" as last handled (Kopf's last-handled-configuration),
// built with Kopf's exact rules and stored as Kopf stores it, so either operator can take over.
// causes/ and processing/ decide when to build, fetch and store; this never writes on its own.

import * as bodies from "../structs/bodies.ts";
import type * as patches from "../structs/patches.ts";
import * as encoding from "./_encoding.ts";
import * as keys from "./keys.ts";

/** The parts of an object that count as changes: spec and the like, labels, annotations. */
export type Essence = Record<string, unknown>;

/** Where the last handled essence lives. */
export interface DiffBaseStorage {
  /**
   * The essence of the object: without apiVersion, kind, status, and metadata other than
   * labels and annotations; without annotations of Kopf operators (this one's included) and
   * `kubectl.kubernetes.io/last-applied-configuration`; with the extra fields (e.g. a
   * `status.x` that a field handler watches) put back; without the storage's own data.
   */
  build(body: bodies.RawBody, extraFields?: readonly bodies.FieldSpec[]): Essence;
  /** The stored essence, or undefined if none was stored. */
  fetch(body: bodies.RawBody): Essence | undefined;
  /** Writes the essence into the patch. */
  store(body: bodies.RawBody, patch: patches.Patch, essence: Essence): void;
}

const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * Stores the essence as compact JSON plus `"\n"` in an annotation (Kopf's default).
 *
 * @example Building and storing the essence
 * ```ts
 * import * as diffbase from "./diffbase.ts";
 * import * as patches from "../structs/patches.ts";
 * const storage = new diffbase.AnnotationsDiffBaseStorage();
 * const body = { kind: "KopfExample", metadata: { name: "x" }, spec: { a: 1 } };
 * const patch = new patches.Patch();
 * storage.store(body, patch, storage.build(body));
 * // patch.metadata.annotations["kopf.zalando.org/last-handled-configuration"] === '{"spec":{"a":1}}\n'
 * ```
 */
export class AnnotationsDiffBaseStorage implements DiffBaseStorage {
  readonly prefix: string;
  readonly key: string;
  readonly ignoredFields: readonly bodies.FieldSpec[];
  /** Whether V1 keys are written and read too (for rollbacks to old Kopf versions). */
  readonly v1: boolean;

  /** A storage under `<prefix>/<key>`; `ignoredFields` are left out of the essence. */
  constructor(options: {
    prefix?: string | undefined;
    key?: string | undefined;
    ignoredFields?: readonly bodies.FieldSpec[] | undefined;
    v1?: boolean | undefined;
  } = {}) {
    this.prefix = options.prefix ?? "kopf.zalando.org";
    this.key = options.key ?? "last-handled-configuration";
    this.ignoredFields = options.ignoredFields ?? [];
    this.v1 = options.v1 ?? true;
    if (!this.prefix) throw new Error("Cannot store the diff-base in annotations: no prefix");
  }

  build(body: bodies.RawBody, extraFields: readonly bodies.FieldSpec[] = []): Essence {
    const essence = buildEssence(body, extraFields, this.ignoredFields);
    const own = new Set(this.#keys(body));
    const annotations = bodies.resolve(essence, ["metadata", "annotations"], undefined);
    if (bodies.isObject(annotations)) {
      for (const key of Object.keys(annotations)) if (own.has(key)) delete annotations[key];
    }
    removeEmptyStanzas(essence);
    return essence;
  }

  fetch(body: bodies.RawBody): Essence | undefined {
    for (const key of this.#keys(body)) {
      const encoded = bodies.resolve(body, ["metadata", "annotations", key], null);
      const decoded = decode(encoded, `the annotation "${key}"`);
      if (decoded !== undefined) return decoded;
    }
    return undefined;
  }

  store(body: bodies.RawBody, patch: patches.Patch, essence: Essence): void {
    // The newline is Kopf's (and kubectl's): `kubectl get -o yaml` shows it without wrapping.
    const encoded = `${encoding.encode(essence)}\n`;
    for (const key of this.#keys(body)) patch.metadata.annotations[key] = encoded;
    keys.storeMarker(this.prefix, patch, body);
  }

  #keys(body: bodies.RawBody): string[] {
    return keys.makeKeys(this.prefix, this.key, { body, v1: this.v1 });
  }
}

/** Stores the essence as compact JSON (no newline) in a status field. */
export class StatusDiffBaseStorage implements DiffBaseStorage {
  readonly field: bodies.FieldPath;
  readonly ignoredFields: readonly bodies.FieldSpec[];

  /** A storage at `field`; `{name}` in a string field is replaced with `name`. */
  constructor(options: {
    name?: string | undefined;
    field?: bodies.FieldSpec | undefined;
    ignoredFields?: readonly bodies.FieldSpec[] | undefined;
  } = {}) {
    this.field = namedField(
      options.field ?? "status.{name}.last-handled-configuration",
      options.name,
    );
    this.ignoredFields = options.ignoredFields ?? [];
  }

  build(body: bodies.RawBody, extraFields: readonly bodies.FieldSpec[] = []): Essence {
    const essence = buildEssence(body, extraFields, this.ignoredFields);
    bodies.remove(essence, this.field);
    return essence;
  }

  fetch(body: bodies.RawBody): Essence | undefined {
    const encoded = bodies.resolve(body, this.field, null);
    return decode(encoded, `the field "${this.field.join(".")}"`);
  }

  store(_body: bodies.RawBody, patch: patches.Patch, essence: Essence): void {
    patch.set(this.field, encoding.encode(essence));
  }
}

/** Writes to all storages, reads from the first that has an essence (for migrations). */
export class MultiDiffBaseStorage implements DiffBaseStorage {
  readonly storages: readonly DiffBaseStorage[];

  /** Combines the storages; the first is read first. */
  constructor(storages: readonly DiffBaseStorage[]) {
    this.storages = [...storages];
  }

  build(body: bodies.RawBody, extraFields: readonly bodies.FieldSpec[] = []): Essence {
    let essence = buildEssence(body, extraFields, []);
    // Each storage cleans its own data, taking what is left so far as the body.
    for (const storage of this.storages) essence = storage.build(essence, extraFields);
    return essence;
  }

  fetch(body: bodies.RawBody): Essence | undefined {
    for (const storage of this.storages) {
      const essence = storage.fetch(body);
      if (essence !== undefined) return essence;
    }
    return undefined;
  }

  store(body: bodies.RawBody, patch: patches.Patch, essence: Essence): void {
    for (const storage of this.storages) storage.store(body, patch, essence);
  }
}

/**
 * Removes (in place) `metadata.annotations`, `metadata.labels`, `metadata` and `status` when
 * they are empty (or null), in this order, as Kopf does; other empty fields stay.
 */
export function removeEmptyStanzas(essence: Essence): void {
  const metadata = essence.metadata;
  if (bodies.isObject(metadata)) {
    if (Object.hasOwn(metadata, "annotations") && isBlank(metadata.annotations)) {
      delete metadata.annotations;
    }
    if (Object.hasOwn(metadata, "labels") && isBlank(metadata.labels)) delete metadata.labels;
  }
  if (Object.hasOwn(essence, "metadata") && isBlank(essence.metadata)) delete essence.metadata;
  if (Object.hasOwn(essence, "status") && isBlank(essence.status)) delete essence.status;
}

/** Replaces `{name}` in a string field (as Kopf formats its default fields) and parses it. */
export function namedField(field: bodies.FieldSpec, name = "kopf"): bodies.FieldPath {
  return bodies.parseField(typeof field === "string" ? field.replaceAll("{name}", name) : field);
}

// The essence rules common to all storages. The key order follows Kopf: the body's own keys
// first, then metadata (labels, then annotations), then the extra fields.
function buildEssence(
  body: bodies.RawBody,
  extraFields: readonly bodies.FieldSpec[],
  ignoredFields: readonly bodies.FieldSpec[],
): Essence {
  const essence = bodies.deepCopy({ ...body }) as Essence;
  for (const key of ["apiVersion", "kind", "metadata", "status"]) delete essence[key];
  bodies.cherrypick(body, essence, [["metadata", "labels"], ["metadata", "annotations"]]);

  const annotations = bodies.resolve(essence, ["metadata", "annotations"], undefined);
  if (bodies.isObject(annotations)) {
    const foreign = keys.detectMarkedPrefixes(Object.keys(annotations));
    for (const key of Object.keys(annotations)) {
      const prefix = key.includes("/") ? key.slice(0, key.indexOf("/")) : undefined;
      if ((prefix !== undefined && foreign.has(prefix)) || key === LAST_APPLIED) {
        delete annotations[key];
      }
    }
  }

  bodies.cherrypick(body, essence, extraFields);
  removeEmptyStanzas(essence);
  for (const field of ignoredFields) bodies.remove(essence, field);
  return essence;
}

// Python's truthiness, which Kopf uses for "empty".
function isBlank(value: unknown): boolean {
  if (bodies.isObject(value)) return Object.keys(value).length === 0;
  if (Array.isArray(value)) return value.length === 0;
  return value === null || value === undefined || value === false || value === 0 || value === "";
}

function decode(encoded: unknown, where: string): Essence | undefined {
  if (typeof encoded !== "string") return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(encoded);
  } catch (error) {
    throw new Error(`Cannot read the diff-base from ${where}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return bodies.isObject(decoded) ? decoded : undefined;
}
