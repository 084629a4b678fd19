import { deepEqual, equal, throws } from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import * as clocks from "../../../lib/async/clock.ts";
import * as indexing from "../../../lib/engines/indexing.ts";
import * as errors from "../../../lib/handling/errors.ts";
import type * as contexts from "../../../lib/registry/contexts.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";
import type * as references from "../../../lib/structs/references.ts";

const pods: references.Resource = {
  group: "",
  version: "v1",
  plural: "pods",
  kind: "Pod",
  namespaced: true,
};
const deployments: references.Resource = {
  group: "apps",
  version: "v1",
  plural: "deployments",
  kind: "Deployment",
  namespaced: true,
};

function pod(name: string, labels: Record<string, string> = {}): contexts.Body {
  return { metadata: { name, namespace: "default", uid: `uid-${name}`, labels } };
}

/** Indexes events of objects with a fake clock; each object keeps its memory. */
function harness(registry: registries.OperatorRegistry) {
  const clock = new clocks.FakeClock();
  const indexes = new indexing.OperatorIndexes(registry.allIndexingHandlers());
  const memories = new Map<string, indexing.IndexingMemory>();
  const settings = operatorSettings.defaultSettings();
  return {
    clock,
    indexes,
    index(
      body: contexts.Body,
      type: contexts.RawEvent["type"] = "MODIFIED",
      resource = pods,
    ): Promise<indexing.IndexingResult> {
      const key = indexing.objectKey(body);
      const memory = memories.get(key) ?? indexing.newMemory();
      memories.set(key, memory);
      return indexing.indexObject({
        indexes,
        resource,
        registry,
        settings,
        clock,
        logger: getLogger(["kopf", "indexing"]),
        memo: {},
        memory,
        event: { type, object: body },
      });
    },
    contents(id: string): Record<string, unknown[]> {
      const result: Record<string, unknown[]> = {};
      for (const [key, store] of indexes.indexes[id] ?? []) result[String(key)] = [...store];
      return result;
    },
  };
}

Deno.test("indexObject: results are stored; a deletion removes the object's values", async () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry }, function byApp({ labels, name }) {
    return { [labels.app ?? "none"]: name };
  });
  const h = harness(registry);
  await h.index(pod("p1", { app: "web" }), undefined);
  await h.index(pod("p2", { app: "web" }), "ADDED");
  deepEqual(h.contents("byApp"), { web: ["p1", "p2"] });
  await h.index(pod("p1", { app: "web" }), "DELETED");
  deepEqual(h.contents("byApp"), { web: ["p2"] });
});

Deno.test("indexObject: undefined keeps the previous values; an empty object drops them", async () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry }, function byApp({ labels, name }) {
    if (labels.skip) return undefined;
    if (labels.none) return {};
    return { [labels.app ?? ""]: name };
  });
  const h = harness(registry);
  await h.index(pod("p1", { app: "web" }));
  await h.index(pod("p1", { app: "db", skip: "yes" }));
  deepEqual(h.contents("byApp"), { web: ["p1"] }, "Kopf's None: nothing new is indexed");
  await h.index(pod("p1", { app: "db", none: "yes" }));
  deepEqual(h.contents("byApp"), {});
});

Deno.test("indexObject: an object that stops matching loses its values, and gets them back", async () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry, labels: { indexed: "yes" } }, function names({ name }) {
    return name;
  });
  const h = harness(registry);
  await h.index(pod("p1", { indexed: "yes" }));
  deepEqual(h.contents("names"), { null: ["p1"] });
  await h.index(pod("p1", { indexed: "no" }));
  deepEqual(h.contents("names"), {});
  await h.index(pod("p1", { indexed: "yes" }));
  deepEqual(h.contents("names"), { null: ["p1"] });
});

Deno.test("indexObject: a temporary failure drops the values until the retry after the backoff", async () => {
  const registry = new registries.OperatorRegistry();
  const calls: number[] = [];
  on.index(
    "pods",
    { registry, errors: "temporary", backoff: 30 },
    function flaky({ retry, labels }) {
      calls.push(retry);
      if (labels.broken) throw new Error("not now");
      return { ok: retry };
    },
  );
  const h = harness(registry);
  await h.index(pod("p1"));
  deepEqual(h.contents("flaky"), { ok: [0] });
  const failed = await h.index(pod("p1", { broken: "yes" }));
  equal(failed.delay, 30);
  deepEqual(h.contents("flaky"), {});
  h.clock.advance(10_000);
  const early = await h.index(pod("p1"));
  equal(early.delay, 20, "an event before the backoff does not run it, and keeps no values");
  deepEqual(h.contents("flaky"), {});
  h.clock.advance(20_000);
  const retried = await h.index(pod("p1"));
  equal(retried.delay, undefined);
  deepEqual(h.contents("flaky"), { ok: [1] }, "retry counts the attempts since the failure");
  await h.index(pod("p1"));
  deepEqual(h.contents("flaky"), { ok: [0] }, "a success resets the counters");
  deepEqual(calls, [0, 0, 1, 0]);
});

