// References to API resources (group, version, plural, scope) and to single objects.
// Pure data and string-building; no I/O. Discovery in `k8s/` fills these in.

/** A served API resource, as discovery describes it. */
export interface Resource {
  /** `""` for the core group. */
  readonly group: string;
  readonly version: string;
  /** The plural name used in URLs: `configmaps`, `kopfexamples`. */
  readonly plural: string;
  /** Namespaced (true) or cluster-scoped (false). */
  readonly namespaced: boolean;
  readonly kind?: string;
  readonly singular?: string;
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  /** Subresources the server offers, e.g. `status`, `scale`. */
  readonly subresources?: readonly string[];
  readonly verbs?: readonly string[];
  /** Whether this version is the group's preferred one. */
  readonly preferred?: boolean;
}

/** `apps/v1` or `v1` for the core group. */
export function apiVersion(resource: Pick<Resource, "group" | "version">): string {
  return resource.group ? `${resource.group}/${resource.version}` : resource.version;
}

/** `kopfexamples.v1.kopf.dev` or `configmaps.v1`: a unique, human-readable name. */
export function fullName(resource: Pick<Resource, "group" | "version" | "plural">): string {
  return resource.group
    ? `${resource.plural}.${resource.version}.${resource.group}`
    : `${resource.plural}.${resource.version}`;
}

/**
 * The path of a collection or of one object: `/api/v1/namespaces/ns/configmaps/name/status`.
 * Namespace is ignored for cluster-scoped resources; omit it to address all namespaces.
 */
export function path(
  resource: Pick<Resource, "group" | "version" | "plural" | "namespaced">,
  options: {
    namespace?: string | undefined;
    name?: string | undefined;
    subresource?: string | undefined;
  } = {},
): string {
  const base = resource.group
    ? `/apis/${resource.group}/${resource.version}`
    : `/api/${resource.version}`;
  const ns = resource.namespaced && options.namespace
    ? `/namespaces/${encodeURIComponent(options.namespace)}`
    : "";
  let result = `${base}${ns}/${resource.plural}`;
  if (options.name !== undefined) {
    result += `/${encodeURIComponent(options.name)}`;
    if (options.subresource) result += `/${options.subresource}`;
  }
  return result;
}
