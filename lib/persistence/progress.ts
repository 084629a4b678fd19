// Progress storages: one record per handler (started, retries, delays, outcome), kept on the
// object in annotations or status exactly as Kopf keeps them, so a Kopf operator and this one
// can take over each other's objects mid-way. handling/ decides what to store and when.

import * as bodies from "../structs/bodies.ts";
import type * as patches from "../structs/patches.ts";
import * as encoding from "./_encoding.ts";
import * as diffbase from "./diffbase.ts";
import * as keys from "./keys.ts";

/**
 * The persisted state of one handler, as Kopf writes it. Timestamps are ISO 8601 in UTC with
 * microseconds and an explicit offset (`2026-03-01T12:00:00.000000+00:00`); older Kopf
 * versions wrote them without the offset. Any field may be null: storages drop null fields unless
 * verbose, and the API server drops them from status.
 */
export interface ProgressRecord {
  readonly started?: string | null;
  readonly stopped?: string | null;
  readonly delayed?: string | null;
  readonly purpose?: string | null;
  readonly retries?: number | null;
  readonly success?: boolean | null;
  readonly failure?: boolean | null;
  readonly message?: string | null;
  /** Ids of the handler's sub-handlers of all levels, sorted; null when there are none. */
  readonly subrefs?: readonly string[] | null;
}

/** Kopf's field order in stored records. */
export const RECORD_FIELDS = [
  "started",
  "stopped",
  "delayed",
  "purpose",
  "retries",
  "success",
  "failure",
  "message",
  "subrefs",
] as const;

/** Where handlers' progress records live. Writes go into the patch; nothing is sent here. */
export interface ProgressStorage {
  /** The record of the handler, or undefined if there is none. */
  fetch(key: string, body: bodies.RawBody): ProgressRecord | undefined;
  /** Writes the handler's record into the patch. */
  store(key: string, record: ProgressRecord, body: bodies.RawBody, patch: patches.Patch): void;
  /** Deletes the handler's record: nulls it if the body has it, else drops it from the patch. */
  purge(key: string, body: bodies.RawBody, patch: patches.Patch): void;
  /** Sets the dummy field that wakes the object up (undefined removes it), if it differs. */
  touch(body: bodies.RawBody, patch: patches.Patch, value: string | undefined): void;
  /** A copy of the essence without this storage's data. */
  clear(essence: diffbase.Essence): diffbase.Essence;
  /** Writes anything buffered; the built-in storages buffer nothing. */
  flush(): void;
}

/**
 * One annotation per handler with the record as compact JSON: `kopf.zalando.org/create_fn`.
 *
 * @example Storing a record into the patch
 * ```ts
 * import * as progress from "./progress.ts";
 * import * as patches from "../structs/patches.ts";
 * const patch = new patches.Patch();
 * new progress.AnnotationsProgressStorage().store("create_fn", { retries: 1 }, {}, patch);
 * patch.toMergePatch();
 * // { metadata: { annotations: { "kopf.zalando.org/create_fn": '{"retries":1}' } } }
 * ```
 */
export class AnnotationsProgressStorage implements ProgressStorage {
  readonly prefix: string;
  /** Whether null fields are written too. */
  readonly verbose: boolean;
  /** The name of the wake-up annotation (dashed, not dotted). */
  readonly touchKey: string;
  /** Whether V1 keys are written and read too (for rollbacks to old Kopf versions). */
  readonly v1: boolean;

  /** A storage under `<prefix>/…`. */
  constructor(
    options: {
      prefix?: string | undefined;
      verbose?: boolean | undefined;
      touchKey?: string | undefined;
      v1?: boolean | undefined;
    } = {},
  ) {
    this.prefix = options.prefix ?? "kopf.zalando.org";
    this.verbose = options.verbose ?? false;
    this.touchKey = options.touchKey ?? "touch-dummy";
    this.v1 = options.v1 ?? true;
    if (!this.prefix) throw new Error("Cannot store progress in annotations: no prefix");
  }

  fetch(key: string, body: bodies.RawBody): ProgressRecord | undefined {
    for (const fullKey of this.#keys(key, body)) {
      const encoded = bodies.resolve(body, ["metadata", "annotations", fullKey], null);
      if (typeof encoded !== "string") continue;
      const decoded = parse(encoded, `the annotation "${fullKey}"`);
      if (bodies.isObject(decoded)) return decoded as ProgressRecord;
    }
    return undefined;
  }

  store(key: string, record: ProgressRecord, body: bodies.RawBody, patch: patches.Patch): void {
    const encoded = encoding.encode(ordered(record, this.verbose));
    for (const fullKey of this.#keys(key, body)) {
      patch.set(["metadata", "annotations", fullKey], encoded);
    }
    keys.storeMarker(this.prefix, patch, body);
  }

  purge(key: string, body: bodies.RawBody, patch: patches.Patch): void {
    for (const fullKey of this.#keys(key, body)) {
      purgeField(["metadata", "annotations", fullKey], body, patch);
    }
  }

  touch(body: bodies.RawBody, patch: patches.Patch, value: string | undefined): void {
    for (const fullKey of this.#keys(this.touchKey, body)) {
      if (touchField(["metadata", "annotations", fullKey], body, patch, value)) {
        keys.storeMarker(this.prefix, patch, body);
      }
    }
  }

  clear(essence: diffbase.Essence): diffbase.Essence {
    const copy = bodies.deepCopy(essence);
    const annotations = bodies.resolve(copy, ["metadata", "annotations"], undefined);
    if (bodies.isObject(annotations)) {
      for (const key of Object.keys(annotations)) {
        if (key.startsWith(`${this.prefix}/`)) delete annotations[key];
      }
    }
    diffbase.removeEmptyStanzas(copy);
    return copy;
  }

