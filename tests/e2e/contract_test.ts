// The contract suite: the same cases against the fake API server and the real control plane,
// through our own client. Where the fake disagrees with the real server, the fake is wrong.
// Real-server cases run when e2e is enabled (tools/test.sh starts the control plane).

import { deepEqual, equal, notEqual, ok, rejects } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as discovery from "../../lib/k8s/discovery.ts";
import * as errors from "../../lib/k8s/errors.ts";
import * as linesModule from "../../lib/k8s/lines.ts";
import * as watching from "../../lib/k8s/watching.ts";
import type * as references from "../../lib/structs/references.ts";
import * as backends from "../_fixtures/backends.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";

const configmaps: references.Resource = {
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};
const namespaces: references.Resource = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};
const THINGS: crdFixtures.CrdOptions = {
  group: "contract.kopf.dev",
  plural: "contractthings",
  kind: "ContractThing",
};

interface Context {
  backend: backends.Backend;
  transport: backends.Backend["transport"];
  namespace: string;
}

let real: Promise<backends.Backend | null> | undefined;

function contract(name: string, fn: (ctx: Context) => Promise<void>): void {
  for (const kind of ["fake", "real"] as const) {
    Deno.test({
      name: `[${kind}] ${name}`,
      ignore: kind === "real" && !controlPlanes.e2eEnabled,
      sanitizeResources: false,
      sanitizeOps: false,
      fn: async () => {
        const backend = kind === "fake"
          ? await backends.fakeBackend()
          : await (real ??= backends.realBackend());
        if (!backend) throw new Error("The real control plane is not available");
        const namespace = `contract-${crypto.randomUUID().slice(0, 8)}`;
        await api.createObject(backend.transport, namespaces, { metadata: { name: namespace } });
        try {
          await fn({ backend, transport: backend.transport, namespace });
        } finally {
          await api.deleteObject(backend.transport, namespaces, namespace).catch(() => {});
          if (kind === "fake") await backend.close();
        }
      },
    });
  }
}

async function rejectsWith<T extends errors.ApiError>(
  promise: Promise<unknown>,
  cls: new (...args: never[]) => T,
  check: (error: T) => void = () => {},
): Promise<void> {
  await rejects(promise, (error: unknown) => {
    ok(error instanceof cls, `expected ${cls.name}, got ${error}`);
    check(error);
    return true;
  });
}

contract(
  "CRUD: create, get, replace, patch and delete a ConfigMap, then 404",
  async ({ transport, namespace }) => {
    const created = await api.createObject(transport, configmaps, {
      metadata: { name: "a" },
      data: { k: "1" },
    }, {
      namespace,
    });
    equal(created.metadata!.namespace, namespace);
    ok(created.metadata!.uid);
    const got = await api.getObject(transport, configmaps, "a", { namespace });
    deepEqual(got.data, { k: "1" });
    const replaced = await api.replaceObject(transport, configmaps, "a", {
      ...got,
      data: { k: "2" },
    }, { namespace });
    notEqual(replaced.metadata!.resourceVersion, got.metadata!.resourceVersion);
    const patched = await api.patchObject(transport, configmaps, "a", { data: { j: "3" } }, {
      namespace,
    });
    deepEqual(patched.data, { k: "2", j: "3" });
    await api.deleteObject(transport, configmaps, "a", { namespace });
    await rejectsWith(
      api.getObject(transport, configmaps, "a", { namespace }),
      errors.ApiNotFoundError,
      (e) => {
        equal(e.reason, "NotFound");
        equal(e.status.details?.name, "a");
      },
    );
  },
);

