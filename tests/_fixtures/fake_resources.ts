// What the fake API server serves: the built-in resources, the resources a
// CustomResourceDefinition defines (and the status a CRD gets), and the discovery documents.
// Per-kind rules that the generic write path cannot know live here too (namespaces, secrets, CRDs).

import type { FieldError, Json } from "./fake_statuses.ts";
import { isObject } from "./fake_patches.ts";

/** A resource to serve, as callers of the fixture describe it. */
export interface FakeResource {
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  singular?: string;
  shortNames?: readonly string[];
  /** Subresources, e.g. `["status"]`. */
  subresources?: readonly string[];
}

/** A served resource with everything the fake needs to know filled in. */
export interface ResourceInfo {
  group: string;
  version: string;
  plural: string;
  kind: string;
  listKind: string;
  namespaced: boolean;
  singular: string;
  shortNames: string[];
  subresources: string[];
  categories: string[];
  /** Built into kube-apiserver: strategic merge patch, unconditional PUT, no generation. */
  builtin: boolean;
  tracksGeneration: boolean;
  fieldSelectors: string[];
  /** The CustomResourceDefinition that defines it, if any. */
  crd?: string;
}

export const CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io";
const META_FIELDS = ["metadata.name", "metadata.namespace"];

/**
 * Fills in the defaults of a caller's resource. One in the core group or in a group without a
 * dot (`apps`, `batch`) is built in, since a CRD cannot define it; any other is a custom resource.
 */
export function complete(r: FakeResource, extra: Partial<ResourceInfo> = {}): ResourceInfo {
  const builtin = r.group === "" || !r.group.includes(".");
  return {
    group: r.group,
    version: r.version,
    plural: r.plural,
    kind: r.kind,
    listKind: `${r.kind}List`,
    namespaced: r.namespaced,
    singular: r.singular ?? r.kind.toLowerCase(),
    shortNames: [...(r.shortNames ?? [])],
    subresources: [...(r.subresources ?? [])],
    categories: [],
    builtin,
    tracksGeneration: !builtin,
    fieldSelectors: META_FIELDS,
    ...extra,
  };
}

function builtin(r: FakeResource, extra: Partial<ResourceInfo> = {}): ResourceInfo {
  return complete(r, { builtin: true, tracksGeneration: false, ...extra });
}

/** The resources every fake serves from the start. */
export function builtins(): ResourceInfo[] {
  return [
    builtin(
      { group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false },
      {
        shortNames: ["ns"],
        subresources: ["status"],
        fieldSelectors: [...META_FIELDS, "status.phase"],
      },
    ),
    builtin(
      { group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true },
      { shortNames: ["cm"] },
    ),
    builtin(
      { group: "", version: "v1", plural: "secrets", kind: "Secret", namespaced: true },
      { fieldSelectors: [...META_FIELDS, "type"] },
    ),
    builtin(
      { group: "", version: "v1", plural: "events", kind: "Event", namespaced: true },
      {
        shortNames: ["ev"],
        fieldSelectors: [
          ...META_FIELDS,
          ...["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"]
            .map((f) => `involvedObject.${f}`),
          "reason",
          "reportingComponent",
          "source",
          "type",
        ],
      },
    ),
    builtin(
      { group: "events.k8s.io", version: "v1", plural: "events", kind: "Event", namespaced: true },
      { shortNames: ["ev"] },
    ),
    builtin({
      group: "coordination.k8s.io",
      version: "v1",
      plural: "leases",
      kind: "Lease",
      namespaced: true,
    }),
    builtin(
      {
        group: "apiextensions.k8s.io",
        version: "v1",
        plural: "customresourcedefinitions",
        kind: "CustomResourceDefinition",
        namespaced: false,
      },
      {
        shortNames: ["crd", "crds"],
        subresources: ["status"],
        categories: ["api-extensions"],
        tracksGeneration: true,
      },
    ),
  ];
}

export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export function isCrd(r: ResourceInfo): boolean {
  return r.group === "apiextensions.k8s.io" && r.plural === "customresourcedefinitions";
}

