// Reads of the fake API server: get, list (the resourceVersion table of api-concepts, limit and
// continue over a consistent snapshot) and watch (initial events, resumption, bookmarks, the 410
// ERROR event), validated as kube-apiserver 1.37 does with WatchList on.

import * as resources from "./fake_resources.ts";
import type { ResourceInfo } from "./fake_resources.ts";
import * as selectors from "./fake_selectors.ts";
import * as statuses from "./fake_statuses.ts";
import type { FieldError, Json } from "./fake_statuses.ts";
import type { Collection, Storage } from "./fake_storage.ts";
import type { BodyStream } from "./fake_http.ts";
import { Watch } from "./fake_watches.ts";

/** What a read addresses: a resource, and a namespace and name when the URL has them. */
export interface ReadTarget {
  resource: ResourceInfo;
  collection: Collection;
  namespace: string | undefined;
  name: string | undefined;
}

interface ListOptions {
  watch: boolean;
  resourceVersion: string;
  resourceVersionMatch: string;
  limit: number;
  continue: string;
  labelSelector: string;
  fieldSelector: string;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean | undefined;
  timeoutSeconds: number | undefined;
}

const EXPIRED_LIST = "The resourceVersion for the provided list is too old.";
const INCONSISTENT_CONTINUE = "The provided continue parameter is too old to display a " +
  "consistent list result. You can start a new list without the continue parameter, or use " +
  "the continue token in this response to retrieve the remainder of the results. Continuing " +
  "with the provided token results in an inconsistent list - objects that were created, " +
  "modified, or deleted between the time the first chunk was returned and now may show up in " +
  "the list.";

/** Go's strconv.ParseBool, which the parameter codec uses. */
export function parseBool(name: string, value: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  throw statuses.badRequest(
    `${name}: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`,
  );
}

function parseInteger(name: string, value: string | null): number | undefined {
  if (value === null || value === "") return undefined;
  if (!/^-?\d+$/.test(value)) {
    throw statuses.badRequest(
      `${name}: strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`,
    );
  }
  return Number(value);
}

