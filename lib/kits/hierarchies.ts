// Helpers for operator authors who create children: owner references, names, namespaces and
// labels taken from the owner (Kopf's `kopf.adopt()` and its parts). The core never calls
// them; they change the given objects in place and never talk to the API.

import type { AsyncLocalStorage } from "node:async_hooks";
import * as contexts from "../handling/contexts.ts";
import * as bodies from "../structs/bodies.ts";

/** A reference from a child to its owner, as Kubernetes stores it in `metadata.ownerReferences`. */
export interface OwnerReference {
  /** The owner's `apiVersion`: `kopf.dev/v1`. */
  apiVersion: string;
  /** The owner's `kind`: `KopfExample`. */
  kind: string;
  /** The owner's `metadata.name`. */
  name: string;
  /** The owner's `metadata.uid`: what tells this owner from an earlier one of the same name. */
  uid: string;
  /** Whether the owner is the managing controller of the child (one per child at most). */
  controller: boolean;
  /** Whether the owner's foreground deletion waits for the child to go away. */
  blockOwnerDeletion: boolean;
}

/** What the helpers read from an owner: any Kubernetes object as the API returns it. */
export interface Owner {
  /** Needed for an owner reference. */
  readonly apiVersion?: string | undefined;
  /** Needed for an owner reference. */
  readonly kind?: string | undefined;
  /** The name and uid are needed for an owner reference; the rest is copied by `adopt`. */
  readonly metadata?: {
    readonly name?: string | undefined;
    readonly namespace?: string | undefined;
    readonly uid?: string | undefined;
    readonly labels?: Readonly<Record<string, string>> | undefined;
  } | undefined;
}

/** Options of {@linkcode buildOwnerReference} and {@linkcode appendOwnerReference}. */
export interface OwnerReferenceOptions {
  /** Whether the owner is the managing controller of the child. @default {true} */
  controller?: boolean;
  /** Whether the owner's foreground deletion waits for the child. @default {true} */
  blockOwnerDeletion?: boolean;
}

/** Options of {@linkcode label}. */
export interface LabelOptions {
  /** Overwrite the labels the objects already have. @default {false} */
  forced?: boolean;
  /**
   * Fields of each object that hold objects to label too, such as pod templates:
   * `"spec.template"` or `["spec.template", "spec.jobTemplate"]`. As in Kopf, a list names
   * several fields: `["spec", "template"]` is two of them; one path as a list is
   * `[["spec", "template"]]`. Absent fields are skipped; fields that hold anything but an
   * object are an error.
   * @default {[]}
   */
  nested?: string | readonly (string | readonly string[])[];
}

/** Options of {@linkcode harmonizeNaming}. */
export interface NamingOptions {
  /** Rename the objects that already have a name or a `generateName`. @default {false} */
  forced?: boolean;
  /** Use the name as it is, instead of as a `generateName` prefix. @default {false} */
  strict?: boolean;
}

/** Options of {@linkcode adjustNamespace}. */
export interface NamespaceOptions {
  /** Move the objects that already have a namespace. @default {false} */
  forced?: boolean;
}

/** Options of {@linkcode adopt}. */
export interface AdoptOptions {
  /** Overwrite the name, namespace and labels the children already have. @default {false} */
  forced?: boolean;
  /** Name the children exactly as the owner, not with a `generateName` prefix. @default {false} */
  strict?: boolean;
  /** Fields of each child that hold objects to label too, e.g. `"spec.template"`. @default {[]} */
  nested?: string | readonly (string | readonly string[])[];
}

