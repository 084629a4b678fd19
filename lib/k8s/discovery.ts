// Discovery: which resources the cluster serves, and resolving what a user wrote
// ("kopfexamples", "kopfexamples.kopf.dev", "kopfexamples.v1.kopf.dev", a kind, a short name)
// to group/version/plural with scope and subresources. Uses aggregated discovery (one request)
// and falls back to the per-group walk. Cached; refreshed when a name is not found.

import type * as references from "../structs/references.ts";
import * as errors from "./errors.ts";
import type * as transports from "./transport.ts";

/** What a user may write to name a resource, parsed. */
export interface ResourceSpec {
  group?: string | undefined;
  version?: string | undefined;
  /** A plural, singular, kind or short name. */
  name: string;
}

/** The resource cannot be resolved: unknown, or ambiguous between groups. */
export class ResourceNotFoundError extends errors.KubernetesError {
  override name = "ResourceNotFoundError";
}

const AGGREGATED_ACCEPT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList," +
  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

const VERSION = /^v\d+(?:(?:alpha|beta)\d+)?$/;

/**
 * Parses the string forms: `plural`, `plural.group`, `plural.version.group`, and
 * `plural.version` for the core group.
 *
 * @example
 * ```ts
 * import { parseResourceSpec } from "./discovery.ts";
 * parseResourceSpec("kopfexamples.v1.kopf.dev"); // { name: "kopfexamples", version: "v1", group: "kopf.dev" }
 * ```
 */
export function parseResourceSpec(text: string): ResourceSpec {
  const parts = text.trim().split(".");
  const name = parts[0] ?? "";
  if (!name || parts.some((p) => p === "")) {
    throw new ResourceNotFoundError(
      `Cannot parse the resource "${text}": use plural, plural.group or plural.version.group`,
    );
  }
  if (parts.length === 1) return { name };
  if (parts.length === 2 && VERSION.test(parts[1] ?? "")) {
    return { name, version: parts[1], group: "" };
  }
  if (parts.length >= 3 && VERSION.test(parts[1] ?? "")) {
    return { name, version: parts[1], group: parts.slice(2).join(".") };
  }
  return { name, group: parts.slice(1).join(".") };
}

/** A cached view of the served resources. */
export class Discovery {
  readonly #transport: transports.Transport;
  #cache: Promise<references.Resource[]> | undefined;

  constructor(transport: transports.Transport) {
    this.#transport = transport;
  }

  /** Every served resource in every version (subresources folded into their parents). */
  resources(signal?: AbortSignal): Promise<references.Resource[]> {
    if (!this.#cache) {
      const pending = this.#discover(signal);
      this.#cache = pending;
      pending.catch(() => {
        if (this.#cache === pending) this.#cache = undefined; // do not cache failures
      });
    }
    return this.#cache;
  }

  /** Forgets the cache: the next call asks the server again. */
  invalidate(): void {
    this.#cache = undefined;
  }

  /**
   * Resolves a spec to exactly one resource. Without a version, the group's preferred one.
   * Ambiguity between groups is an error unless one of them is the core group (as kubectl).
   * A miss refreshes the cache once, so a CRD created a moment ago is found.
   */
  async resolve(spec: string | ResourceSpec, signal?: AbortSignal): Promise<references.Resource> {
    const parsed = typeof spec === "string" ? parseResourceSpec(spec) : spec;
    let found = select(await this.resources(signal), parsed);
    if (found.length === 0) {
      this.invalidate();
      found = select(await this.resources(signal), parsed);
    }
    const text = typeof spec === "string" ? spec : describe(parsed);
    if (found.length === 0) {
      throw new ResourceNotFoundError(
        `Cannot find the resource "${text}": the cluster does not serve it`,
      );
    }
    const groups = new Set(found.map((r) => r.group));
    if (groups.size > 1) {
      const core = found.filter((r) => r.group === "");
      if (core.length > 0) found = core;
      else {
        const names = [...groups].map((g) => `"${parsed.name}.${g}"`).join(", ");
        throw new ResourceNotFoundError(
          `Cannot choose the resource "${text}": it is ambiguous, name one of ${names}`,
        );
      }
    }
    const preferred = found.find((r) => r.preferred) ?? found[0];
    return preferred as references.Resource;
  }

  async #discover(signal?: AbortSignal): Promise<references.Resource[]> {
    const [core, groups] = await Promise.all([
      this.#transport.request<Record<string, unknown>>("GET", "/api", {
        signal,
        accept: AGGREGATED_ACCEPT,
      }),
      this.#transport.request<Record<string, unknown>>("GET", "/apis", {
        signal,
        accept: AGGREGATED_ACCEPT,
      }),
    ]);
    if (core?.kind === "APIGroupDiscoveryList" && groups?.kind === "APIGroupDiscoveryList") {
      return [...fromAggregated(core), ...fromAggregated(groups)];
    }
    return await this.#walk(core, groups, signal);
  }

  /** The legacy walk: one request per group/version; a failing (aggregated) group is skipped. */
  async #walk(
    core: Record<string, unknown>,
    groups: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<references.Resource[]> {
    const targets: { group: string; version: string; path: string; preferred: boolean }[] = [];
    for (const version of (core?.versions as string[] | undefined) ?? ["v1"]) {
      targets.push({ group: "", version, path: `/api/${version}`, preferred: version === "v1" });
    }
    for (const g of (groups?.groups as LegacyGroup[] | undefined) ?? []) {
      for (const v of g.versions ?? []) {
        targets.push({
          group: g.name,
          version: v.version,
          path: `/apis/${g.name}/${v.version}`,
          preferred: g.preferredVersion?.version === v.version,
        });
      }
    }
    const lists = await Promise.all(targets.map(async (t) => {
      try {
        const list = await this.#transport.request<{ resources?: LegacyResource[] }>(
          "GET",
          t.path,
          { signal },
        );
        return fromLegacy(t.group, t.version, t.preferred, list?.resources ?? []);
      } catch (error) {
        if (signal?.aborted) throw error;
        if (error instanceof errors.ApiError) return []; // e.g. metrics.k8s.io answering 503
        throw error;
      }
    }));
    return lists.flat();
  }
}

