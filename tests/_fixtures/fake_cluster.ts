// The state behind the fake API server: which resources are served (built-ins, added ones, and
// those CRDs define), their storage, discovery documents, and the loops kube-apiserver runs
// after a write (serving and cleaning up CRDs, finishing namespaces that are terminating).

import * as deletes from "./fake_deletes.ts";
import * as resources from "./fake_resources.ts";
import type { ResourceInfo } from "./fake_resources.ts";
import type { ResourceRoute, Route } from "./fake_routes.ts";
import * as statuses from "./fake_statuses.ts";
import type { Json } from "./fake_statuses.ts";
import { Storage } from "./fake_storage.ts";
import type { Change, ChangeType, Collection } from "./fake_storage.ts";
import * as writes from "./fake_writes.ts";

/** Served resources and their objects; what the write path calls a cluster. */
export class Cluster implements writes.Cluster {
  readonly storage: Storage;
  #resources = new Map<string, ResourceInfo>();
  #collections = new Map<string, Collection>();
  #cleaningUp = new Set<string>();

  constructor(historyLimit: number) {
    this.storage = new Storage(historyLimit);
    for (const r of resources.builtins()) this.serve(r);
    const namespaces = this.#target("", "namespaces");
    for (const name of ["default", "kube-system"]) {
      writes.create(this, namespaces, { metadata: { name } }, new URLSearchParams());
    }
  }