Deno.test("indexObject: a TemporaryError's delay, and the retries limit, make it permanent", async () => {
  const registry = new registries.OperatorRegistry();
  let calls = 0;
  on.index("pods", { registry, retries: 2 }, function limited() {
    calls++;
    throw new errors.TemporaryError("later", { delay: 5 });
  });
  const h = harness(registry);
  equal((await h.index(pod("p1"))).delay, 5);
  h.clock.advance(5_000);
  equal((await h.index(pod("p1"))).delay, undefined, "the next attempt would exceed 2 retries");
  h.clock.advance(60_000);
  await h.index(pod("p1"));
  equal(calls, 2, "failed for good: the object is excluded from this index");
  deepEqual(h.contents("limited"), {});
});

Deno.test("indexObject: a permanent failure excludes the object; other objects go on", async () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry, errors: "permanent" }, function strict({ name, labels }) {
    if (labels.bad) throw new Error("bad pod");
    return name;
  });
  const h = harness(registry);
  await h.index(pod("p1"));
  await h.index(pod("p2"));
  await h.index(pod("p1", { bad: "yes" }));
  await h.index(pod("p1"));
  deepEqual(h.contents("strict"), { null: ["p2"] });
});

Deno.test("indexObject: an ignored error keeps the stale values", async () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry }, function lenient({ name, labels }) {
    if (labels.bad) throw new Error("bad pod");
    return { [name]: labels.version };
  });
  const h = harness(registry);
  await h.index(pod("p1", { version: "1" }));
  const result = await h.index(pod("p1", { version: "2", bad: "yes" }));
  equal(result.delay, undefined);
  deepEqual(h.contents("lenient"), { p1: ["1"] });
});

Deno.test("indexObject: functions of one id for two resources feed one index", async () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry, id: "owners" }, function ofPods({ name }) {
    return { pods: name };
  });
  on.index("deployments", { registry, id: "owners" }, function ofDeployments({ name }) {
    return { deployments: name };
  });
  const h = harness(registry);
  await h.index(pod("p1"));
  await h.index(pod("d1"), undefined, deployments);
  deepEqual(h.contents("owners"), { pods: ["p1"], deployments: ["d1"] });
  await h.index(pod("d1"), "DELETED", deployments);
  deepEqual(h.contents("owners"), { pods: ["p1"] });
});

Deno.test("indexObject: the index function gets the indexes, the memo and no patch", async () => {
  const registry = new registries.OperatorRegistry();
  const seen: unknown[] = [];
  on.index("pods", { registry }, function selfAware(context) {
    const fields = context as unknown as Record<string, unknown>;
    seen.push(["selfAware" in fields, "patch" in fields, context.retry, context.name]);
    return 1;
  });
  const h = harness(registry);
  await h.index(pod("p1"));
  deepEqual(seen, [[true, false, 0, "p1"]]);
});

Deno.test("OperatorIndexes: every index exists from the start; unknown ids are a clear error", () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry }, function a() {});
  on.index("deployments", { registry, id: "a" }, function b() {});
  const operatorIndexes = new indexing.OperatorIndexes(registry.allIndexingHandlers());
  deepEqual(Object.keys(operatorIndexes.indexes), ["a"]);
  equal(operatorIndexes.indexes.a?.size, 0);
  equal(operatorIndexes.any, true);
  equal(new indexing.OperatorIndexes([]).any, false);
  throws(
    () => operatorIndexes.indexer("late"),
    /^Error: No index "late": it was registered after the operator started$/,
  );
});

Deno.test("FirstListing: complete once the listing ended and every listed object is indexed", () => {
  const operatorIndexes = new indexing.OperatorIndexes([]);
  const gate = operatorIndexes.incomplete;
  const listing = new indexing.FirstListing(gate, "pods.v1");
  equal(gate.on, true);
  deepEqual(gate.reasons(), ["indexing pods.v1"]);
  listing.listed("a");
  listing.listed("b");
  listing.indexed("a");
  equal(gate.on, true, "the listing goes on");
  listing.synced();
  equal(gate.on, true, "b is not indexed yet");
  listing.indexed("b");
  equal(gate.on, false);
  equal(listing.complete, true);
  listing.listed("c"); // a relisting later: the gate stays open
  equal(gate.on, false);
  listing.close();
  deepEqual(gate.reasons(), []);
});

Deno.test("FirstListing: an empty listing completes at once; a stopped watcher frees the gate", () => {
  const gate = new indexing.OperatorIndexes([]).incomplete;
  const empty = new indexing.FirstListing(gate, 'pods.v1 in namespace "a"');
  const stuck = new indexing.FirstListing(gate, 'pods.v1 in namespace "b"');
  empty.synced();
  deepEqual(gate.reasons(), ['indexing pods.v1 in namespace "b"']);
  stuck.close();
  equal(gate.on, false);
  empty.close();
});