interface LegacyGroup {
  name: string;
  versions?: { version: string }[];
  preferredVersion?: { version: string };
}

interface LegacyResource {
  name: string;
  singularName?: string;
  namespaced?: boolean;
  kind?: string;
  verbs?: string[];
  shortNames?: string[];
  categories?: string[];
}

function fromLegacy(
  group: string,
  version: string,
  preferred: boolean,
  items: LegacyResource[],
): references.Resource[] {
  const subresources = new Map<string, string[]>();
  for (const item of items) {
    const [parent, sub] = item.name.split("/", 2);
    if (parent && sub) subresources.set(parent, [...(subresources.get(parent) ?? []), sub]);
  }
  return items.filter((item) => !item.name.includes("/")).map((item) => ({
    group,
    version,
    plural: item.name,
    namespaced: item.namespaced ?? false,
    kind: item.kind ?? "",
    singular: item.singularName || (item.kind ?? "").toLowerCase(),
    shortNames: item.shortNames ?? [],
    categories: item.categories ?? [],
    verbs: item.verbs ?? [],
    subresources: subresources.get(item.name) ?? [],
    preferred,
  }));
}

interface AggregatedResource {
  resource: string;
  responseKind?: { kind?: string };
  scope?: string;
  singularResource?: string;
  verbs?: string[];
  shortNames?: string[];
  categories?: string[];
  subresources?: { subresource: string }[];
}

function fromAggregated(list: Record<string, unknown>): references.Resource[] {
  const result: references.Resource[] = [];
  const items =
    (list.items as { metadata?: { name?: string }; versions?: unknown[] }[] | undefined) ?? [];
  for (const item of items) {
    const group = item.metadata?.name ?? "";
    // Versions come in preference order: the first one is the preferred version.
    (item.versions as { version: string; resources?: AggregatedResource[] }[] | undefined ?? [])
      .forEach((v, index) => {
        for (const r of v.resources ?? []) {
          result.push({
            group,
            version: v.version,
            plural: r.resource,
            namespaced: r.scope === "Namespaced",
            kind: r.responseKind?.kind ?? "",
            singular: r.singularResource || (r.responseKind?.kind ?? "").toLowerCase(),
            shortNames: r.shortNames ?? [],
            categories: r.categories ?? [],
            verbs: r.verbs ?? [],
            subresources: (r.subresources ?? []).map((s) => s.subresource),
            preferred: index === 0,
          });
        }
      });
  }
  return result;
}

function select(resources: references.Resource[], spec: ResourceSpec): references.Resource[] {
  const name = spec.name.toLowerCase();
  return resources.filter((r) =>
    (spec.group === undefined || r.group === spec.group) &&
    (spec.version === undefined || r.version === spec.version) &&
    (r.plural === name || r.singular === name || r.kind?.toLowerCase() === name ||
      (r.shortNames ?? []).includes(name))
  );
}

function describe(spec: ResourceSpec): string {
  return [spec.name, spec.version, spec.group].filter((p) => p !== undefined && p !== "").join(".");
}