/** A resourceVersion parameter as a number; not a number is a 400. */
export function parseResourceVersion(value: string): number {
  if (!/^\d+$/.test(value)) {
    throw statuses.badRequest(`invalid resource version: ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function parseOptions(query: URLSearchParams): ListOptions {
  const flag = (name: string) => {
    const value = query.get(name);
    return value === null ? undefined : parseBool(name, value);
  };
  const options: ListOptions = {
    watch: flag("watch") ?? false,
    resourceVersion: query.get("resourceVersion") ?? "",
    resourceVersionMatch: query.get("resourceVersionMatch") ?? "",
    limit: Math.max(0, parseInteger("limit", query.get("limit")) ?? 0),
    continue: query.get("continue") ?? "",
    labelSelector: query.get("labelSelector") ?? "",
    fieldSelector: query.get("fieldSelector") ?? "",
    allowWatchBookmarks: flag("allowWatchBookmarks") ?? false,
    sendInitialEvents: flag("sendInitialEvents"),
    timeoutSeconds: parseInteger("timeoutSeconds", query.get("timeoutSeconds")),
  };
  // SetListOptionsDefaults with WatchList on: a legacy watch from "" or "0" streams a list.
  if (
    options.watch && options.sendInitialEvents === undefined &&
    options.resourceVersionMatch === "" &&
    (options.resourceVersion === "" || options.resourceVersion === "0")
  ) {
    options.sendInitialEvents = true;
    options.resourceVersionMatch = "NotOlderThan";
  }
  const errors = options.watch ? validateWatch(options) : validateList(options);
  if (errors.length > 0) {
    throw statuses.invalid({ group: "meta.k8s.io", kind: "ListOptions" }, "", errors);
  }
  return options;
}

function forbidden(field: string, detail: string): FieldError {
  return { type: "FieldValueForbidden", field, detail };
}

function validateList(o: ListOptions): FieldError[] {
  const errors: FieldError[] = [];
  const match = o.resourceVersionMatch;
  if (match) {
    if (!o.resourceVersion) {
      errors.push(
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden unless resourceVersion is provided",
        ),
      );
    }
    if (o.continue) {
      errors.push(
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden when continue is provided",
        ),
      );
    }
    if (match !== "Exact" && match !== "NotOlderThan") {
      errors.push({
        type: "FieldValueNotSupported",
        field: "resourceVersionMatch",
        detail: "",
        value: match,
        supported: ["Exact", "NotOlderThan", ""],
      });
    }
    if (match === "Exact" && o.resourceVersion === "0") {
      errors.push(
        forbidden(
          "resourceVersionMatch",
          `resourceVersionMatch "exact" is forbidden for resourceVersion "0"`,
        ),
      );
    }
  }
  if (o.sendInitialEvents !== undefined) {
    errors.push(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
  }
  return errors;
}

function validateWatch(o: ListOptions): FieldError[] {
  const errors: FieldError[] = [];
  const match = o.resourceVersionMatch;
  if (o.sendInitialEvents !== undefined && match !== "NotOlderThan") {
    errors.push(
      forbidden(
        "resourceVersionMatch",
        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
      ),
    );
  }
  if (match) {
    if (o.sendInitialEvents === undefined) {
      errors.push(
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
      );
    }
    if (match !== "NotOlderThan") {
      errors.push({
        type: "FieldValueNotSupported",
        field: "resourceVersionMatch",
        detail: "",
        value: match,
        supported: ["NotOlderThan"],
      });
    }
    if (o.continue) {
      errors.push(
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden when continue is provided",
        ),
      );
    }
  }
  return errors;
}

// Namespace, name and both selectors as one predicate.
function predicate(target: ReadTarget, o: ListOptions): selectors.Predicate {
  const labels = selectors.labelSelector(o.labelSelector);
  const fields = selectors.fieldSelector(o.fieldSelector, target.resource.fieldSelectors);
  const { namespace, name } = target;
  return (object) => {
    const metadata = object.metadata as Json;
    if (namespace !== undefined && metadata.namespace !== namespace) return false;
    if (name !== undefined && metadata.name !== name) return false;
    return labels(object) && fields(object);
  };
}

function sortedKeys(state: Map<string, Json>, namespace: string | undefined): string[] {
  const prefix = namespace === undefined ? "" : `${namespace}/`;
  const keys: string[] = [];
  for (const key of state.keys()) if (key.startsWith(prefix)) keys.push(key);
  return keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function encodeContinue(rv: number, start: string): string {
  const text = JSON.stringify({ v: "meta.k8s.io/v1", rv, start });
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const padded = token.replace(/-/g, "+").replace(/_/g, "/") +
      "=".repeat((4 - (token.length % 4)) % 4);
    const data = JSON.parse(atob(padded));
    if (
      data.v === "meta.k8s.io/v1" && Number.isInteger(data.rv) && typeof data.start === "string"
    ) {
      return { rv: data.rv, start: data.start };
    }
  } catch {
    // Reported below.
  }
  throw statuses.badRequest(
    "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
  );
}

/** GET of one object; resourceVersion "0" and unset read the latest, "X" must not be in the future. */
export function get(storage: Storage, target: ReadTarget, query: URLSearchParams): Json {
  const rv = query.get("resourceVersion") ?? "";
  if (rv !== "" && rv !== "0") {
    const wanted = parseResourceVersion(rv);
    if (wanted > storage.rv) throw statuses.tooLargeResourceVersion(wanted, storage.rv);
  }
  const name = target.name ?? "";
  const key = target.namespace ? `${target.namespace}/${name}` : name;
  const object = target.collection.objects.get(key);
  if (!object) {
    throw statuses.notFound(
      { group: target.resource.group, resource: target.resource.plural },
      name,
    );
  }
  return resources.viewOf(target.resource, object);
}

/** LIST with selectors, the resourceVersion table and paging. */
export function list(storage: Storage, target: ReadTarget, query: URLSearchParams): Json {
  const o = parseOptions(query);
  const matches = predicate(target, o);
  const collection = target.collection;
  let rv = storage.rv;
  let start = "";
  if (o.continue) {
    if (o.resourceVersion !== "" && o.resourceVersion !== "0") {
      throw statuses.badRequest("specifying resource version is not allowed when using continue");
    }
    const token = decodeContinue(o.continue);
    if (token.rv !== -1 && storage.tooOld(collection, token.rv)) {
      throw statuses.expired(INCONSISTENT_CONTINUE, encodeContinue(-1, token.start));
    }
    if (token.rv !== -1) rv = token.rv;
    start = token.start;
  } else if (o.resourceVersion !== "" && o.resourceVersion !== "0") {
    const wanted = parseResourceVersion(o.resourceVersion);
    if (wanted > storage.rv) throw statuses.tooLargeResourceVersion(wanted, storage.rv);
    const exact = o.resourceVersionMatch === "Exact" ||
      (o.resourceVersionMatch === "" && o.limit > 0);
    if (exact) {
      if (storage.tooOld(collection, wanted)) throw statuses.expired(EXPIRED_LIST);
      rv = wanted;
    }
  }
  const state = rv === storage.rv ? collection.objects : collection.snapshot(rv);
  const keys = sortedKeys(state, target.namespace);
  const items: Json[] = [];
  let last = -1;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] ?? "";
    if (start && key < start) continue;
    const object = state.get(key);
    if (!object || !matches(object)) continue;
    items.push(resources.viewOf(target.resource, object));
    last = i;
    if (o.limit > 0 && items.length >= o.limit) break;
  }
  const metadata: Json = { resourceVersion: String(rv) };
  if (o.limit > 0 && items.length >= o.limit && last < keys.length - 1) {
    metadata.continue = encodeContinue(rv, `${keys[last]}\u0000`);
    if (!o.labelSelector && !o.fieldSelector) metadata.remainingItemCount = keys.length - last - 1;
  }
  return {
    kind: target.resource.listKind,
    apiVersion: resources.apiVersionOf(target.resource),
    metadata,
    items,
  };
}

/**
 * WATCH: validates, then streams into `body`. Initial events and the end bookmark when
 * sendInitialEvents (explicit, or defaulted for "" and "0"); otherwise the retained changes after
 * the given resourceVersion, or one ERROR 410 event when they are no longer retained.
 */
export function watch(
  storage: Storage,
  target: ReadTarget,
  query: URLSearchParams,
  body: BodyStream,
  dropAfterEvents: number | undefined,
): Watch {
  const o = parseOptions(query);
  const matches = predicate(target, o);
  const r = target.resource;
  const collection = target.collection;
  const stream = new Watch(body, {
    kind: r.kind,
    apiVersion: resources.apiVersionOf(r),
    matches,
    bookmarks: o.allowWatchBookmarks,
    ...(dropAfterEvents === undefined ? {} : { dropAfterEvents }),
  });
  const fromRV = o.resourceVersion === "" || o.resourceVersion === "0"
    ? undefined
    : parseResourceVersion(o.resourceVersion);
  if (o.sendInitialEvents === true) {
    const state = collection.objects;
    for (const key of sortedKeys(state, target.namespace)) {
      const object = state.get(key);
      if (object && matches(object)) stream.added(object);
    }
    if (o.allowWatchBookmarks) stream.bookmark(storage.rv, true);
  } else if (fromRV !== undefined) {
    if (storage.tooOld(collection, fromRV)) {
      const oldest = storage.oldestResumable(collection);
      stream.error(statuses.expired(`too old resource version: ${fromRV} (${oldest})`).status);
      return stream;
    }
    for (const change of collection.since(fromRV)) stream.deliver(change);
  }
  stream.subscribe(collection);
  if (o.timeoutSeconds !== undefined && o.timeoutSeconds > 0) stream.endAfter(o.timeoutSeconds);
  return stream;
}

/** Whether the query asks for a watch (`watch=1|true`). */
export function isWatch(query: URLSearchParams): boolean {
  const value = query.get("watch");
  if (value === null) return false;
  try {
    return parseBool("watch", value);
  } catch {
    return false;
  }
}
