// Indexes (`on.index`) in an operator in this process against the fake API server: an index of
// pods follows their creation, changes, deletion and filters; errors keep or drop values as the
// errors mode says; resource handlers wait for the initial listing; indexing writes nothing.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as indexing from "../../../lib/engines/indexing.ts";
import * as logging from "../../../lib/engines/logging.ts";
import * as errors from "../../../lib/handling/errors.ts";
import * as probing from "../../../lib/kits/probing.ts";
import * as running from "../../../lib/reactor/running.ts";
import type * as contexts from "../../../lib/registry/contexts.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";
import type * as indexes from "../../../lib/structs/indexes.ts";
import { FakeApiServer } from "../../_fixtures/fake_apiserver.ts";
import { plainConnection, until } from "../../_fixtures/fake_operator.ts";

const EXAMPLES = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfexamples",
  kind: "KopfExample",
  namespaced: true,
  subresources: ["status"],
};
const PODS = { group: "", version: "v1", plural: "pods", kind: "Pod", namespaced: true };
const NS = "default";
const pods = `/api/v1/namespaces/${NS}/pods`;
const examples = `/apis/kopf.dev/v1/namespaces/${NS}/kopfexamples`;

type ByApp = indexes.Index<string, string>;

async function request(server: FakeApiServer, method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      "content-type": method === "PATCH" ? "application/merge-patch+json" : "application/json",
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

function createPod(server: FakeApiServer, name: string, labels: Record<string, string>) {
  return request(server, "POST", pods, {
    metadata: { name, labels },
    spec: { containers: [{ name: "main", image: "busybox" }] },
  });
}

function relabel(server: FakeApiServer, name: string, labels: Record<string, string | null>) {
  return request(server, "PATCH", `${pods}/${name}`, { metadata: { labels } });
}

/** The index as plain data: key → sorted values. */
function snapshot(index: indexes.Index | undefined): Record<string, unknown[]> {
  const result: Record<string, unknown[]> = {};
  for (const [key, store] of index ?? []) result[String(key)] = [...store].sort();
  return result;
}

interface Running {
  /** The indexes as the startup handler got them (live). */
  readonly indexes: () => indexes.Indexes;
  stop(): Promise<void>;
}

/** Runs an operator with the registry; a startup handler keeps the indexes it was given. */
function start(
  server: FakeApiServer,
  registry: registries.OperatorRegistry,
  configure: (settings: operatorSettings.OperatorSettings) => void = () => {},
): Running {
  let kept: indexes.Indexes = {};
  on.startup({ registry }, function keepIndexes(context) {
    const ids = registry.allIndexingHandlers().map((h) => h.id);
    kept = Object.fromEntries(
      ids.map((id) => [id, (context as unknown as Record<string, indexes.Index>)[id]!]),
    );
  });
  const settings = operatorSettings.defaultSettings();
  configure(settings);
  const stop = new AbortController();
  const done = running.operator({
    registry,
    settings,
    namespaces: [NS],
    signal: stop.signal,
    connection: plainConnection(server.url),
  });
  return {
    indexes: () => kept,
    async stop() {
      stop.abort();
      await done;
    },
  };
}

async function quietLogs(): Promise<string[]> {
  const lines: string[] = [];
  await logging.configureLogging({
    level: Deno.env.get("DEBUG") ? "debug" : "info",
    format: "plain",
    output: (l) => lines.push(l),
  });
  return lines;
}

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
}

test("indexes: pods by label follow the listing, creations, changes and deletions", async () => {
  await using server = await FakeApiServer.start({ resources: [EXAMPLES, PODS] });
  await quietLogs();
  await createPod(server, "p1", { app: "web" });
  await createPod(server, "p2", { app: "db" });
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry }, function podsByApp({ labels, name }) {
    return labels.app === undefined ? undefined : { [labels.app]: name };
  });
  const op = start(server, registry);
  try {
    const index = () => snapshot(op.indexes().podsByApp);
    await until(() => index().web?.length === 1 && index().db?.length === 1, "the listing");
    deepEqual(index(), { web: ["p1"], db: ["p2"] });
    await createPod(server, "p3", { app: "web" });
    await until(() => index().web?.length === 2, "a created pod");
    deepEqual(index(), { web: ["p1", "p3"], db: ["p2"] });
    await relabel(server, "p1", { app: "db" });
    await until(() => index().db?.length === 2, "a relabelled pod");
    deepEqual(index(), { web: ["p3"], db: ["p1", "p2"] });
    await request(server, "DELETE", `${pods}/p3`);
    await until(() => index().web === undefined, "the empty store to go");
    deepEqual(index(), { db: ["p1", "p2"] });
    equal(op.indexes().podsByApp?.has("web"), false);
  } finally {
    await op.stop();
  }
});

