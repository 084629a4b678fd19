// URL shapes of the Kubernetes API, as kube-apiserver's RequestInfoFactory reads them: discovery,
// /version, and resource paths (collection, object, subresource; namespaced or not), plus the verb
// each request counts as, which fault matching and request recording use.

/** The verb a request counts as. */
export type Verb =
  | "get"
  | "list"
  | "watch"
  | "create"
  | "update"
  | "patch"
  | "delete"
  | "deletecollection"
  | "discovery";

/** A resource path: collection, object or subresource, namespaced or not. */
export interface ResourceRoute {
  kind: "resource";
  group: string;
  version: string;
  namespace?: string;
  plural: string;
  name?: string;
  subresource?: string;
}

export type Route =
  | { kind: "version" }
  | { kind: "discovery"; prefix: "api" | "apis"; group?: string; version?: string }
  | ResourceRoute
  | { kind: "unknown"; api: boolean };

// Subresources of a namespace, which `namespaces/{name}/{x}` means instead of a collection.
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

function segments(path: string): string[] | undefined {
  try {
    return path.split("/").filter((s) => s !== "").map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function resourceRoute(group: string, version: string, rest: string[]): Route {
  let namespace: string | undefined;
  let parts = rest;
  if (
    parts[0] === "namespaces" && parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2] ?? "")
  ) {
    namespace = parts[1];
    parts = parts.slice(2);
  }
  const [plural, name, subresource] = parts;
  if (plural === undefined || parts.length > 3) return { kind: "unknown", api: true };
  const route: ResourceRoute = { kind: "resource", group, version, plural };
  if (namespace !== undefined) route.namespace = namespace;
  if (name !== undefined) route.name = name;
  if (subresource !== undefined) route.subresource = subresource;
  return route;
}

/** Reads a request path (still percent-encoded) into a route. */
export function parse(path: string): Route {
  const parts = segments(path);
  if (parts === undefined) return { kind: "unknown", api: false };
  const [root, a, b, ...rest] = parts;
  if (root === "version" && parts.length === 1) return { kind: "version" };
  if (root === "api") {
    if (a === undefined) return { kind: "discovery", prefix: "api" };
    if (b === undefined) return { kind: "discovery", prefix: "api", version: a };
    return resourceRoute("", a, [b, ...rest]);
  }
  if (root === "apis") {
    if (a === undefined) return { kind: "discovery", prefix: "apis" };
    if (b === undefined) return { kind: "discovery", prefix: "apis", group: a };
    if (rest.length === 0) return { kind: "discovery", prefix: "apis", group: a, version: b };
    return resourceRoute(a, b, rest);
  }
  return { kind: "unknown", api: false };
}

const METHOD_VERBS: Record<string, Verb> = {
  GET: "get",
  POST: "create",
  PUT: "update",
  PATCH: "patch",
  DELETE: "delete",
};

/** The verb of a request, as RBAC and audit would name it. */
export function verbOf(method: string, route: Route, watching: boolean): Verb {
  if (route.kind === "version" || route.kind === "discovery") return "discovery";
  if (route.kind === "resource") {
    if (method === "GET") {
      if (watching) return "watch";
      return route.name === undefined ? "list" : "get";
    }
    if (method === "DELETE" && route.name === undefined) return "deletecollection";
  }
  return METHOD_VERBS[method] ?? "get";
}
