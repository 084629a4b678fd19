// Tests of the fake API server itself, over plain fetch: every behaviour the contract suite relies
// on (CRUD, paging, selectors, watches, patches, status, finalizers, CRDs, faults) with at least
// one assertion that fails when the fake drifts from kube-apiserver's documented behaviour.

import assert from "node:assert/strict";
import { FakeApiServer } from "../_fixtures/fake_apiserver.ts";
import type { FakeResource } from "../_fixtures/fake_apiserver.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const CM = "/api/v1/namespaces/default/configmaps";
const KEX = "/apis/kopf.dev/v1/namespaces/default/kopfexamples";
const KOPF: FakeResource = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfexamples",
  kind: "KopfExample",
  namespaced: true,
  singular: "kopfexample",
  shortNames: ["kex"],
  subresources: ["status"],
};
const MERGE = "application/merge-patch+json";
const JSON_PATCH = "application/json-patch+json";

interface Reply {
  status: number;
  headers: Headers;
  body: Any;
}

async function call(
  server: FakeApiServer,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<Reply> {
  const response = await fetch(server.url + path, {
    method,
    headers: { "content-type": contentType, authorization: "Bearer fake-token" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : undefined,
  };
}

function cm(name: string, labels: Record<string, string> = {}, data: Record<string, string> = {}) {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels }, data };
}

function kex(name: string, spec: unknown = { field: 1 }, extra: Record<string, unknown> = {}) {
  return { apiVersion: "kopf.dev/v1", kind: "KopfExample", metadata: { name, ...extra }, spec };
}

interface WatchEvent {
  type: string;
  object: Any;
}

/** Reads a watch stream line by line, each read bounded by a deadline. */
class WatchStream {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #pending: Promise<ReadableStreamReadResult<string>> | undefined;

  private constructor(reader: ReadableStreamDefaultReader<string>) {
    this.#reader = reader;
  }

  static async open(server: FakeApiServer, path: string): Promise<WatchStream> {
    const response = await fetch(server.url + path);
    assert.equal(response.status, 200, `watch ${path}`);
    assert.ok(response.body);
    return new WatchStream(response.body.pipeThrough(new TextDecoderStream()).getReader());
  }

  /** The next event, or "end" when the server ended the stream cleanly. Throws on a broken body. */
  async next(timeoutMs = 3000): Promise<WatchEvent | "end"> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        if (line.trim()) return JSON.parse(line);
        continue;
      }
      this.#pending ??= this.#reader.read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("No watch event before the deadline")),
          Math.max(0, deadline - Date.now()),
        );
      });
      try {
        const result = await Promise.race([this.#pending, timeout]);
        this.#pending = undefined;
        if (result.done) return "end";
        this.#buffer += result.value;
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** The next event that is not a BOOKMARK. */
  async change(timeoutMs = 3000): Promise<WatchEvent> {
    while (true) {
      const event = await this.next(timeoutMs);
      assert.notEqual(event, "end", "the watch ended before the expected event");
      if (event !== "end" && event.type !== "BOOKMARK") return event;
    }
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

function rvOf(object: Any): string {
  return object.metadata.resourceVersion;
}

Deno.test("discovery lists built-in and added resources, with status subresources", async () => {
  await using server = await FakeApiServer.start({ resources: [KOPF] });
  const version = await call(server, "GET", "/version");
  assert.deepEqual([version.body.major, version.body.minor, version.body.gitVersion], [
    "1",
    "37",
    "v1.37.2-fake",
  ]);
  assert.deepEqual((await call(server, "GET", "/api")).body.versions, ["v1"]);

  const core = (await call(server, "GET", "/api/v1")).body;
  assert.equal(core.groupVersion, "v1");
  const configmaps = core.resources.find((r: Any) => r.name === "configmaps");
  assert.deepEqual(
    [configmaps.kind, configmaps.namespaced, configmaps.singularName, configmaps.shortNames],
    ["ConfigMap", true, "configmap", ["cm"]],
  );
  assert.ok(configmaps.verbs.includes("watch"));
  assert.ok(core.resources.some((r: Any) => r.name === "namespaces" && r.namespaced === false));

  const groups = (await call(server, "GET", "/apis")).body;
  assert.equal(groups.kind, "APIGroupList");
  const kopf = groups.groups.find((g: Any) => g.name === "kopf.dev");
  assert.deepEqual(kopf.preferredVersion, { groupVersion: "kopf.dev/v1", version: "v1" });
  for (const name of ["events.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io"]) {
    assert.ok(groups.groups.some((g: Any) => g.name === name), name);
  }

  const list = (await call(server, "GET", "/apis/kopf.dev/v1")).body;
  assert.equal(list.groupVersion, "kopf.dev/v1");
  assert.deepEqual(list.resources.map((r: Any) => r.name), ["kopfexamples", "kopfexamples/status"]);
  assert.deepEqual(list.resources[0].shortNames, ["kex"]);

  const missing = await call(server, "GET", "/apis/nope.dev/v1");
  assert.deepEqual([missing.status, missing.body.kind, missing.body.reason], [
    404,
    "Status",
    "NotFound",
  ]);
  assert.equal((await call(server, "GET", "/apis/kopf.dev/v2")).status, 404);
  assert.equal(
    (await call(server, "GET", "/apis/kopf.dev/v1/namespaces/default/unknowns")).status,
    404,
  );
});

Deno.test("a ConfigMap goes through create, get, list, update, patch and delete", async () => {
  await using server = await FakeApiServer.start();
  const created = await call(server, "POST", CM, cm("one", { app: "x" }, { a: "1" }));
  assert.equal(created.status, 201);
  const meta = created.body.metadata;
  assert.equal(meta.namespace, "default");
  assert.match(meta.uid, /^[0-9a-f-]{36}$/);
  assert.match(meta.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(meta.resourceVersion, /^\d+$/);

  const got = await call(server, "GET", `${CM}/one`);
  assert.deepEqual(got.body, created.body);
  const list = await call(server, "GET", CM);
  assert.deepEqual([list.body.kind, list.body.apiVersion], ["ConfigMapList", "v1"]);
  assert.deepEqual(list.body.items.map((i: Any) => i.metadata.name), ["one"]);
  assert.ok(Number(list.body.metadata.resourceVersion) >= Number(meta.resourceVersion));

  const updated = await call(server, "PUT", `${CM}/one`, { ...got.body, data: { a: "2" } });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.data.a, "2");
  assert.ok(Number(rvOf(updated.body)) > Number(meta.resourceVersion));
  assert.equal(updated.body.metadata.uid, meta.uid);
  assert.equal(updated.body.metadata.creationTimestamp, meta.creationTimestamp);

  const patched = await call(server, "PATCH", `${CM}/one`, { data: { b: "3" } }, MERGE);
  assert.deepEqual(patched.body.data, { a: "2", b: "3" });
  const noop = await call(server, "PATCH", `${CM}/one`, { data: { b: "3" } }, MERGE);
  assert.equal(rvOf(noop.body), rvOf(patched.body), "a no-op patch writes nothing");

  const deleted = await call(server, "DELETE", `${CM}/one`);
  assert.equal(deleted.status, 200);
  assert.deepEqual(deleted.body, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: { name: "one", kind: "configmaps", uid: meta.uid },
  });
  const gone = await call(server, "GET", `${CM}/one`);
  assert.deepEqual([gone.status, gone.body.reason, gone.body.message], [
    404,
    "NotFound",
    `configmaps "one" not found`,
  ]);
  assert.equal((await call(server, "DELETE", `${CM}/one`)).status, 404);
  assert.deepEqual(server.objects("configmaps"), []);
});

Deno.test("generateName gives each object a unique name with a random suffix", async () => {
  await using server = await FakeApiServer.start();
  const names = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const reply = await call(server, "POST", CM, { metadata: { generateName: "gen-" } });
    assert.equal(reply.status, 201);
    assert.match(reply.body.metadata.name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    names.add(reply.body.metadata.name);
  }
  assert.equal(names.size, 5);
  const nameless = await call(server, "POST", CM, { metadata: {} });
  assert.deepEqual([nameless.status, nameless.body.reason], [422, "Invalid"]);
  assert.equal(nameless.body.details.causes[0].field, "metadata.name");
});

Deno.test("409 says AlreadyExists on create and Conflict on a stale update", async () => {
  await using server = await FakeApiServer.start({ resources: [KOPF] });
  const first = await call(server, "POST", CM, cm("dup"));
  const again = await call(server, "POST", CM, cm("dup"));
  assert.deepEqual([again.status, again.body.reason, again.body.message], [
    409,
    "AlreadyExists",
    `configmaps "dup" already exists`,
  ]);

  await call(server, "PATCH", `${CM}/dup`, { data: { x: "1" } }, MERGE);
  const stale = await call(server, "PUT", `${CM}/dup`, first.body);
  assert.equal(stale.status, 409);
  assert.equal(stale.body.reason, "Conflict");
  assert.match(
    stale.body.message,
    /^Operation cannot be fulfilled on configmaps "dup": the object has been modified/,
  );

  const created = await call(server, "POST", KEX, kex("k"));
  const { resourceVersion: _, ...metadata } = created.body.metadata;
  const unconditional = await call(server, "PUT", `${KEX}/k`, { ...created.body, metadata });
  assert.deepEqual(
    [unconditional.status, unconditional.body.reason],
    [422, "Invalid"],
    "custom resources need a resourceVersion on PUT",
  );
  const renamed = await call(server, "PUT", `${KEX}/other`, created.body);
  assert.equal(renamed.status, 400);
});

Deno.test("namespaced writes need an existing namespace; default and kube-system exist", async () => {
  await using server = await FakeApiServer.start();
  const names = (await call(server, "GET", "/api/v1/namespaces")).body.items.map((n: Any) =>
    n.metadata.name
  );
  assert.deepEqual(names, ["default", "kube-system"]);
  const missing = await call(server, "POST", "/api/v1/namespaces/nowhere/configmaps", cm("x"));
  assert.deepEqual([missing.status, missing.body.reason, missing.body.message], [
    404,
    "NotFound",
    `namespaces "nowhere" not found`,
  ]);
  assert.deepEqual(missing.body.details, { name: "nowhere", kind: "namespaces" });
  assert.equal(
    (await call(server, "POST", "/api/v1/namespaces", { metadata: { name: "nowhere" } })).status,
    201,
  );
  assert.equal(
    (await call(server, "POST", "/api/v1/namespaces/nowhere/configmaps", cm("x"))).status,
    201,
  );
});

async function createMany(server: FakeApiServer, count: number): Promise<void> {
  for (let start = 0; start < count; start += 50) {
    const batch = [];
    for (let i = start; i < Math.min(count, start + 50); i++) {
      batch.push(call(server, "POST", CM, cm(`cm-${String(i).padStart(4, "0")}`)));
    }
    for (const reply of await Promise.all(batch)) assert.equal(reply.status, 201);
  }
}

Deno.test("paging 1,200 objects by 500 gives three pages of one consistent snapshot", async () => {
  await using server = await FakeApiServer.start();
  await createMany(server, 1200);
  const first = (await call(server, "GET", `${CM}?limit=500`)).body;
  assert.equal(first.items.length, 500);
  assert.equal(first.metadata.remainingItemCount, 700);
  assert.ok(first.metadata.continue);
  await call(server, "DELETE", `${CM}/cm-1199`);
  await call(server, "POST", CM, cm("cm-9999"));

  const second = (await call(
    server,
    "GET",
    `${CM}?limit=500&continue=${encodeURIComponent(first.metadata.continue)}`,
  )).body;
  const third = (await call(
    server,
    "GET",
    `${CM}?limit=500&continue=${encodeURIComponent(second.metadata.continue)}`,
  )).body;
  assert.deepEqual([second.items.length, third.items.length], [500, 200]);
  assert.equal(third.metadata.continue, undefined);
  const rvs = [first, second, third].map((page) => page.metadata.resourceVersion);
  assert.deepEqual(new Set(rvs).size, 1, "every page has the list's resourceVersion");
  const names = [first, second, third].flatMap((page) =>
    page.items.map((i: Any) => i.metadata.name)
  );
  assert.equal(new Set(names).size, 1200);
  assert.equal(
    names.at(-1),
    "cm-1199",
    "the snapshot still has what was deleted after the first page",
  );
  assert.ok(!names.includes("cm-9999"));

  const withRV = await call(
    server,
    "GET",
    `${CM}?limit=5&continue=${encodeURIComponent(first.metadata.continue)}&resourceVersion=5`,
  );
  assert.equal(withRV.status, 400);
});

Deno.test("a continue token is 410 Expired after compact(), with a fresh token to go on", async () => {
  await using server = await FakeApiServer.start();
  await createMany(server, 30);
  const first = (await call(server, "GET", `${CM}?limit=10`)).body;
  await call(server, "POST", CM, cm("zz-later"));
  server.compact();
  const expired = await call(
    server,
    "GET",
    `${CM}?limit=10&continue=${encodeURIComponent(first.metadata.continue)}`,
  );
  assert.deepEqual([expired.status, expired.body.reason, expired.body.code], [410, "Expired", 410]);
  assert.ok(expired.body.metadata.continue, "the Status offers a continue token");
  const rest = await call(
    server,
    "GET",
    `${CM}?limit=100&continue=${encodeURIComponent(expired.body.metadata.continue)}`,
  );
  assert.equal(rest.status, 200);
  assert.equal(rest.body.items.length, 21, "the inconsistent continuation reads the latest state");
  assert.equal((await call(server, "GET", `${CM}?limit=10&continue=garbage`)).status, 400);
});

Deno.test("list resourceVersion: exact reads history, too old is 410, too new is 504", async () => {
  await using server = await FakeApiServer.start();
  const a = await call(server, "POST", CM, cm("a"));
  await call(server, "POST", CM, cm("b"));
  const rv = rvOf(a.body);
  const exact =
    (await call(server, "GET", `${CM}?resourceVersion=${rv}&resourceVersionMatch=Exact`)).body;
  assert.deepEqual([exact.metadata.resourceVersion, exact.items.length], [rv, 1]);
  const paged = (await call(server, "GET", `${CM}?resourceVersion=${rv}&limit=10`)).body;
  assert.equal(paged.items.length, 1, "RV with limit and no match is Exact");
  const notOlder = (await call(server, "GET", `${CM}?resourceVersion=${rv}`)).body;
  assert.equal(notOlder.items.length, 2, "RV without limit is NotOlderThan");
  const any = (await call(server, "GET", `${CM}?resourceVersion=0`)).body;
  assert.equal(any.items.length, 2);

  const future = await call(
    server,
    "GET",
    `${CM}?resourceVersion=999999&resourceVersionMatch=NotOlderThan`,
  );
  assert.deepEqual([future.status, future.body.reason], [504, "Timeout"]);
  const bad = await call(server, "GET", `${CM}?resourceVersionMatch=Exact`);
  assert.deepEqual([bad.status, bad.body.reason, bad.body.details.kind], [
    422,
    "Invalid",
    "ListOptions",
  ]);
  server.compact();
  const old = await call(server, "GET", `${CM}?resourceVersion=${rv}&resourceVersionMatch=Exact`);
  assert.deepEqual([old.status, old.body.reason], [410, "Expired"]);
});

Deno.test("label and field selectors filter lists with every operator", async () => {
  await using server = await FakeApiServer.start();
  await call(server, "POST", CM, cm("a", { app: "web", tier: "front" }));
  await call(server, "POST", CM, cm("b", { app: "db", tier: "back" }));
  await call(server, "POST", CM, cm("c", { app: "web" }));
  await call(server, "POST", CM, cm("d", {}));
  const names = async (query: string) => {
    const reply = await call(server, "GET", `${CM}?${query}`);
    assert.equal(reply.status, 200, query);
    return reply.body.items.map((i: Any) => i.metadata.name).join(",");
  };
  const l = (s: string) => `labelSelector=${encodeURIComponent(s)}`;
  assert.equal(await names(l("app=web")), "a,c");
  assert.equal(await names(l("app==web")), "a,c");
  assert.equal(await names(l("app!=web")), "b,d", "!= matches objects without the label");
  assert.equal(await names(l("app in (db, web)")), "a,b,c");
  assert.equal(await names(l("app notin (web)")), "b,d");
  assert.equal(await names(l("tier")), "a,b");
  assert.equal(await names(l("!tier")), "c,d");
  assert.equal(await names(l("app=web,tier")), "a", "a comma is AND");
  const f = (s: string) => `fieldSelector=${encodeURIComponent(s)}`;
  assert.equal(await names(f("metadata.name=b")), "b");
  assert.equal(await names(f("metadata.name==b")), "b");
  assert.equal(await names(f("metadata.name!=b,metadata.namespace=default")), "a,c,d");
  const all =
    (await call(server, "GET", `/api/v1/configmaps?${f("metadata.namespace=default")}`)).body;
  assert.equal(all.items.length, 4, "all-namespaces lists filter by namespace field");
  assert.equal((await call(server, "GET", `${CM}?${l("app in web")}`)).status, 400);
  assert.equal((await call(server, "GET", `${CM}?${f("spec.nothing=1")}`)).status, 400);
});

Deno.test("a watch from an empty resourceVersion sends the state, then the changes", async () => {
  await using server = await FakeApiServer.start();
  await call(server, "POST", CM, cm("existing"));
  const watch = await WatchStream.open(server, `${CM}?watch=1`);
  try {
    const initial = await watch.change();
    assert.deepEqual([initial.type, initial.object.metadata.name, initial.object.kind], [
      "ADDED",
      "existing",
      "ConfigMap",
    ]);
    await call(server, "POST", CM, cm("new"));
    await call(server, "PATCH", `${CM}/new`, { data: { x: "1" } }, MERGE);
    await call(server, "DELETE", `${CM}/new`);
    const events = [await watch.change(), await watch.change(), await watch.change()];
    assert.deepEqual(events.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
    assert.equal(events[2]?.object.data.x, "1", "DELETED carries the last state");
    assert.ok(
      Number(rvOf(events[2]?.object)) > Number(rvOf(events[1]?.object)),
      "with a new resourceVersion",
    );
  } finally {
    await watch.close();
  }
});

Deno.test("a watch from a resourceVersion sends only the changes after it", async () => {
  await using server = await FakeApiServer.start();
  await call(server, "POST", CM, cm("before"));
  const list = (await call(server, "GET", CM)).body;
  await call(server, "POST", CM, cm("after"));
  const watch = await WatchStream.open(
    server,
    `${CM}?watch=true&resourceVersion=${list.metadata.resourceVersion}`,
  );
  try {
    const event = await watch.change();
    assert.deepEqual([event.type, event.object.metadata.name], ["ADDED", "after"]);
    await call(server, "POST", CM, cm("live"));
    assert.equal((await watch.change()).object.metadata.name, "live");
  } finally {
    await watch.close();
  }
});

Deno.test("a watch from a compacted resourceVersion gets one ERROR 410 Expired event", async () => {
  await using server = await FakeApiServer.start();
  const a = await call(server, "POST", CM, cm("a"));
  await call(server, "POST", CM, cm("b"));
  server.compact();
  const watch = await WatchStream.open(server, `${CM}?watch=1&resourceVersion=${rvOf(a.body)}`);
  const event = await watch.next();
  assert.notEqual(event, "end");
  if (event === "end") return;
  assert.equal(event.type, "ERROR");
  assert.deepEqual([event.object.kind, event.object.code, event.object.reason], [
    "Status",
    410,
    "Expired",
  ]);
  assert.match(event.object.message, /^too old resource version: \d+ \(\d+\)$/);
  assert.equal(await watch.next(), "end");
});

Deno.test("historyLimit bounds how far back a watch can resume", async () => {
  await using server = await FakeApiServer.start({ historyLimit: 5 });
  const first = await call(server, "POST", CM, cm("first"));
  for (let i = 0; i < 10; i++) {
    await call(server, "PATCH", `${CM}/first`, { data: { i: String(i) } }, MERGE);
  }
  const watch = await WatchStream.open(server, `${CM}?watch=1&resourceVersion=${rvOf(first.body)}`);
  const event = await watch.next();
  assert.ok(event !== "end" && event.type === "ERROR" && event.object.code === 410);
  await watch.close();
  const recent = String(Number(rvOf((await call(server, "GET", `${CM}/first`)).body)) - 2);
  const resumed = await WatchStream.open(server, `${CM}?watch=1&resourceVersion=${recent}`);
  try {
    const change = await resumed.change();
    assert.deepEqual([change.type, change.object.data.i], ["MODIFIED", "8"]);
  } finally {
    await resumed.close();
  }
});

Deno.test("BOOKMARK events arrive periodically when allowed, with the current resourceVersion", async () => {
  await using server = await FakeApiServer.start({ bookmarkIntervalMs: 50 });
  const created = await call(server, "POST", CM, cm("a"));
  const rv = rvOf(created.body);
  const watch = await WatchStream.open(
    server,
    `${CM}?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`,
  );
  try {
    const event = await watch.next();
    assert.ok(event !== "end");
    assert.equal(event.type, "BOOKMARK");
    assert.deepEqual(event.object, {
      kind: "ConfigMap",
      apiVersion: "v1",
      metadata: { resourceVersion: rv },
    });
  } finally {
    await watch.close();
  }
});

Deno.test("sendInitialEvents ends the initial state with an annotated BOOKMARK", async () => {
  await using server = await FakeApiServer.start({ bookmarkIntervalMs: 0 });
  await call(server, "POST", CM, cm("a"));
  await call(server, "POST", CM, cm("b"));
  const query =
    "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true";
  const watch = await WatchStream.open(server, `${CM}?${query}`);
  try {
    const events = [await watch.next(), await watch.next(), await watch.next()] as WatchEvent[];
    assert.deepEqual(events.map((e) => e.type), ["ADDED", "ADDED", "BOOKMARK"]);
    assert.deepEqual(events[2]?.object.metadata.annotations, {
      "k8s.io/initial-events-end": "true",
    });
    assert.equal(
      events[2]?.object.metadata.resourceVersion,
      (await call(server, "GET", CM)).body.metadata.resourceVersion,
    );
    await call(server, "POST", CM, cm("c"));
    assert.equal((await watch.change()).object.metadata.name, "c");
  } finally {
    await watch.close();
  }
  // kube-apiserver defaults a watch from "" or "0" to sendInitialEvents (WatchList is on in 1.37).
  const legacy = await WatchStream.open(server, `${CM}?watch=1&allowWatchBookmarks=true`);
  try {
    const types = [];
    for (let i = 0; i < 4; i++) types.push(((await legacy.next()) as WatchEvent).type);
    assert.deepEqual(types, ["ADDED", "ADDED", "ADDED", "BOOKMARK"]);
  } finally {
    await legacy.close();
  }
  const invalid = await call(
    server,
    "GET",
    `${CM}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true`,
  );
  assert.deepEqual([invalid.status, invalid.body.reason], [422, "Invalid"]);
  assert.match(
    invalid.body.message,
    /sendInitialEvents requires setting resourceVersionMatch to NotOlderThan/,
  );
});

Deno.test("a selector turns changes into ADDED when an object starts matching, DELETED when it stops", async () => {
  await using server = await FakeApiServer.start();
  await call(server, "POST", CM, cm("x", { role: "other" }));
  const list = (await call(server, "GET", CM)).body;
  const watch = await WatchStream.open(
    server,
    `${CM}?watch=1&labelSelector=role%3Dmain&resourceVersion=${list.metadata.resourceVersion}`,
  );
  try {
    await call(server, "PATCH", `${CM}/x`, { metadata: { labels: { role: "main" } } }, MERGE);
    const added = await watch.change();
    assert.deepEqual([added.type, added.object.metadata.labels.role], ["ADDED", "main"]);
    await call(server, "PATCH", `${CM}/x`, { data: { k: "v" } }, MERGE);
    assert.equal((await watch.change()).type, "MODIFIED");
    const left = await call(
      server,
      "PATCH",
      `${CM}/x`,
      { metadata: { labels: { role: "other" } } },
      MERGE,
    );
    const deleted = await watch.change();
    assert.equal(deleted.type, "DELETED");
    assert.equal(deleted.object.metadata.labels.role, "main", "the last state that matched");
    assert.equal(rvOf(deleted.object), rvOf(left.body), "at the resourceVersion of the change");
  } finally {
    await watch.close();
  }
});

Deno.test("timeoutSeconds ends a watch cleanly", async () => {
  await using server = await FakeApiServer.start();
  const watch = await WatchStream.open(server, `${CM}?watch=1&timeoutSeconds=1`);
  const started = Date.now();
  assert.equal(await watch.next(3000), "end");
  assert.ok(Date.now() - started >= 900);
});

Deno.test("a merge patch deletes with null, replaces lists, and checks a given resourceVersion", async () => {
  await using server = await FakeApiServer.start({ resources: [KOPF] });
  const created = await call(
    server,
    "POST",
    KEX,
    kex("m", { keep: 1, drop: 2, list: [1, 2, 3], nested: { a: 1 } }),
  );
  const patched = await call(server, "PATCH", `${KEX}/m`, {
    spec: { drop: null, list: [9], nested: { b: 2 } },
  }, MERGE);
  assert.equal(patched.status, 200);
  assert.deepEqual(patched.body.spec, { keep: 1, list: [9], nested: { a: 1, b: 2 } });
  const stale = await call(server, "PATCH", `${KEX}/m`, {
    metadata: { resourceVersion: rvOf(created.body) },
    spec: { keep: 3 },
  }, MERGE);
  assert.deepEqual([stale.status, stale.body.reason], [409, "Conflict"]);
  const fresh = await call(server, "PATCH", `${KEX}/m`, {
    metadata: { resourceVersion: rvOf(patched.body) },
    spec: { keep: 3 },
  }, MERGE);
  assert.equal(fresh.status, 200);
  const renamed = await call(server, "PATCH", `${KEX}/m`, { metadata: { name: "other" } }, MERGE);
  assert.deepEqual([renamed.status, renamed.body.reason], [400, "BadRequest"]);
  const uid = await call(server, "PATCH", `${KEX}/m`, { metadata: { uid: "not-the-uid" } }, MERGE);
  assert.deepEqual([uid.status, uid.body.details.causes[0].field], [422, "metadata.uid"]);
  const smp = await call(
    server,
    "PATCH",
    `${KEX}/m`,
    { spec: {} },
    "application/strategic-merge-patch+json",
  );
  assert.deepEqual([smp.status, smp.body.reason], [415, "UnsupportedMediaType"]);
  const builtin = await call(server, "POST", CM, cm("s", { a: "1" }));
  assert.equal(builtin.status, 201);
  const smpOk = await call(
    server,
    "PATCH",
    `${CM}/s`,
    { data: { x: "y" } },
    "application/strategic-merge-patch+json",
  );
  assert.deepEqual([smpOk.status, smpOk.body.data], [200, { x: "y" }]);
});

Deno.test("a JSON patch applies every operation, and a failed test or missing path is 422", async () => {
  await using server = await FakeApiServer.start({ resources: [KOPF] });
  const created = await call(
    server,
    "POST",
    KEX,
    kex("j", { "a/b": 1, "c~d": [1, 2], obj: { x: 1 } }),
  );
  const ops = [
    { op: "test", path: "/metadata/resourceVersion", value: rvOf(created.body) },
    { op: "replace", path: "/spec/a~1b", value: 10 },
    { op: "add", path: "/spec/c~0d/-", value: 3 },
    { op: "add", path: "/spec/c~0d/0", value: 0 },
    { op: "remove", path: "/spec/c~0d/1" },
    { op: "copy", from: "/spec/obj", path: "/spec/copied" },
    { op: "move", from: "/spec/obj/x", path: "/spec/moved" },
  ];
  const patched = await call(server, "PATCH", `${KEX}/j`, ops, JSON_PATCH);
  assert.equal(patched.status, 200);
  assert.deepEqual(patched.body.spec, {
    "a/b": 10,
    "c~d": [0, 2, 3],
    obj: {},
    copied: { x: 1 },
    moved: 1,
  });
  assert.equal(patched.body.metadata.generation, 2);

  const failed = await call(server, "PATCH", `${KEX}/j`, [
    { op: "test", path: "/metadata/resourceVersion", value: rvOf(created.body) },
    { op: "replace", path: "/spec/moved", value: 2 },
  ], JSON_PATCH);
  assert.deepEqual([failed.status, failed.body.reason, failed.body.code], [422, "Invalid", 422]);
  const missing = await call(server, "PATCH", `${KEX}/j`, [{
    op: "replace",
    path: "/spec/nothing",
    value: 1,
  }], JSON_PATCH);
  assert.equal(missing.status, 422);
  const removeMissing = await call(server, "PATCH", `${KEX}/j`, [{
    op: "remove",
    path: "/spec/nothing",
  }], JSON_PATCH);
  assert.equal(removeMissing.status, 422);
  const malformed = await call(server, "PATCH", `${KEX}/j`, { op: "add" }, JSON_PATCH);
  assert.equal(malformed.status, 400);
  assert.deepEqual(
    (await call(server, "GET", `${KEX}/j`)).body.spec.moved,
    1,
    "failed patches change nothing",
  );
});

Deno.test("the status subresource isolates status from spec; only spec changes bump generation", async () => {
  await using server = await FakeApiServer.start({ resources: [KOPF] });
  const created = await call(server, "POST", KEX, { ...kex("s"), status: { ignored: true } });
  assert.equal(created.body.status, undefined, "create drops status");
  assert.equal(created.body.metadata.generation, 1);

  const status = await call(server, "PATCH", `${KEX}/s/status`, {
    status: { phase: "Ready" },
    spec: { field: 99 },
    metadata: { labels: { l: "x" } },
  }, MERGE);
  assert.equal(status.status, 200);
  assert.deepEqual(status.body.status, { phase: "Ready" });
  assert.deepEqual(status.body.spec, { field: 1 }, "status writes ignore spec");
  assert.equal(status.body.metadata.labels, undefined, "and metadata");
  assert.equal(status.body.metadata.generation, 1, "and do not bump generation");

  const main = await call(server, "PATCH", `${KEX}/s`, {
    status: { phase: "Hacked" },
    spec: { field: 2 },
  }, MERGE);
  assert.deepEqual([main.body.status, main.body.spec, main.body.metadata.generation], [
    { phase: "Ready" },
    { field: 2 },
    2,
  ]);
  const labels = await call(
    server,
    "PATCH",
    `${KEX}/s`,
    { metadata: { labels: { a: "b" } } },
    MERGE,
  );
  assert.equal(labels.body.metadata.generation, 2, "metadata changes do not bump generation");

  const put = await call(server, "PUT", `${KEX}/s/status`, {
    ...labels.body,
    status: { phase: "Done" },
  });
  assert.deepEqual([put.status, put.body.status], [200, { phase: "Done" }]);
  const stale = await call(server, "PUT", `${KEX}/s/status`, {
    ...labels.body,
    status: { phase: "Old" },
  });
  assert.equal(stale.status, 409, "status writes honour the resourceVersion");

  const got = await call(server, "GET", `${KEX}/s/status`);
  assert.equal(got.body.spec.field, 2, "GET of /status returns the whole object");
  assert.equal(
    (await call(server, "GET", `${CM}/x/status`)).status,
    404,
    "no status subresource, no /status",
  );
  const noSub = await call(server, "POST", CM, cm("x"));
  assert.equal(noSub.status, 201);
  assert.equal((await call(server, "PATCH", `${CM}/x/status`, { data: {} }, MERGE)).status, 404);
});

Deno.test("deleting an object with finalizers marks it; removing the last finalizer deletes it", async () => {
  await using server = await FakeApiServer.start({ resources: [KOPF] });
  const created = await call(
    server,
    "POST",
    KEX,
    kex("f", { a: 1 }, { finalizers: ["kopf.dev/a", "kopf.dev/b"] }),
  );
  const watch = await WatchStream.open(
    server,
    `${KEX}?watch=1&resourceVersion=${rvOf(created.body)}`,
  );
  try {
    const marked = await call(server, "DELETE", `${KEX}/f`);
    assert.equal(marked.status, 200);
    assert.match(marked.body.metadata.deletionTimestamp, /Z$/);
    assert.equal(marked.body.metadata.deletionGracePeriodSeconds, 0);
    assert.equal(marked.body.metadata.generation, 2);
    const modified = await watch.change();
    assert.deepEqual([modified.type, modified.object.metadata.deletionTimestamp], [
      "MODIFIED",
      marked.body.metadata.deletionTimestamp,
    ]);

    const added = await call(server, "PATCH", `${KEX}/f`, {
      metadata: { finalizers: ["kopf.dev/a", "kopf.dev/b", "kopf.dev/c"] },
    }, MERGE);
    assert.deepEqual([added.status, added.body.reason], [422, "Invalid"]);
    assert.match(
      added.body.message,
      /no new finalizers can be added if the object is being deleted/,
    );
    assert.equal(added.body.details.causes[0].field, "metadata.finalizers");
    const moved = await call(
      server,
      "PATCH",
      `${KEX}/f`,
      { metadata: { deletionTimestamp: null } },
      MERGE,
    );
    assert.equal(
      moved.body.metadata.deletionTimestamp,
      marked.body.metadata.deletionTimestamp,
      "deletionTimestamp is immutable",
    );

    const one = await call(server, "PATCH", `${KEX}/f`, {
      metadata: { finalizers: ["kopf.dev/b"] },
    }, MERGE);
    assert.equal(one.status, 200);
    assert.equal((await watch.change()).type, "MODIFIED");
    const last = await call(server, "PATCH", `${KEX}/f`, [
      { op: "test", path: "/metadata/finalizers", value: ["kopf.dev/b"] },
      { op: "remove", path: "/metadata/finalizers/0" },
    ], JSON_PATCH);
    assert.equal(last.status, 200);
    const deleted = await watch.change();
    assert.equal(deleted.type, "DELETED");
    assert.equal((await call(server, "GET", `${KEX}/f`)).status, 404);
  } finally {
    await watch.close();
  }
});

Deno.test("delete preconditions that do not match are 409 Conflict", async () => {
  await using server = await FakeApiServer.start();
  const created = await call(server, "POST", CM, cm("p"));
  const wrongUid = await call(server, "DELETE", `${CM}/p`, { preconditions: { uid: "nope" } });
  assert.deepEqual([wrongUid.status, wrongUid.body.reason], [409, "Conflict"]);
  assert.match(wrongUid.body.message, /Precondition failed: UID in precondition: nope/);
  const wrongRv = await call(server, "DELETE", `${CM}/p`, {
    preconditions: { resourceVersion: "1" },
  });
  assert.equal(wrongRv.status, 409);
  const right = await call(server, "DELETE", `${CM}/p`, {
    preconditions: { uid: created.body.metadata.uid, resourceVersion: rvOf(created.body) },
  });
  assert.equal(right.status, 200);
});

const CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: {
    group: "example.com",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget", shortNames: ["wd"] },
    versions: [
      {
        name: "v1beta1",
        served: true,
        storage: false,
        schema: { openAPIV3Schema: { type: "object" } },
      },
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: { openAPIV3Schema: { type: "object" } },
      },
    ],
  },
};
const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const WIDGETS = "/apis/example.com/v1/namespaces/default/widgets";

Deno.test("a CRD serves its resource until it is deleted", async () => {
  await using server = await FakeApiServer.start();
  const created = await call(server, "POST", CRDS, CRD);
  assert.equal(created.status, 201);
  const conditions = Object.fromEntries(
    created.body.status.conditions.map((c: Any) => [c.type, c.status]),
  );
  assert.deepEqual(conditions, { NamesAccepted: "True", Established: "True" });
  assert.equal(created.body.status.acceptedNames.kind, "Widget");

  const group = (await call(server, "GET", "/apis")).body.groups.find((g: Any) =>
    g.name === "example.com"
  );
  assert.equal(group.preferredVersion.version, "v1");
  const v1 = (await call(server, "GET", "/apis/example.com/v1")).body.resources.map((r: Any) =>
    r.name
  );
  assert.deepEqual(v1, ["widgets", "widgets/status"]);
  assert.deepEqual(
    (await call(server, "GET", "/apis/example.com/v1beta1")).body.resources.map((r: Any) => r.name),
    ["widgets"],
  );

  const widget = await call(server, "POST", WIDGETS, {
    apiVersion: "example.com/v1",
    kind: "Widget",
    metadata: { name: "w" },
    spec: {},
  });
  assert.equal(widget.status, 201);
  const beta = await call(server, "GET", "/apis/example.com/v1beta1/namespaces/default/widgets/w");
  assert.equal(
    beta.body.apiVersion,
    "example.com/v1beta1",
    "every served version shows the same object",
  );
  const wrong = await call(server, "POST", WIDGETS, {
    apiVersion: "example.com/v1beta1",
    kind: "Widget",
    metadata: { name: "v" },
  });
  assert.equal(wrong.status, 400);

  const watch = await WatchStream.open(
    server,
    `${WIDGETS}?watch=1&resourceVersion=${rvOf(widget.body)}`,
  );
  try {
    const deleting = await call(server, "DELETE", `${CRDS}/widgets.example.com`);
    assert.equal(deleting.status, 200);
    assert.ok(deleting.body.metadata.deletionTimestamp);
    assert.equal((await watch.change()).type, "DELETED");
    assert.equal(await watch.next(), "end", "watches of the resource end with it");
  } finally {
    await watch.close();
  }
  assert.equal((await call(server, "GET", `${CRDS}/widgets.example.com`)).status, 404);
  assert.equal((await call(server, "GET", WIDGETS)).status, 404);
  assert.equal((await call(server, "GET", "/apis/example.com/v1")).status, 404);
  const invalid = await call(server, "POST", CRDS, { ...CRD, metadata: { name: "wrong.name" } });
  assert.deepEqual([invalid.status, invalid.body.reason], [422, "Invalid"]);
});

Deno.test("injected 429, 503 and 401 answer matching requests with real Status bodies", async () => {
  await using server = await FakeApiServer.start();
  server.inject({ kind: "status", code: 429, retryAfterSeconds: 7, match: { verb: "list" } });
  server.inject({ kind: "status", code: 503, times: 2, match: { method: "POST" } });
  server.inject({ kind: "status", code: 401, match: { pathIncludes: "/kube-system/" } });
  const get = await call(server, "GET", `${CM}/none`);
  assert.equal(get.status, 404, "a get is not a list");
  const limited = await call(server, "GET", CM);
  assert.deepEqual([limited.status, limited.headers.get("retry-after")], [429, "7"]);
  assert.deepEqual(limited.body, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: "Too many requests, please try again later.",
    reason: "TooManyRequests",
    details: { retryAfterSeconds: 7 },
    code: 429,
  });
  assert.equal((await call(server, "GET", CM)).status, 200, "times defaults to 1");
  for (let i = 0; i < 2; i++) {
    const unavailable = await call(server, "POST", CM, cm("x"));
    assert.deepEqual([unavailable.status, unavailable.body.reason], [503, "ServiceUnavailable"]);
  }
  assert.equal((await call(server, "POST", CM, cm("x"))).status, 201);
  const unauthorized = await call(server, "GET", "/api/v1/namespaces/kube-system/configmaps");
  assert.deepEqual([unauthorized.status, unauthorized.body.reason], [401, "Unauthorized"]);
  const recorded = server.requests.map((r) => `${r.verb} ${r.status}`);
  assert.deepEqual(recorded, [
    "get 404",
    "list 429",
    "list 200",
    "create 503",
    "create 503",
    "create 201",
    "list 401",
  ]);
  assert.deepEqual(server.requests[1]?.query, {});
});

Deno.test("a drop fault closes the connection without a response; a delay fault waits", async () => {
  await using server = await FakeApiServer.start();
  server.inject({ kind: "drop", match: { verb: "get" } });
  await assert.rejects(fetch(`${server.url}${CM}/x`), TypeError);
  assert.equal(server.requests.at(-1)?.status, 0);
  server.inject({ kind: "delay", ms: 200 });
  const started = Date.now();
  assert.equal((await call(server, "GET", CM)).status, 200);
  assert.ok(Date.now() - started >= 190);
});

Deno.test("a drop fault on a watch cuts the stream after the given number of events", async () => {
  await using server = await FakeApiServer.start();
  for (const name of ["a", "b", "c"]) await call(server, "POST", CM, cm(name));
  server.inject({ kind: "drop", afterEvents: 2, match: { verb: "watch" } });
  const watch = await WatchStream.open(server, `${CM}?watch=1`);
  const first = await watch.next();
  const second = await watch.next();
  assert.deepEqual([first, second].map((e) => e !== "end" && e.object.metadata.name), ["a", "b"]);
  await assert.rejects(watch.next(), TypeError);
  const clean = await WatchStream.open(server, `${CM}?watch=1`);
  try {
    assert.equal((await clean.change()).type, "ADDED", "the fault was used up");
  } finally {
    await clean.close();
  }
});

Deno.test("dropWatches() breaks open streams; close() ends them cleanly", async () => {
  const server = await FakeApiServer.start();
  try {
    const broken = await WatchStream.open(server, `${CM}?watch=1&resourceVersion=1`);
    server.dropWatches();
    await assert.rejects(broken.next(), TypeError);
    const ended = await WatchStream.open(server, `${CM}?watch=1&resourceVersion=1`);
    const closing = server.close();
    assert.equal(await ended.next(), "end");
    await closing;
  } finally {
    await server.close();
  }
});

Deno.test("removeResource() ends its watches and stops serving it", async () => {
  await using server = await FakeApiServer.start({ resources: [KOPF] });
  const created = await call(server, "POST", KEX, kex("r"));
  const watch = await WatchStream.open(
    server,
    `${KEX}?watch=1&resourceVersion=${rvOf(created.body)}`,
  );
  server.removeResource("kopf.dev", "kopfexamples");
  assert.equal(await watch.next(), "end");
  assert.equal((await call(server, "GET", KEX)).status, 404);
  assert.deepEqual(server.objects("kopfexamples"), []);
  server.addResource(KOPF);
  assert.equal((await call(server, "GET", KEX)).body.items.length, 0);
});

Deno.test("a namespace goes away at once when empty, and stays Terminating while it has content", async () => {
  await using server = await FakeApiServer.start();
  for (const name of ["empty", "full"]) {
    await call(server, "POST", "/api/v1/namespaces", { metadata: { name } });
  }
  const empty = await call(server, "DELETE", "/api/v1/namespaces/empty");
  assert.deepEqual([empty.status, empty.body.status.phase], [200, "Terminating"]);
  assert.equal((await call(server, "GET", "/api/v1/namespaces/empty")).status, 404);

  await call(server, "POST", "/api/v1/namespaces/full/configmaps", cm("c"));
  await call(server, "DELETE", "/api/v1/namespaces/full");
  const terminating = await call(server, "GET", "/api/v1/namespaces/full");
  assert.equal(terminating.body.status.phase, "Terminating");
  const refused = await call(server, "POST", "/api/v1/namespaces/full/configmaps", cm("d"));
  assert.deepEqual([refused.status, refused.body.reason], [403, "Forbidden"]);
  await call(server, "DELETE", "/api/v1/namespaces/full/configmaps/c");
  assert.equal((await call(server, "GET", "/api/v1/namespaces/full")).status, 404);
});

Deno.test("kubeconfig() and objects() describe the running server", async () => {
  await using server = await FakeApiServer.start({ resources: [KOPF] });
  const text = server.kubeconfig();
  assert.ok(text.includes(`server: ${server.url}`));
  assert.ok(text.includes("token: fake-token"));
  assert.ok(text.includes("current-context: fake"));
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  await call(server, "POST", KEX, kex("o"));
  await call(server, "POST", "/api/v1/namespaces", { metadata: { name: "other" } });
  await call(server, "POST", "/apis/kopf.dev/v1/namespaces/other/kopfexamples", kex("o"));
  assert.deepEqual(server.objects("kopfexamples").map((o: Any) => o.metadata.namespace), [
    "default",
    "other",
  ]);
  assert.deepEqual(server.objects("kopfexamples", "other").length, 1);
});

Deno.test("built-in kinds take unconditional PUTs and strategic merge; custom ones do not", async () => {
  await using server = await FakeApiServer.start();
  const leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
  const lease = await call(server, "POST", leases, {
    metadata: { name: "l" },
    spec: { holderIdentity: "a" },
  });
  assert.deepEqual([lease.status, lease.body.kind, lease.body.metadata.generation], [
    201,
    "Lease",
    undefined,
  ]);
  const { resourceVersion: _, ...metadata } = lease.body.metadata;
  const put = await call(server, "PUT", `${leases}/l`, {
    ...lease.body,
    metadata,
    spec: { holderIdentity: "b" },
  });
  assert.deepEqual([put.status, put.body.spec.holderIdentity], [200, "b"]);
  const events = "/apis/events.k8s.io/v1/namespaces/default/events";
  const event = await call(server, "POST", events, {
    metadata: { name: "e" },
    reason: "Tested",
    action: "Test",
    type: "Normal",
  });
  assert.deepEqual([event.status, event.body.apiVersion], [201, "events.k8s.io/v1"]);
  const secret = await call(server, "POST", "/api/v1/namespaces/default/secrets", {
    metadata: { name: "s" },
  });
  assert.equal(secret.body.type, "Opaque");
  assert.equal((await call(server, "PATCH", `${CM}/x`, {}, MERGE)).status, 404);
  await call(server, "POST", CM, cm("x"));
  const smp = "application/strategic-merge-patch+json";
  const first = await call(server, "PATCH", `${CM}/x`, { metadata: { finalizers: ["a/b"] } }, smp);
  const second = await call(server, "PATCH", `${CM}/x`, { metadata: { finalizers: ["c/d"] } }, smp);
  assert.deepEqual(
    [first.status, second.body.metadata.finalizers],
    [200, ["a/b", "c/d"]],
    "finalizers merge",
  );
  assert.equal(
    (await call(server, "GET", "/api/v1/configmaps/x")).status,
    404,
    "no object path outside a namespace",
  );
  assert.equal((await call(server, "POST", "/api/v1/configmaps", cm("y"))).status, 405);
});

Deno.test("dryRun=All validates and answers without storing; deletecollection honours selectors", async () => {
  await using server = await FakeApiServer.start();
  const dry = await call(server, "POST", `${CM}?dryRun=All`, cm("dry"));
  assert.deepEqual([dry.status, dry.body.metadata.name], [201, "dry"]);
  assert.equal((await call(server, "GET", `${CM}/dry`)).status, 404);
  assert.equal((await call(server, "POST", `${CM}?dryRun=Some`, cm("dry"))).status, 422);
  for (const [name, app] of [["a", "x"], ["b", "x"], ["c", "y"]] as const) {
    await call(server, "POST", CM, cm(name, { app }));
  }
  const removed = await call(server, "DELETE", `${CM}?labelSelector=app%3Dx`);
  assert.deepEqual([removed.status, removed.body.kind], [200, "ConfigMapList"]);
  assert.deepEqual(removed.body.items.map((i: Any) => i.metadata.name), ["a", "b"]);
  assert.deepEqual(server.objects("configmaps").map((o: Any) => o.metadata.name), ["c"]);
});

Deno.test("a custom resource with a finalizer holds its CRD's deletion until it is released", async () => {
  await using server = await FakeApiServer.start();
  assert.equal((await call(server, "POST", CRDS, CRD)).status, 201);
  await call(server, "POST", WIDGETS, {
    metadata: { name: "held", finalizers: ["example.com/f"] },
  });
  const deleting = await call(server, "DELETE", `${CRDS}/widgets.example.com`);
  assert.ok(
    deleting.body.metadata.finalizers.includes("customresourcecleanup.apiextensions.k8s.io"),
  );
  const terminating = deleting.body.status.conditions.find((c: Any) => c.type === "Terminating");
  assert.equal(terminating?.status, "True");
  const held = await call(server, "GET", `${WIDGETS}/held`);
  assert.ok(held.body.metadata.deletionTimestamp, "the custom resource is being deleted");
  const refused = await call(server, "POST", WIDGETS, { metadata: { name: "late" } });
  assert.equal(refused.status, 405);
  assert.equal((await call(server, "GET", `${CRDS}/widgets.example.com`)).status, 200);
  await call(server, "PATCH", `${WIDGETS}/held`, { metadata: { finalizers: null } }, MERGE);
  assert.equal((await call(server, "GET", `${CRDS}/widgets.example.com`)).status, 404);
  assert.equal((await call(server, "GET", WIDGETS)).status, 404);
});

Deno.test("an injected 403 names the verb, resource and namespace like RBAC does", async () => {
  await using server = await FakeApiServer.start();
  server.inject({ kind: "status", code: 403, match: { verb: "create" } });
  const denied = await call(server, "POST", CM, cm("x"));
  assert.deepEqual([denied.status, denied.body.reason, denied.body.details.kind], [
    403,
    "Forbidden",
    "configmaps",
  ]);
  assert.equal(
    denied.body.message,
    `configmaps is forbidden: User "fake-user" cannot create resource "configmaps" in API group "" in the namespace "default"`,
  );
  server.inject({ kind: "status", code: 500 });
  const internal = await call(server, "GET", CM);
  assert.deepEqual([internal.status, internal.body.reason], [500, "InternalError"]);
});