/**
 * The object whose handler is running: the owner that {@linkcode adopt},
 * {@linkcode appendOwnerReference} and {@linkcode removeOwnerReference} use when none is
 * passed. The handling layer runs each resource handler inside it (the same storage as
 * `handling/contexts.ts`'s `currentBody`).
 *
 * @example Adopting a child inside a handler without naming the owner
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { adopt, currentOwner } from "./hierarchies.ts";
 * const body = {
 *   apiVersion: "kopf.dev/v1",
 *   kind: "KopfExample",
 *   metadata: { name: "kopf-example-1", namespace: "default", uid: "6a1c" },
 * };
 * const pod = currentOwner.run(body, () => adopt({ apiVersion: "v1", kind: "Pod" }));
 * equal(pod.metadata?.namespace, "default");
 * ```
 */
export const currentOwner: AsyncLocalStorage<Readonly<Record<string, unknown>>> =
  contexts.currentBody;

/**
 * Builds a reference to the owner, for a child's `metadata.ownerReferences`. The owner must
 * have an `apiVersion`, a `kind`, a name and a uid (objects in a list response lack the first
 * two: add them, or fetch the object).
 *
 * @throws {Error} when one of the required fields is missing
 *
 * @example Referencing a ConfigMap that does not control its children
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { buildOwnerReference } from "./hierarchies.ts";
 * const owner = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", uid: "7b2e" } };
 * deepEqual(buildOwnerReference(owner, { controller: false }), {
 *   apiVersion: "v1",
 *   kind: "ConfigMap",
 *   name: "cm",
 *   uid: "7b2e",
 *   controller: false,
 *   blockOwnerDeletion: true,
 * });
 * ```
 */
export function buildOwnerReference(
  owner: Owner,
  options: OwnerReferenceOptions = {},
): OwnerReference {
  const { controller = true, blockOwnerDeletion = true } = options;
  const fields = {
    apiVersion: text(owner, ["apiVersion"]),
    kind: text(owner, ["kind"]),
    name: text(owner, ["metadata", "name"]),
    uid: text(owner, ["metadata", "uid"]),
  };
  const { apiVersion, kind, name, uid } = fields;
  if (apiVersion === undefined || kind === undefined || name === undefined || uid === undefined) {
    const missing = Object.entries(fields).filter(([, value]) => value === undefined)
      .map(([key]) => key === "name" || key === "uid" ? `metadata.${key}` : key);
    throw new Error(
      `Cannot build an owner reference to ${describe(owner)}: it has no ${missing.join(", ")}`,
    );
  }
  return { apiVersion, kind, name, uid, controller, blockOwnerDeletion };
}

/**
 * Adds a reference to the owner to each object, unless the object already has a reference
 * with the owner's uid (that one is kept as it is). The owner defaults to the object whose
 * handler is running.
 *
 * Kubernetes allows only one reference with `controller: true` per object, and a namespaced
 * owner only for children in its own namespace; as in Kopf, this is not checked here.
 *
 * @throws {Error} when there is no owner, or the owner lacks a field of the reference
 *
 * @example Owning a list of children
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { appendOwnerReference } from "./hierarchies.ts";
 * const owner = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm", uid: "7b2e" } };
 * const [pod] = appendOwnerReference([{ kind: "Pod", metadata: { name: "p" } }], owner);
 * equal(pod?.metadata.ownerReferences?.[0]?.uid, "7b2e");
 * ```
 */
export function appendOwnerReference<O extends object>(
  objs: O,
  owner?: Owner,
  options: OwnerReferenceOptions = {},
): WithMetadata<O> {
  const reference = buildOwnerReference(ownerOrCurrent(owner, "appendOwnerReference"), options);
  for (const obj of walk(objs, "appendOwnerReference")) {
    const references = ownerReferencesOf(obj, true);
    if (!references.some((ref) => bodies.isObject(ref) && ref.uid === reference.uid)) {
      references.push({ ...reference });
    }
  }
  return objs as WithMetadata<O>;
}