  /** Serves a resource (another version of a served one shares its objects). */
  serve(r: ResourceInfo): void {
    this.#resources.set(`${r.group}/${r.version}/${r.plural}`, r);
    const id = `${r.group}/${r.plural}`;
    if (!this.#collections.has(id)) this.#collections.set(id, this.storage.newCollection());
  }

  /** Stops serving every version of a resource; its objects go and its watches end. */
  unserve(group: string, plural: string): void {
    for (const [id, r] of this.#resources) {
      if (r.group === group && r.plural === plural) this.#resources.delete(id);
    }
    this.#collections.get(`${group}/${plural}`)?.close();
    this.#collections.delete(`${group}/${plural}`);
  }

  compact(): void {
    this.storage.compact(this.#collections.values());
  }

  /** Copies of the stored objects of a resource found by plural, in key order. */
  objects(plural: string, namespace?: string): Json[] {
    const r = [...this.#resources.values()].find((x) => x.plural === plural);
    const collection = r && this.#collections.get(`${r.group}/${r.plural}`);
    if (!r || !collection) return [];
    return [...collection.objects.entries()]
      .filter(([, o]) => namespace === undefined || (o.metadata as Json).namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => structuredClone(resources.viewOf(r, o)));
  }

  /** What a resource path addresses; 404 when the server does not serve it. */
  resolve(route: ResourceRoute): writes.WriteTarget {
    const r = this.#resources.get(`${route.group}/${route.version}/${route.plural}`);
    const collection = r && this.#collections.get(`${r.group}/${r.plural}`);
    if (!r || !collection) throw statuses.pathNotFound();
    if (route.namespace !== undefined && !r.namespaced) throw statuses.pathNotFound();
    // Namespaced objects have no path outside their namespace; only collections do.
    if (route.namespace === undefined && r.namespaced && route.name !== undefined) {
      throw statuses.pathNotFound();
    }
    if (route.subresource !== undefined && !r.subresources.includes(route.subresource)) {
      throw statuses.pathNotFound();
    }
    return {
      resource: r,
      collection,
      namespace: r.namespaced ? route.namespace : undefined,
      name: route.name,
      subresource: route.subresource,
    };
  }

  namespacePhase(name: string): string | undefined {
    const ns = this.#collections.get("/namespaces")?.objects.get(name);
    if (!ns) return undefined;
    if ((ns.metadata as Json).deletionTimestamp !== undefined) return "Terminating";
    return String((ns.status as Json | undefined)?.phase ?? "Active");
  }

  crdTerminating(name: string): boolean {
    const crds = this.#collections.get("apiextensions.k8s.io/customresourcedefinitions");
    const crd = crds?.objects.get(name);
    return crd !== undefined && (crd.metadata as Json).deletionTimestamp !== undefined;
  }

  /** Commits, then does what kube-apiserver's own controllers would do about the change. */
  commit(
    r: ResourceInfo,
    collection: Collection,
    type: ChangeType,
    key: string,
    object: Json,
    prev: Json | undefined,
  ): Change {
    const change = this.storage.commit(collection, type, key, object, prev);
    const metadata = change.object.metadata as Json;
    if (resources.isCrd(r)) {
      if (type === "DELETED") this.#unserveCrd(String(metadata.name));
      else if (metadata.deletionTimestamp !== undefined) this.#cleanUpCrd(String(metadata.name));
      else this.#serveCrd(change.object);
    } else if (resources.isNamespaces(r) && type === "MODIFIED") {
      this.#finalizeNamespace(String(metadata.name));
    } else if (type === "DELETED") {
      if (r.namespaced) this.#finalizeNamespace(String(metadata.namespace));
      if (r.crd) this.#cleanUpCrd(r.crd);
    }
    return change;
  }

  /** `/api`, `/api/v1`, `/apis`, `/apis/{group}` and `/apis/{group}/{version}`. */
  discovery(route: Extract<Route, { kind: "discovery" }>, serverAddress: string): Json {
    const all = [...this.#resources.values()];
    if (route.prefix === "api") {
      if (route.version === undefined) {
        return {
          kind: "APIVersions",
          versions: ["v1"],
          serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
        };
      }
      if (route.version !== "v1") throw statuses.pathNotFound();
      const core = all.filter((r) => r.group === "" && r.version === "v1");
      return resources.apiResourceList("v1", core);
    }
    const groups = new Map<string, string[]>();
    for (const r of all) {
      if (!r.group) continue;
      const versions = groups.get(r.group) ?? [];
      if (!versions.includes(r.version)) versions.push(r.version);
      groups.set(r.group, versions);
    }
    if (route.group === undefined) {
      const list = [...groups].map(([name, versions]) => resources.apiGroup(name, versions));
      return { kind: "APIGroupList", apiVersion: "v1", groups: list };
    }
    const versions = groups.get(route.group);
    if (!versions) throw statuses.pathNotFound();
    if (route.version === undefined) {
      return { kind: "APIGroup", apiVersion: "v1", ...resources.apiGroup(route.group, versions) };
    }
    if (!versions.includes(route.version)) throw statuses.pathNotFound();
    const served = all.filter((r) => r.group === route.group && r.version === route.version);
    return resources.apiResourceList(`${route.group}/${route.version}`, served);
  }

  #target(group: string, plural: string): writes.WriteTarget {
    const r = [...this.#resources.values()].find((x) => x.group === group && x.plural === plural);
    const collection = this.#collections.get(`${group}/${plural}`);
    if (!r || !collection) throw statuses.pathNotFound();
    return {
      resource: r,
      collection,
      namespace: undefined,
      name: undefined,
      subresource: undefined,
    };
  }

  #serveCrd(crd: Json): void {
    const name = String((crd.metadata as Json).name);
    const served = resources.resourcesOf(crd);
    for (const [id, r] of this.#resources) {
      if (r.crd === name && !served.some((s) => s.version === r.version)) {
        this.#resources.delete(id);
      }
    }
    for (const r of served) {
      const existing = this.#resources.get(`${r.group}/${r.version}/${r.plural}`);
      if (existing === undefined || existing.crd === name) this.serve(r);
    }
  }

  #unserveCrd(name: string): void {
    const defined = [...this.#resources.values()].find((r) => r.crd === name);
    if (defined) this.unserve(defined.group, defined.plural);
  }

  // The CRD finalizer: delete every custom resource (those with finalizers only get marked and
  // hold the CRD until they go), then release the CRD.
  #cleanUpCrd(name: string): void {
    const crds = this.#target("apiextensions.k8s.io", "customresourcedefinitions");
    const crd = crds.collection.objects.get(name);
    if (!crd || (crd.metadata as Json).deletionTimestamp === undefined) return;
    if (this.#cleaningUp.has(name)) return;
    const defined = [...this.#resources.values()].find((r) => r.crd === name);
    const collection = defined && this.#collections.get(`${defined.group}/${defined.plural}`);
    if (defined && collection) {
      this.#cleaningUp.add(name);
      try {
        for (const object of [...collection.objects.values()]) {
          const meta = object.metadata as Json;
          if (meta.deletionTimestamp !== undefined) continue;
          const namespace = meta.namespace as string | undefined;
          const t = { resource: defined, collection, namespace, subresource: undefined };
          deletes.remove(this, { ...t, name: String(meta.name) }, "", new URLSearchParams());
        }
      } finally {
        this.#cleaningUp.delete(name);
      }
      if (collection.objects.size > 0) return;
    }
    this.#unserveCrd(name);
    const finalizers = ((crd.metadata as Json).finalizers as string[] | undefined) ?? [];
    const rest = finalizers.filter((f) => f !== resources.CRD_CLEANUP_FINALIZER);
    if (rest.length === 0) {
      this.commit(crds.resource, crds.collection, "DELETED", name, crd, crd);
    } else if (rest.length !== finalizers.length) {
      const next = { ...crd, metadata: { ...(crd.metadata as Json), finalizers: rest } };
      this.storage.commit(crds.collection, "MODIFIED", name, next, crd);
    }
  }

  // The namespace lifecycle, simplified: a terminating namespace goes away once it is empty.
  #finalizeNamespace(name: string): void {
    const namespaces = this.#target("", "namespaces");
    const ns = namespaces.collection.objects.get(name);
    if (!ns || (ns.metadata as Json).deletionTimestamp === undefined) return;
    const prefix = `${name}/`;
    const namespaced = new Set(
      [...this.#resources.values()].filter((r) => r.namespaced).map((r) =>
        `${r.group}/${r.plural}`
      ),
    );
    for (const [id, collection] of this.#collections) {
      if (!namespaced.has(id)) continue;
      for (const key of collection.objects.keys()) if (key.startsWith(prefix)) return;
    }
    this.storage.commit(namespaces.collection, "DELETED", name, ns, ns);
  }
}