test("indexes: an object that stops matching the filters loses its values", async () => {
  await using server = await FakeApiServer.start({ resources: [EXAMPLES, PODS] });
  await quietLogs();
  await createPod(server, "p1", { app: "web", indexed: "yes" });
  const registry = new registries.OperatorRegistry();
  // `when` is checked here; exact labels go to the server as a selector (its DELETED events).
  on.index("pods", {
    registry,
    when: ({ labels }) => labels.indexed === "yes",
  }, function byWhen({ name }) {
    return name;
  });
  on.index("pods", { registry, labels: { tier: "front" } }, function byLabel({ name }) {
    return name;
  });
  const op = start(server, registry);
  try {
    const of = (id: string) => snapshot(op.indexes()[id]);
    await until(() => of("byWhen").null?.length === 1, "the listing");
    await relabel(server, "p1", { tier: "front" });
    await until(() => of("byLabel").null?.length === 1, "the label filter to match");
    await relabel(server, "p1", { indexed: null });
    await until(() => of("byWhen").null === undefined, "the when filter to stop matching");
    deepEqual(of("byLabel"), { null: ["p1"] });
    await relabel(server, "p1", { tier: "back" });
    await until(() => of("byLabel").null === undefined, "the label filter to stop matching");
    await relabel(server, "p1", { indexed: "yes" });
    await until(() => of("byWhen").null?.length === 1, "the when filter to match again");
  } finally {
    await op.stop();
  }
});

test("indexes: errors keep the values (ignored) or drop them (permanent, temporary)", async () => {
  await using server = await FakeApiServer.start({ resources: [EXAMPLES, PODS] });
  const logs = await quietLogs();
  await createPod(server, "p1", { app: "web" });
  const registry = new registries.OperatorRegistry();
  const fail = (labels: Readonly<Record<string, string>>) => {
    if (labels.fail === "yes") throw new Error(`failing for ${labels.app}`);
  };
  on.index("pods", { registry }, function ignored({ labels }) {
    fail(labels);
    return { [labels.app!]: true };
  });
  on.index("pods", { registry, errors: "permanent" }, function permanent({ labels }) {
    fail(labels);
    return { [labels.app!]: true };
  });
  on.index("pods", { registry }, function explicit({ labels }) {
    if (labels.fail === "yes") throw new errors.PermanentError("not indexable");
    return { [labels.app!]: true };
  });
  let attempts = 0;
  on.index(
    "pods",
    { registry, errors: "temporary", backoff: 0.2 },
    function temporary({ labels, retry }) {
      if (labels.fail === "yes" && retry === 0) {
        attempts++;
        throw new Error("failing once");
      }
      return { [labels.app!]: retry };
    },
  );
  const op = start(server, registry);
  try {
    const of = (id: string) => snapshot(op.indexes()[id]);
    const all = ["ignored", "permanent", "explicit", "temporary"];
    await until(() => all.every((id) => of(id).web !== undefined), "the listing");
    await relabel(server, "p1", { fail: "yes", app: "db" });
    await until(() => of("permanent").web === undefined, "the permanent failure");
    deepEqual(of("ignored"), { web: [true] }, "an ignored error keeps the stale values");
    deepEqual(of("permanent"), {});
    await until(() => of("explicit").web === undefined, "the PermanentError");
    deepEqual(of("explicit"), {});
    // The temporary error dropped the values; the retry after the backoff comes on a timer.
    await until(() => of("temporary").db !== undefined, "the retry after the backoff");
    deepEqual(of("temporary"), { db: [1] });
    equal(attempts, 1);
    // Failed for good: excluded from now on, even when the function would succeed.
    await relabel(server, "p1", { fail: null, app: "web" });
    await until(
      () => of("ignored").web !== undefined && of("temporary").web !== undefined,
      "a new event",
    );
    deepEqual(of("permanent"), {});
    deepEqual(of("explicit"), {});
    deepEqual(of("temporary"), { web: [0] }, "a success resets the retries");
    ok(
      logs.some((l) => l.includes("Handler 'ignored' failed with an exception and will ignore it")),
    );
    const writes = server.requests.filter((r) => r.method !== "GET" && !r.path.startsWith(pods));
    deepEqual(
      writes.map((r) => `${r.method} ${r.path}`),
      [],
      "indexing writes nothing, not even Events",
    );
    const podWrites = server.requests.filter((r) => r.method !== "GET" && r.path.startsWith(pods));
    equal(podWrites.length, 3, "only the test's own requests touched the pods");
  } finally {
    await op.stop();
  }
});