/**
 * Removes the references to the owner (found by its uid) from each object. The owner
 * defaults to the object whose handler is running; it needs only a uid.
 *
 * @throws {Error} when there is no owner, or the owner has no uid
 *
 * @example Disowning a pod
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { removeOwnerReference } from "./hierarchies.ts";
 * const pod = { metadata: { ownerReferences: [{ uid: "7b2e" }, { uid: "91fd" }] } };
 * removeOwnerReference(pod, { metadata: { uid: "7b2e" } });
 * deepEqual(pod.metadata.ownerReferences, [{ uid: "91fd" }]);
 * ```
 */
export function removeOwnerReference<O extends object>(objs: O, owner?: Owner): O {
  const real = ownerOrCurrent(owner, "removeOwnerReference");
  const uid = text(real, ["metadata", "uid"]);
  if (uid === undefined) {
    throw new Error(`Cannot remove the owner references to ${describe(real)}: it has no uid`);
  }
  for (const obj of walk(objs, "removeOwnerReference")) {
    const references = ownerReferencesOf(obj, false);
    const kept = references.filter((ref) => !(bodies.isObject(ref) && ref.uid === uid));
    // The array is changed in place: callers may hold it.
    if (kept.length !== references.length) references.splice(0, references.length, ...kept);
  }
  return objs;
}

/**
 * Sets the labels on each object and, with `nested`, on the objects in those fields (such as
 * a deployment's pod template). Labels the objects already have are kept unless `forced`.
 *
 * @example Labelling a deployment and its pods
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { label } from "./hierarchies.ts";
 * const deployment = {
 *   metadata: { labels: { app: "mine" } },
 *   spec: { template: { spec: { containers: [] } } },
 * };
 * label(deployment, { app: "web", tier: "front" }, { nested: "spec.template" });
 * deepEqual(deployment.metadata.labels, { app: "mine", tier: "front" });
 * deepEqual(deployment.spec.template, {
 *   spec: { containers: [] },
 *   metadata: { labels: { app: "web", tier: "front" } },
 * });
 * ```
 */
export function label<O extends object>(
  objs: O,
  labels: Readonly<Record<string, string>>,
  options: LabelOptions = {},
): WithMetadata<O> {
  const { forced = false, nested = [] } = options;
  const entries = Object.entries(labels);
  // All targets are found first, so that a wrong nested field fails before any change.
  const targets = labelTargets(objs, nested, "label");
  if (entries.length === 0) return objs as WithMetadata<O>;
  for (const target of targets) {
    const existing = objectAt(metadataOf(target), "labels", target);
    for (const [key, value] of entries) {
      if (forced || existing[key] === undefined) existing[key] = value;
    }
  }
  return objs as WithMetadata<O>;
}

/**
 * Names each object after `name`: by default as `generateName: "<name>-"`, so that
 * Kubernetes adds a random suffix (take the real name from the API's response); with
 * `strict`, as `name` exactly. Objects that have a name or a `generateName` keep it unless
 * `forced`; a forced name replaces the other field.
 *
 * @throws {Error} when the name is empty
 *
 * @example Prefix or exact name
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { harmonizeNaming } from "./hierarchies.ts";
 * deepEqual(harmonizeNaming({ kind: "Pod" }, "web").metadata, { generateName: "web-" });
 * deepEqual(harmonizeNaming({ kind: "Pod" }, "web", { strict: true }).metadata, { name: "web" });
 * ```
 */
export function harmonizeNaming<O extends object>(
  objs: O,
  name: string,
  options: NamingOptions = {},
): WithMetadata<O> {
  const { forced = false, strict = false } = options;
  if (name === "") throw new Error(`Cannot name the objects after "": the name is empty`);
  for (const obj of walk(objs, "harmonizeNaming")) {
    const metadata = metadataOf(obj);
    const named = metadata.name != null || metadata.generateName != null;
    if (named && !forced) continue;
    if (strict) {
      metadata.name = name;
      delete metadata.generateName;
    } else {
      metadata.generateName = `${name}-`;
      delete metadata.name;
    }
  }
  return objs as WithMetadata<O>;
}