contract(
  "409 AlreadyExists on create and 409 Conflict on a stale update are told apart by reason",
  async ({ transport, namespace }) => {
    const first = await api.createObject(transport, configmaps, { metadata: { name: "a" } }, {
      namespace,
    });
    await rejectsWith(
      api.createObject(transport, configmaps, { metadata: { name: "a" } }, { namespace }),
      errors.ApiConflictError,
      (e) => {
        equal(e.reason, "AlreadyExists");
        equal(e.status.details?.name, "a");
        equal(e.status.details?.kind, "configmaps");
      },
    );
    await api.patchObject(transport, configmaps, "a", { data: { x: "1" } }, { namespace });
    await rejectsWith(
      api.replaceObject(transport, configmaps, "a", first, { namespace }),
      errors.ApiConflictError,
      (e) => {
        equal(e.reason, "Conflict");
      },
    );
    await rejectsWith(
      api.patchObject(transport, configmaps, "a", {
        metadata: { resourceVersion: first.metadata!.resourceVersion },
        data: { y: "2" },
      }, {
        namespace,
      }),
      errors.ApiConflictError,
      (e) => equal(e.reason, "Conflict"),
    );
  },
);

contract(
  "422 Invalid names the offending field in details.causes",
  async ({ transport, namespace }) => {
    await rejectsWith(
      api.createObject(transport, configmaps, { metadata: { name: "Not_Valid" } }, { namespace }),
      errors.ApiInvalidError,
      (e) => {
        equal(e.reason, "Invalid");
        equal(e.code, 422);
        ok(
          e.status.details?.causes?.some((c) => c.field === "metadata.name"),
          JSON.stringify(e.status.details),
        );
      },
    );
  },
);

contract(
  "a list of 1,200 objects comes in pages of at most 500 with one resourceVersion",
  async ({ transport, namespace }) => {
    const names = Array.from({ length: 1200 }, (_, i) => `cm-${String(i).padStart(4, "0")}`);
    for (let i = 0; i < names.length; i += 40) {
      await Promise.all(
        names.slice(i, i + 40).map((name) =>
          api.createObject(transport, configmaps, { metadata: { name } }, { namespace })
        ),
      );
    }
    const pages: api.ObjectList[] = [];
    for await (const page of api.listPages(transport, configmaps, { namespace, limit: 500 })) {
      pages
        .push(page);
    }
    equal(pages.length, 3);
    ok(pages.every((p) => p.items.length <= 500));
    equal(new Set(pages.map((p) => p.metadata.resourceVersion)).size, 1);
    const listing = await api.listObjects(transport, configmaps, { namespace, limit: 500 });
    deepEqual(
      listing.items.map((o) => o.metadata!.name).filter((n) => n!.startsWith("cm-")),
      names,
    );
  },
);

contract(
  "a streaming list ends its initial events with the annotated bookmark, then watches",
  async ({ transport, namespace }) => {
    await api.createObject(transport, configmaps, { metadata: { name: "a" } }, { namespace });
    await api.createObject(transport, configmaps, { metadata: { name: "b" } }, { namespace });
    const stop = new AbortController();
    const seen: string[] = [];
    try {
      for await (
        const event of watching.watch(transport, configmaps, {
          namespace,
          signal: stop.signal,
          settings: { watchList: true },
        })
      ) {
        if (event.type === "ERROR") throw event.error;
        seen.push(
          event.type === "SYNCED" ? "SYNCED" : `${event.type} ${event.object.metadata!.name}`,
        );
        if (event.type === "SYNCED") {
          await api.createObject(transport, configmaps, {
            metadata: { name: "c" },
          }, { namespace });
        }
        if (event.type === "ADDED") break;
      }
    } finally {
      stop.abort();
    }
    deepEqual(seen.slice(0, 2).sort(), ["LISTED a", "LISTED b"]);
    deepEqual(seen.slice(2), ["SYNCED", "ADDED c"]);
  },
);