test("indexes: resource handlers wait until the indexed resources are listed", async () => {
  await using server = await FakeApiServer.start({ resources: [EXAMPLES, PODS] });
  await quietLogs();
  await createPod(server, "p1", { app: "web" });
  await createPod(server, "p2", { app: "web" });
  await request(server, "POST", examples, { metadata: { name: "e1" }, spec: {} });
  server.inject({ kind: "delay", ms: 1_000, match: { verb: "list", pathIncludes: "/pods" } });
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry }, function podsByApp({ labels, name }) {
    return { [labels.app ?? ""]: name };
  });
  const seen: Record<string, unknown>[] = [];
  on.create(
    "kopfexamples",
    { registry },
    function created({ name, podsByApp }: contexts.ChangingContext & { podsByApp: ByApp }) {
      seen.push({ name, pods: [...podsByApp.get("web") ?? []].sort() });
      return { pods: [...podsByApp.get("web") ?? []].sort() };
    },
  );
  on.event(
    "kopfexamples",
    { registry },
    function watched({ name, podsByApp }: contexts.EventContext & { podsByApp: ByApp }) {
      seen.push({ event: name, size: podsByApp.size });
    },
  );
  let atStartup = -1;
  on.startup(
    { registry },
    function early({ podsByApp }: contexts.ActivityContext & { podsByApp: ByApp }) {
      atStartup = podsByApp.size;
    },
  );
  const op = start(server, registry);
  try {
    await until(() => seen.length >= 2, "the handlers of the example");
    equal(atStartup, 0, "a startup handler sees the index empty, before the listing");
    // The first event and the creation (more events follow the handler's own patch).
    deepEqual(seen.slice(0, 2), [{ event: "e1", size: 1 }, { name: "e1", pods: ["p1", "p2"] }]);
    await until(() => {
      const [object] = server.objects("kopfexamples", NS);
      return (object?.status as Record<string, unknown> | undefined)?.created !== undefined;
    }, "the result");
    const [object] = server.objects("kopfexamples", NS);
    deepEqual((object?.status as Record<string, unknown>).created, { pods: ["p1", "p2"] });
  } finally {
    await op.stop();
  }
});

test("indexes: a handler of the indexed resource sees the index updated with its own object", async () => {
  await using server = await FakeApiServer.start({ resources: [EXAMPLES, PODS] });
  await quietLogs();
  const registry = new registries.OperatorRegistry();
  on.index("kopfexamples", { registry }, function examplesByName({ name, memo }) {
    memo.indexedAs = name;
    return { [name]: name.toUpperCase() };
  });
  const seen: unknown[] = [];
  on.create(
    "kopfexamples",
    { registry },
    function created(
      { name, memo, examplesByName }: contexts.ChangingContext & { examplesByName: ByApp },
    ) {
      seen.push([name, [...examplesByName.get(name) ?? []], memo.indexedAs]);
    },
  );
  const op = start(server, registry);
  try {
    await until(() => op.indexes().examplesByName !== undefined, "the operator to start");
    await request(server, "POST", examples, { metadata: { name: "e1" }, spec: {} });
    await until(() => seen.length === 1, "the create handler");
    deepEqual(seen, [["e1", ["E1"], "e1"]], "the index and the memo are the object's own");
    await request(server, "DELETE", `${examples}/e1`);
    await until(() => op.indexes().examplesByName?.size === 0, "the deletion");
  } finally {
    await op.stop();
  }
});

test("indexes: probes get the indexes too (as kopf run gives them to its liveness endpoint)", async () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry }, function podsByApp() {});
  on.probe(
    { registry },
    function podCount({ podsByApp }: contexts.ActivityContext & { podsByApp: ByApp }) {
      return podsByApp.get("web")?.size ?? 0;
    },
  );
  const operatorIndexes = new indexing.OperatorIndexes(registry.allIndexingHandlers());
  const cache = new probing.ProbeCache(
    { registry, indexes: operatorIndexes.indexes },
    { cacheSeconds: 0 },
  );
  deepEqual(await cache.results(), { probes: { podCount: 0 }, probeErrors: {} });
  operatorIndexes.indexer("podsByApp").replace("uid-1", { web: "p1" });
  deepEqual(await cache.results(), { probes: { podCount: 1 }, probeErrors: {} });
});