/**
 * Puts each object into the namespace, unless it has one already (or even then, if
 * `forced`). An `undefined` namespace (a cluster-scoped owner's) leaves the objects as they
 * are, or, if `forced`, removes their namespaces, as Kopf does.
 *
 * @example Placing children in the owner's namespace
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { adjustNamespace } from "./hierarchies.ts";
 * const [a, b] = adjustNamespace([{}, { metadata: { namespace: "other" } }], "default");
 * deepEqual([a?.metadata?.namespace, b?.metadata?.namespace], ["default", "other"]);
 * ```
 */
export function adjustNamespace<O extends object>(
  objs: O,
  namespace: string | undefined,
  options: NamespaceOptions = {},
): WithMetadata<O> {
  const { forced = false } = options;
  for (const obj of walk(objs, "adjustNamespace")) {
    const existing = bodies.resolve(obj, ["metadata", "namespace"], undefined);
    if (!forced && existing != null) continue;
    if (namespace !== undefined) metadataOf(obj).namespace = namespace;
    else if (bodies.isObject(obj.metadata)) delete obj.metadata.namespace;
  }
  return objs as WithMetadata<O>;
}

/**
 * Makes the objects children of the owner: adds an owner reference (a controller that blocks
 * the owner's deletion), names them after the owner (see {@linkcode harmonizeNaming}), puts
 * them into its namespace and copies its labels, with `nested` to templates too. What the
 * children have already is kept unless `forced`. The owner defaults to the object whose
 * handler is running.
 *
 * As in Kopf, the kinds' scopes are unknown here and not checked: Kubernetes ignores a
 * cluster-scoped child's reference to a namespaced owner (the child is never collected), and
 * treats a reference to an owner in another namespace as absent (the child may be collected).
 *
 * @throws {Error} when there is no owner, or it lacks a field of the owner reference
 *
 * @example Adopting a pod by an explicit owner
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { adopt } from "./hierarchies.ts";
 * const owner = {
 *   apiVersion: "kopf.dev/v1",
 *   kind: "KopfExample",
 *   metadata: { name: "ex1", namespace: "default", uid: "6a1c", labels: { app: "ex" } },
 * };
 * const pod = adopt({ apiVersion: "v1", kind: "Pod", spec: { containers: [] } }, owner);
 * deepEqual(pod.metadata, {
 *   ownerReferences: [{
 *     apiVersion: "kopf.dev/v1",
 *     kind: "KopfExample",
 *     name: "ex1",
 *     uid: "6a1c",
 *     controller: true,
 *     blockOwnerDeletion: true,
 *   }],
 *   generateName: "ex1-",
 *   namespace: "default",
 *   labels: { app: "ex" },
 * });
 * ```
 */
export function adopt<O extends object>(
  objs: O,
  owner?: Owner,
  options: AdoptOptions = {},
): WithMetadata<O> {
  const { forced = false, strict = false, nested = [] } = options;
  const real = ownerOrCurrent(owner, "adopt");
  // Checked before anything changes: the reference needs the name too.
  const { name } = buildOwnerReference(real);
  labelTargets(objs, nested, "adopt");
  const labels = bodies.resolve(real, ["metadata", "labels"], {});
  appendOwnerReference(objs, real);
  harmonizeNaming(objs, name, { forced, strict });
  adjustNamespace(objs, text(real, ["metadata", "namespace"]), { forced });
  label(objs, bodies.isObject(labels) ? strings(labels) : {}, { forced, nested });
  return objs as WithMetadata<O>;
}

/**
 * The type of the objects after a helper: the same, with the metadata fields it may set
 * (an array keeps being an array of such objects).
 */
export type WithMetadata<O> = O extends readonly unknown[] ? { [K in keyof O]: WithMetadata<O[K]> }
  : O & { metadata?: ChildMetadata };