export function isNamespaces(r: ResourceInfo): boolean {
  return r.group === "" && r.plural === "namespaces";
}

// Kubernetes version priority: GA before beta before alpha, higher numbers first, then others.
function versionRank(v: string): [number, number, number, string] {
  const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
  if (!m) return [3, 0, 0, v];
  const stage = m[2] === undefined ? 0 : m[2] === "beta" ? 1 : 2;
  return [stage, -Number(m[1]), -Number(m[3] ?? 0), v];
}

/** Sorts versions the way discovery lists them, preferred first. */
export function byVersionPriority(a: string, b: string): number {
  const ra = versionRank(a);
  const rb = versionRank(b);
  for (let i = 0; i < 3; i++) {
    const d = (ra[i] as number) - (rb[i] as number);
    if (d !== 0) return d;
  }
  return ra[3] < rb[3] ? -1 : ra[3] > rb[3] ? 1 : 0;
}

// ---- CustomResourceDefinitions ----

interface CrdSpec {
  group: string;
  scope: string;
  names: Json;
  versions: Json[];
}

function specOf(crd: Json): CrdSpec {
  const spec = isObject(crd.spec) ? crd.spec : {};
  return {
    group: typeof spec.group === "string" ? spec.group : "",
    scope: typeof spec.scope === "string" ? spec.scope : "",
    names: isObject(spec.names) ? spec.names : {},
    versions: Array.isArray(spec.versions) ? spec.versions.filter(isObject) : [],
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((x): x is string => typeof x === "string") : [];
}

/** The validation errors of a CRD the fake cares about (a subset of the real checks). */
export function validateCrd(crd: Json): FieldError[] {
  const { group, scope, names, versions } = specOf(crd);
  const errors: FieldError[] = [];
  const required = (field: string) =>
    errors.push({ type: "FieldValueRequired", field, detail: "" });
  if (!group) required("spec.group");
  if (typeof names.plural !== "string" || !names.plural) required("spec.names.plural");
  if (typeof names.kind !== "string" || !names.kind) required("spec.names.kind");
  if (scope !== "Namespaced" && scope !== "Cluster") {
    errors.push({
      type: "FieldValueNotSupported",
      field: "spec.scope",
      detail: "",
      value: scope,
      supported: ["Cluster", "Namespaced"],
    });
  }
  if (versions.length === 0) {
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.versions",
      value: [],
      detail: "must have exactly one version marked as storage version",
    });
  } else if (versions.filter((v) => v.storage === true).length !== 1) {
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.versions",
      value: versions.map((v) => v.name),
      detail: "must have exactly one version marked as storage version",
    });
  }
  const name = (crd.metadata as Json | undefined)?.name;
  if (group && typeof names.plural === "string" && name !== `${names.plural}.${group}`) {
    errors.push({
      type: "FieldValueInvalid",
      field: "metadata.name",
      value: name,
      detail: `must be spec.names.plural+"."+spec.group`,
    });
  }
  return errors;
}

/** The resources a valid CRD serves: one per served version. */
export function resourcesOf(crd: Json): ResourceInfo[] {
  const { group, scope, names, versions } = specOf(crd);
  const kind = String(names.kind ?? "");
  const name = String((crd.metadata as Json | undefined)?.name ?? "");
  return versions.filter((v) => v.served !== false).map((v) => {
    const sub = isObject(v.subresources) ? v.subresources : {};
    return complete({
      group,
      version: String(v.name ?? ""),
      plural: String(names.plural ?? ""),
      kind,
      namespaced: scope === "Namespaced",
      singular: typeof names.singular === "string" && names.singular
        ? names.singular
        : kind.toLowerCase(),
      shortNames: strings(names.shortNames),
      subresources: Object.hasOwn(sub, "status") ? ["status"] : [],
    }, {
      listKind: typeof names.listKind === "string" && names.listKind
        ? names.listKind
        : `${kind}List`,
      categories: strings(names.categories),
      crd: name,
    });
  });
}

/** The version CRs are stored in. */
export function storageVersionOf(crd: Json): string {
  const v = specOf(crd).versions.find((x) => x.storage === true);
  return String(v?.name ?? "");
}