contract(
  "after a compaction, an old watch gets ERROR 410 Expired and an old continue token HTTP 410",
  async ({ backend, transport, namespace }) => {
    const resource = backend.uncached;
    const first = await api.createObject(transport, resource, backends.podTemplate("t1"), {
      namespace,
    });
    await api.createObject(transport, resource, backends.podTemplate("t2"), { namespace });
    const pages = api.listPages(transport, resource, { namespace, limit: 1 });
    const page = await pages.next();
    ok(!page.done && page.value.metadata.continue);
    await api.createObject(transport, resource, backends.podTemplate("t3"), { namespace });
    await backend.compact();
    await rejectsWith(pages.next(), errors.ApiGoneError, (e) => equal(e.reason, "Expired"));
    const body = await transport.stream("GET", `/api/v1/namespaces/${namespace}/podtemplates`, {
      query: { watch: 1, resourceVersion: first.metadata!.resourceVersion },
    });
    const reader = linesModule.lines(body)[Symbol.asyncIterator]();
    const line = await reader.next();
    await reader.return?.();
    const event = JSON.parse(line.value as string) as { type: string; object: errors.Status };
    equal(event.type, "ERROR");
    equal(event.object.code, 410);
    equal(event.object.reason, "Expired");
  },
);

contract(
  "merge patches replace lists and delete keys with null; a failed JSON-patch test gives 422",
  async ({ transport, namespace }) => {
    await api.createObject(transport, configmaps, {
      metadata: { name: "a", labels: { x: "1", y: "2" }, finalizers: ["a/b", "c/d"] },
      data: { k: "v" },
    }, { namespace });
    const merged = await api.patchObject(transport, configmaps, "a", {
      metadata: { labels: { x: null }, finalizers: ["e/f"] },
    }, { namespace });
    deepEqual(merged.metadata!.labels, { y: "2" });
    deepEqual(merged.metadata!.finalizers, ["e/f"]);
    const rv = merged.metadata!.resourceVersion;
    const patched = await api.patchObject(transport, configmaps, "a", [
      { op: "test", path: "/metadata/resourceVersion", value: rv },
      { op: "add", path: "/metadata/finalizers/-", value: "g/h" },
      { op: "add", path: "/metadata/annotations", value: { "kopf.dev/x": "y" } },
    ], { namespace });
    deepEqual(patched.metadata!.finalizers, ["e/f", "g/h"]);
    await rejectsWith(
      api.patchObject(transport, configmaps, "a", [{
        op: "test",
        path: "/metadata/resourceVersion",
        value: rv,
      }, { op: "remove", path: "/metadata/finalizers/0" }], {
        namespace,
      }),
      errors.ApiInvalidError,
    );
    await api.patchObject(transport, configmaps, "a", { metadata: { finalizers: null } }, {
      namespace,
    });
  },
);

contract(
  "the status subresource: the object ignores status, /status ignores spec, generation counts spec",
  async ({ transport, namespace }) => {
    const things = await crdFixtures.installCrd(transport, THINGS);
    ok(things.subresources?.includes("status"));
    const created = await api.createObject(transport, things, {
      metadata: { name: "t" },
      spec: { a: 1 },
      status: { phase: "ignored" },
    }, {
      namespace,
    });
    equal(created.status, undefined);
    equal(created.metadata!.generation, 1);
    const s = await api.patchObject(transport, things, "t", {
      spec: { a: 2 },
      status: { phase: "Running" },
    }, { namespace, subresource: "status" });
    deepEqual(s.status, { phase: "Running" });
    deepEqual(s.spec, { a: 1 });
    equal(s.metadata!.generation, 1);
    const m = await api.patchObject(transport, things, "t", {
      spec: { a: 3 },
      status: { phase: "Lost" },
    }, { namespace });
    deepEqual(m.status, { phase: "Running" });
    equal(m.metadata!.generation, 2);
    const meta = await api.patchObject(
      transport,
      things,
      "t",
      { metadata: { labels: { l: "1" } } },
      { namespace },
    );
    equal(meta.metadata!.generation, 2);
  },
);