  flush(): void {}

  #keys(key: string, body: bodies.RawBody): string[] {
    return keys.makeKeys(this.prefix, key, { body, v1: this.v1 });
  }
}

/** All records in one status field, keyed by the raw handler id: `status.kopf.progress`. */
export class StatusProgressStorage implements ProgressStorage {
  readonly field: bodies.FieldPath;
  readonly touchField: bodies.FieldPath;

  /** A storage at `field`; `{name}` in string fields is replaced with `name`. */
  constructor(options: {
    name?: string | undefined;
    field?: bodies.FieldSpec | undefined;
    touchField?: bodies.FieldSpec | undefined;
  } = {}) {
    this.field = diffbase.namedField(options.field ?? "status.{name}.progress", options.name);
    this.touchField = diffbase.namedField(
      options.touchField ?? "status.{name}.dummy",
      options.name,
    );
  }

  fetch(key: string, body: bodies.RawBody): ProgressRecord | undefined {
    const container = bodies.resolve(body, this.field, {});
    const record = bodies.isObject(container) ? container[key] : undefined;
    return bodies.isObject(record) ? record as ProgressRecord : undefined;
  }

  store(key: string, record: ProgressRecord, _body: bodies.RawBody, patch: patches.Patch): void {
    // Null fields are written as nulls: the merge-patch deletes them on the server.
    patch.set([...this.field, key], ordered(record, true));
  }

  purge(key: string, body: bodies.RawBody, patch: patches.Patch): void {
    purgeField([...this.field, key], body, patch);
  }

  touch(body: bodies.RawBody, patch: patches.Patch, value: string | undefined): void {
    touchField(this.touchField, body, patch, value);
  }

  clear(essence: diffbase.Essence): diffbase.Essence {
    const copy = bodies.deepCopy(essence);
    bodies.remove(copy, this.field);
    diffbase.removeEmptyStanzas(copy);
    return copy;
  }

  flush(): void {}
}

// Kopf 1.44+ reads the records that older versions left in status, but writes none there.
class ReadOnlyStatusProgressStorage extends StatusProgressStorage {
  override store(): void {}
  override touch(): void {}
}

/** Writes to all storages, reads from the first that has a record (for migrations). */
export class MultiProgressStorage implements ProgressStorage {
  readonly storages: readonly ProgressStorage[];

  /** Combines the storages; the first is read first. */
  constructor(storages: readonly ProgressStorage[]) {
    this.storages = [...storages];
  }

  fetch(key: string, body: bodies.RawBody): ProgressRecord | undefined {
    for (const storage of this.storages) {
      const record = storage.fetch(key, body);
      if (record !== undefined) return record;
    }
    return undefined;
  }

  store(key: string, record: ProgressRecord, body: bodies.RawBody, patch: patches.Patch): void {
    for (const storage of this.storages) storage.store(key, record, body, patch);
  }

  purge(key: string, body: bodies.RawBody, patch: patches.Patch): void {
    for (const storage of this.storages) storage.purge(key, body, patch);
  }

  touch(body: bodies.RawBody, patch: patches.Patch, value: string | undefined): void {
    for (const storage of this.storages) storage.touch(body, patch, value);
  }

  clear(essence: diffbase.Essence): diffbase.Essence {
    return this.storages.reduce((cleared, storage) => storage.clear(cleared), essence);
  }

  flush(): void {
    for (const storage of this.storages) storage.flush();
  }
}

/**
 * Kopf's default since 1.44: writes (and touches) annotations only; reads annotations, then
 * `status.kopf.progress` as left by Kopf ≤ 1.43; purges and clears both.
 */
export class SmartProgressStorage extends MultiProgressStorage {
  /** The annotations storage and the read-only status storage, with their options. */
  constructor(options: {
    name?: string | undefined;
    field?: bodies.FieldSpec | undefined;
    touchKey?: string | undefined;
    touchField?: bodies.FieldSpec | undefined;
    prefix?: string | undefined;
    v1?: boolean | undefined;
    verbose?: boolean | undefined;
  } = {}) {
    const { name, field, touchKey, touchField, prefix, v1, verbose } = options;
    super([
      new AnnotationsProgressStorage({ prefix, verbose, touchKey, v1 }),
      new ReadOnlyStatusProgressStorage({ name, field, touchField }),
    ]);
  }
}

// The record's fields in Kopf's order (unknown ones after), without undefined ones, and
// without nulls unless `withNulls`.
function ordered(record: ProgressRecord, withNulls: boolean): Record<string, unknown> {
  const source = record as Readonly<Record<string, unknown>>;
  const names = [...RECORD_FIELDS, ...Object.keys(source)];
  const result: Record<string, unknown> = {};
  for (const name of new Set<string>(names)) {
    const value = source[name];
    if (value === undefined || (value === null && !withNulls)) continue;
    result[name] = bodies.deepCopy(value);
  }
  return result;
}

function purgeField(path: readonly string[], body: bodies.RawBody, patch: patches.Patch): void {
  const absent = Symbol("absent");
  if (bodies.resolve(body, path, absent) !== absent) patch.set(path, null);
  else if (bodies.resolve(patch.body, path, absent) !== absent) patch.discard(path);
}

function touchField(
  path: readonly string[],
  body: bodies.RawBody,
  patch: patches.Patch,
  value: string | undefined,
): boolean {
  const wanted = value ?? null;
  if (bodies.resolve(body, path, null) === wanted) return false;
  patch.set(path, wanted);
  return true;
}

function parse(encoded: string, where: string): unknown {
  try {
    return JSON.parse(encoded);
  } catch (error) {
    throw new Error(`Cannot read the progress from ${where}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