/** The metadata fields the helpers set on children. */
export interface ChildMetadata {
  /** Set by {@linkcode harmonizeNaming} in strict mode. */
  name?: string;
  /** Set by {@linkcode harmonizeNaming}: the owner's name and `-`. */
  generateName?: string;
  /** Set by {@linkcode adjustNamespace}. */
  namespace?: string;
  /** Set by {@linkcode label}. */
  labels?: Record<string, string>;
  /** Set by {@linkcode appendOwnerReference}. */
  ownerReferences?: OwnerReference[];
}

function ownerOrCurrent(
  owner: Owner | undefined,
  fn: string,
): Owner | Readonly<Record<string, unknown>> {
  const real = owner ?? currentOwner.getStore();
  if (real === undefined) {
    throw new Error(`${fn}() needs an owner: pass one, or call it inside a handler`);
  }
  return real;
}

/** The objects to change: one object, or the objects of an array (of arrays). */
function walk(objs: object, fn: string): Record<string, unknown>[] {
  const found = Array.isArray(objs) ? objs.flat(Infinity) : [objs];
  const wrong = found.find((obj) => !bodies.isObject(obj));
  if (wrong !== undefined) {
    throw new TypeError(`${fn}() changes objects and arrays of objects, not ${show(wrong)}`);
  }
  return found as Record<string, unknown>[];
}

function metadataOf(obj: Record<string, unknown>): Record<string, unknown> {
  return objectAt(obj, "metadata", obj);
}

/** The object at `parent[key]`, created if absent; anything else there is an error. */
function objectAt(
  parent: Record<string, unknown>,
  key: string,
  obj: Record<string, unknown>,
): Record<string, unknown> {
  const value = parent[key];
  if (bodies.isObject(value)) return value;
  if (value != null) {
    throw new TypeError(`Cannot change ${describe(obj)}: its ${key} is ${show(value)}`);
  }
  const created: Record<string, unknown> = {};
  parent[key] = created;
  return created;
}

function ownerReferencesOf(obj: Record<string, unknown>, create: boolean): unknown[] {
  const existing = bodies.resolve(obj, ["metadata", "ownerReferences"], undefined);
  if (Array.isArray(existing)) return existing;
  if (existing != null) {
    throw new TypeError(`Cannot change ${describe(obj)}: its ownerReferences is ${show(existing)}`);
  }
  if (!create) return [];
  const created: unknown[] = [];
  metadataOf(obj).ownerReferences = created;
  return created;
}

/** The objects to label: each object, then the objects in its nested fields. */
function labelTargets(
  objs: object,
  nested: string | readonly bodies.FieldSpec[],
  fn: string,
): Record<string, unknown>[] {
  const fields = typeof nested === "string" ? [nested] : nested;
  return walk(objs, fn).flatMap((obj) => [
    obj,
    ...fields.flatMap((field) => nestedObject(obj, field)),
  ]);
}

/** The object in the field, or none if the field is absent; anything else is an error. */
function nestedObject(
  obj: Record<string, unknown>,
  field: bodies.FieldSpec,
): Record<string, unknown>[] {
  const value = bodies.resolve(obj, field, undefined);
  if (bodies.isObject(value)) return [value];
  if (value == null) return [];
  const path = bodies.parseField(field).join(".");
  throw new TypeError(`Cannot change ${describe(obj)}: its ${path} is ${show(value)}`);
}

function text(obj: unknown, path: bodies.FieldPath): string | undefined {
  const value = bodies.resolve(obj, path, undefined);
  return typeof value === "string" && value !== "" ? value : undefined;
}

function strings(labels: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels).filter((entry): entry is [string, string] =>
      typeof entry[1] === "string"
    ),
  );
}

function describe(obj: unknown): string {
  return `"${text(obj, ["kind"]) ?? "?"}/${text(obj, ["metadata", "name"]) ?? "?"}"`;
}

function show(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  const article = typeof value === "object" ? "an" : "a";
  return `${article} ${typeof value} (${JSON.stringify(value)})`;
}