contract(
  "finalizers hold a deleted object; none may be added while deleting; the last removal deletes it",
  async ({ transport, namespace }) => {
    await api.createObject(transport, configmaps, {
      metadata: { name: "a", finalizers: ["kopf.dev/test"] },
    }, { namespace });
    const deleting = await api.deleteObject(transport, configmaps, "a", { namespace });
    ok(deleting.metadata?.deletionTimestamp, JSON.stringify(deleting));
    const still = await api.getObject(transport, configmaps, "a", { namespace });
    ok(still.metadata!.deletionTimestamp);
    await rejectsWith(
      api.patchObject(transport, configmaps, "a", {
        metadata: { finalizers: ["kopf.dev/test", "kopf.dev/other"] },
      }, { namespace }),
      errors.ApiInvalidError,
    );
    await api.patchObject(transport, configmaps, "a", [
      { op: "test", path: "/metadata/finalizers", value: ["kopf.dev/test"] },
      { op: "remove", path: "/metadata/finalizers" },
    ], { namespace });
    await rejectsWith(
      api.getObject(transport, configmaps, "a", { namespace }),
      errors.ApiNotFoundError,
    );
  },
);

contract(
  "discovery finds a CRD that appears, with its scope and names, and loses it when it goes",
  async ({ transport }) => {
    const plural = `appear${crypto.randomUUID().slice(0, 6).replace(/[^a-z0-9]/g, "a")}s`;
    const options: crdFixtures.CrdOptions = {
      group: "contract.kopf.dev",
      plural,
      kind: "Appearing",
      namespaced: false,
      shortNames: [],
    };
    const finder = new discovery.Discovery(transport);
    await rejects(finder.resolve(`${plural}.contract.kopf.dev`), discovery.ResourceNotFoundError);
    await crdFixtures.installCrd(transport, options);
    const found = await crdFixtures.eventually(
      () => finder.resolve(`${plural}.contract.kopf.dev`),
      "the new CRD",
    );
    equal(found.namespaced, false);
    equal(found.kind, "Appearing");
    equal(found.version, "v1");
    deepEqual(found.subresources, ["status"]);
    const core = await finder.resolve("cm");
    equal(core.plural, "configmaps");
    await crdFixtures.uninstallCrd(transport, options);
    await crdFixtures.eventually(async () => {
      finder.invalidate();
      try {
        await finder.resolve(`${plural}.contract.kopf.dev`);
        return undefined;
      } catch (error) {
        if (error instanceof discovery.ResourceNotFoundError) return true;
        throw error;
      }
    }, "the CRD to leave discovery");
  },
);

contract(
  "a plain watch without a resourceVersion also ends its initial events with a bookmark",
  async ({ transport, namespace }) => {
    await api.createObject(transport, configmaps, { metadata: { name: "a" } }, { namespace });
    const body = await transport.stream("GET", `/api/v1/namespaces/${namespace}/configmaps`, {
      query: { watch: 1, allowWatchBookmarks: true },
    });
    const types: string[] = [];
    for await (const line of linesModule.lines(body)) {
      const event = JSON.parse(line) as { type: string; object: api.KubernetesObject };
      types.push(event.type);
      if (event.type === "BOOKMARK") {
        equal(event.object.metadata?.annotations?.[watching.INITIAL_EVENTS_END], "true");
        break;
      }
    }
    deepEqual(types, ["ADDED", "BOOKMARK"]);
  },
);

contract(
  "deleting an object without finalizers answers with a Success Status naming it",
  async ({ transport, namespace }) => {
    const created = await api.createObject(transport, configmaps, { metadata: { name: "a" } }, {
      namespace,
    });
    const answer = await api.deleteObject<errors.Status & { status?: string }>(
      transport,
      configmaps,
      "a",
      { namespace },
    );
    equal(answer.kind, "Status");
    equal(answer.status, "Success");
    equal(answer.details?.name, "a");
    equal(answer.details?.uid, created.metadata!.uid);
  },
);