/**
 * The status the CRD controllers would settle on: names accepted, established, stored version.
 * Condition timestamps survive from the previous status so no-op writes stay no-ops.
 */
export function crdStatus(crd: Json, previous: unknown, now: string): Json {
  const { names } = specOf(crd);
  const kind = String(names.kind ?? "");
  const accepted: Json = {
    plural: names.plural,
    singular: typeof names.singular === "string" && names.singular
      ? names.singular
      : kind.toLowerCase(),
    kind,
    listKind: typeof names.listKind === "string" && names.listKind ? names.listKind : `${kind}List`,
  };
  if (strings(names.shortNames).length) accepted.shortNames = strings(names.shortNames);
  if (strings(names.categories).length) accepted.categories = strings(names.categories);
  const old = isObject(previous) && Array.isArray(previous.conditions)
    ? previous.conditions.filter(isObject)
    : [];
  const since = (type: string) =>
    old.find((c) => c.type === type && c.status === "True")?.lastTransitionTime ?? now;
  const conditions: Json[] = [
    {
      type: "NamesAccepted",
      status: "True",
      lastTransitionTime: since("NamesAccepted"),
      reason: "NoConflicts",
      message: "no conflicts found",
    },
    {
      type: "Established",
      status: "True",
      lastTransitionTime: since("Established"),
      reason: "InitialNamesAccepted",
      message: "the initial names have been accepted",
    },
  ];
  const terminating = old.find((c) => c.type === "Terminating");
  if (terminating) conditions.push(terminating);
  const stored = isObject(previous) ? strings(previous.storedVersions) : [];
  const storage = storageVersionOf(crd);
  if (storage && !stored.includes(storage)) stored.push(storage);
  return { conditions, acceptedNames: accepted, storedVersions: stored };
}

// ---- Per-kind defaults ----

/** Defaults the real registries apply to a new or updated object of a built-in kind. */
export function applyDefaults(r: ResourceInfo, object: Json, creating: boolean): void {
  const metadata = object.metadata as Json;
  if (isNamespaces(r)) {
    const labels = isObject(metadata.labels) ? metadata.labels : {};
    metadata.labels = { ...labels, "kubernetes.io/metadata.name": metadata.name };
    const spec = isObject(object.spec) ? object.spec : {};
    if (creating) object.spec = { ...spec, finalizers: ["kubernetes"] };
    if (creating) object.status = { phase: "Active" };
  } else if (r.group === "" && r.plural === "secrets") {
    if (typeof object.type !== "string" || !object.type) object.type = "Opaque";
  }
}

// ---- Discovery documents ----

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/** `APIResourceList` for one group/version, with `plural/status` entries for subresources. */
export function apiResourceList(groupVersion: string, resources: ResourceInfo[]): Json {
  const entries: Json[] = [];
  for (const r of resources) {
    const entry: Json = {
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: VERBS,
    };
    if (r.shortNames.length) entry.shortNames = r.shortNames;
    if (r.categories.length) entry.categories = r.categories;
    entries.push(entry);
    for (const sub of r.subresources) {
      entries.push({
        name: `${r.plural}/${sub}`,
        singularName: "",
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ["get", "patch", "update"],
      });
    }
  }
  const list: Json = { kind: "APIResourceList" };
  if (groupVersion !== "v1") list.apiVersion = "v1";
  list.groupVersion = groupVersion;
  list.resources = entries;
  return list;
}

/** The `APIGroup` entry of a group: its versions, preferred first. */
export function apiGroup(name: string, versions: string[]): Json {
  const sorted = [...versions].sort(byVersionPriority);
  const entries = sorted.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: entries, preferredVersion: entries[0] };
}

/** An object as served through `r`: stored once, shown in the requested version. */
export function viewOf(r: ResourceInfo, object: Json): Json {
  const apiVersion = apiVersionOf(r);
  return object.apiVersion === apiVersion ? object : { ...object, apiVersion };
}

/** A `metav1.Time`: RFC 3339 in UTC without fractions, as the API server writes it. */
export function timestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
