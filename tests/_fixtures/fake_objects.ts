// Object-level rules shared by every write of the fake API server: decoding the body, checking
// apiVersion/kind/name/namespace against the URL, name validation and generateName, dry runs.
// kube-apiserver applies these in its handlers and generic registry before any storage write.

import { isObject } from "./fake_patches.ts";
import * as resources from "./fake_resources.ts";
import type { ResourceInfo } from "./fake_resources.ts";
import * as statuses from "./fake_statuses.ts";
import type { FieldError, Json } from "./fake_statuses.ts";

const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function gr(r: ResourceInfo): statuses.GroupResource {
  return { group: r.group, resource: r.plural };
}

export function gk(r: ResourceInfo): statuses.GroupKind {
  return { group: r.group, kind: r.kind };
}

/** Parses a request body; malformed JSON is a 400 as in the real decoder. */
export function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw statuses.badRequest(
      `couldn't get version/kind; json parse error: ${(e as Error).message}`,
    );
  }
}

export function metadataOf(object: Json): Json {
  if (object.metadata === undefined || object.metadata === null) object.metadata = {};
  if (!isObject(object.metadata)) throw statuses.badRequest("metadata must be an object");
  return object.metadata;
}

/** Checks apiVersion and kind against the URL, then fills them in (on a copy). */
export function typed(r: ResourceInfo, body: unknown): Json {
  if (!isObject(body)) throw statuses.badRequest("Object 'Kind' is missing in the request body");
  const object = structuredClone(body);
  const apiVersion = resources.apiVersionOf(r);
  if (object.apiVersion !== undefined && object.apiVersion !== apiVersion) {
    throw statuses.badRequest(
      `the API version in the data (${object.apiVersion}) does not match the expected API version (${apiVersion})`,
    );
  }
  if (object.kind !== undefined && object.kind !== r.kind) {
    throw statuses.badRequest(
      `the kind in the data (${object.kind}) does not match the expected kind (${r.kind})`,
    );
  }
  return { ...object, apiVersion, kind: r.kind, metadata: metadataOf(object) };
}

export function matchNamespace(
  r: ResourceInfo,
  namespace: string | undefined,
  metadata: Json,
): void {
  if (!r.namespaced) {
    delete metadata.namespace;
  } else if (metadata.namespace === undefined || metadata.namespace === "") {
    metadata.namespace = namespace;
  } else if (metadata.namespace !== namespace) {
    throw statuses.badRequest(
      "the namespace of the provided object does not match the namespace sent on the request",
    );
  }
}

export function checkName(metadata: Json, name: string | undefined): void {
  if (metadata.name !== name) {
    throw statuses.badRequest(
      `the name of the object (${metadata.name ?? ""}) does not match the name on the URL (${
        name ?? ""
      })`,
    );
  }
}

export function nameErrors(r: ResourceInfo, name: string): FieldError[] {
  const label = resources.isNamespaces(r);
  const max = label ? 63 : 253;
  const errors: FieldError[] = [];
  if (name.length > max) {
    errors.push({
      type: "FieldValueInvalid",
      field: "metadata.name",
      value: name,
      detail: `must be no more than ${max} characters`,
    });
  }
  if (!(label ? DNS_LABEL : DNS_SUBDOMAIN).test(name)) {
    const detail = label
      ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
      : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    errors.push({ type: "FieldValueInvalid", field: "metadata.name", value: name, detail });
  }
  return errors;
}

export function generatedName(base: string): string {
  let suffix = "";
  for (let i = 0; i < 5; i++) {
    suffix += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
  }
  return base.slice(0, 58) + suffix;
}

/** `dryRun` accepts only "All"; anything else is Invalid like the real options validation. */
export function isDryRun(query: URLSearchParams, options: string): boolean {
  const values = query.getAll("dryRun");
  const bad = values.find((v) => v !== "All");
  if (bad !== undefined) {
    throw statuses.invalid({ group: "meta.k8s.io", kind: options }, "", [
      {
        type: "FieldValueNotSupported",
        field: "dryRun",
        detail: "",
        value: bad,
        supported: ["All"],
      },
    ]);
  }
  return values.length > 0;
}

export function finalizersOf(object: Json): string[] {
  const list = (object.metadata as Json).finalizers;
  return Array.isArray(list) ? list.map(String) : [];
}

/** POST to a collection. */
