// The watcher against the fake API server: listing, resuming, relisting after 410, bookmarks,
// inactivity, WatchList and its fallback, throttling and RBAC errors, and a stress run with
// dropped connections and compactions.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as toggles from "../../../lib/async/toggles.ts";
import * as api from "../../../lib/k8s/api.ts";
import * as connections from "../../../lib/k8s/connections.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import * as watching from "../../../lib/k8s/watching.ts";
import type * as references from "../../../lib/structs/references.ts";
import { FakeApiServer } from "../../_fixtures/fake_apiserver.ts";

const configmaps: references.Resource = {
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};

const FAST = {
  reconnectInitialDelaySeconds: 0.005,
  reconnectMaxDelaySeconds: 0.05,
  serverTimeoutMinSeconds: 60,
  serverTimeoutMaxSeconds: 60,
};

function transportFor(fake: FakeApiServer): transports.Transport {
  return new transports.Transport({
    server: fake.url,
    caCerts: [],
    insecureSkipTlsVerify: false,
    namespace: "default",
    source: "fake API server",
    authenticator: connections.fixedCredentials({ authorization: "Bearer fake-token" }),
  }, { settings: { retryInitialDelaySeconds: 0.005 } });
}

/** Consumes a watch in the background, recording events, until stopped. */
class Consumer {
  readonly events: watching.WatchEvent<api.KubernetesObject>[] = [];
  readonly state = new Map<string, api.KubernetesObject>();
  readonly #stop = new AbortController();
  readonly #done: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(transport: transports.Transport, options: watching.WatchOptions = {}) {
    this.#done = (async () => {
      for await (
        const batch of watching.watchBatches(transport, configmaps, {
          namespace: "default",
          signal: this.#stop.signal,
          ...options,
          settings: { ...FAST, ...options.settings },
        })
      ) {
        for (const event of batch) {
          this.events.push(event);
          if (event.type === "LISTED" || event.type === "ADDED" || event.type === "MODIFIED") {
            this.state.set(event.object.metadata!.uid!, event.object);
          } else if (event.type === "DELETED") {
            this.state.delete(event.object.metadata!.uid!);
          }
        }
        for (const wake of this.#waiters.splice(0)) wake();
      }
    })();
  }

  /** Waits until `condition` holds after some batch, or fails after `ms`. */
  async until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out waiting for ${what}`);
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#waiters.push(resolve);
      const timer = setTimeout(resolve, Math.min(left, 100));
      await promise;
      clearTimeout(timer);
    }
  }

  count(type: string): number {
    return this.events.filter((e) => e.type === type).length;
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}

async function create(
  transport: transports.Transport,
  name: string,
  data: Record<string, string> = {},
) {
  return await api.createObject(transport, configmaps, { metadata: { name }, data }, {
    namespace: "default",
  });
}

function watchRequests(fake: FakeApiServer) {
  return fake.requests.filter((r) => r.verb === "watch");
}

Deno.test("watch() lists the current state, marks it SYNCED, then follows changes", async () => {
  await using fake = await FakeApiServer.start();
  using transport = transportFor(fake);
  await create(transport, "a");
  await create(transport, "b");
  const consumer = new Consumer(transport);
  try {
    await consumer.until(() => consumer.count("SYNCED") === 1, "the initial listing");
    deepEqual(consumer.events.map((e) => e.type), ["LISTED", "LISTED", "SYNCED"]);
    await create(transport, "c");
    await api.patchObject(transport, configmaps, "a", { data: { k: "v" } }, {
      namespace: "default",
    });
    await api.deleteObject(transport, configmaps, "b", { namespace: "default" });
    await consumer.until(() => consumer.count("DELETED") === 1, "the deletion");
    deepEqual(consumer.events.slice(3).map((e) => e.type), ["ADDED", "MODIFIED", "DELETED"]);
    deepEqual([...consumer.state.values()].map((o) => o.metadata!.name).sort(), ["a", "c"]);
  } finally {
    await consumer.stop();
  }
});

Deno.test("watch() resumes from the last resourceVersion after a dropped connection, without relisting", async () => {
  await using fake = await FakeApiServer.start({ bookmarkIntervalMs: 0 });
  using transport = transportFor(fake);
  await create(transport, "a");
  const consumer = new Consumer(transport);
  try {
    await consumer.until(() => consumer.count("SYNCED") === 1, "the initial listing");
    const created = await create(transport, "b");
    await consumer.until(() => consumer.count("ADDED") === 1, "b");
    fake.dropWatches();
    await create(transport, "c");
    await consumer.until(() => consumer.count("ADDED") === 2, "c after the drop");
    equal(fake.requests.filter((r) => r.verb === "list").length, 1);
    const resumed = watchRequests(fake).at(-1)!;
    equal(resumed.query.resourceVersion, created.metadata!.resourceVersion);
  } finally {
    await consumer.stop();
  }
});

Deno.test("after 410 Expired, watch() relists, reports what vanished, and skips unchanged objects", async () => {
  await using fake = await FakeApiServer.start({ bookmarkIntervalMs: 0 });
  using transport = transportFor(fake);
  await create(transport, "stays");
  await create(transport, "changes");
  await create(transport, "goes");
  const consumer = new Consumer(transport);
  try {
    await consumer.until(() => consumer.count("SYNCED") === 1, "the initial listing");
    // Changes happen while the watcher is disconnected, then history is compacted away.
    fake.inject({ kind: "delay", ms: 300, match: { verb: "watch" } });
    fake.dropWatches();
    await api.patchObject(transport, configmaps, "changes", { data: { x: "1" } }, {
      namespace: "default",
    });
    await api.deleteObject(transport, configmaps, "goes", { namespace: "default" });
    fake.compact();
    await consumer.until(() => consumer.count("SYNCED") === 2, "the relisting");
    const after = consumer.events.slice(consumer.events.findIndex((e) => e.type === "SYNCED") + 1);
    const described = after.map((e) =>
      e.type === "SYNCED" || e.type === "ERROR" ? e.type : `${e.type} ${e.object.metadata!.name}`
    ).filter((d) => d !== "ERROR");
    deepEqual(described, ["DELETED goes", "LISTED changes", "SYNCED"]);
    deepEqual([...consumer.state.values()].map((o) => o.metadata!.name).sort(), [
      "changes",
      "stays",
    ]);
  } finally {
    await consumer.stop();
  }
});

Deno.test("a pause closes the watch at once, asks nothing meanwhile, and relists only the changes after it", async () => {
  await using fake = await FakeApiServer.start({ bookmarkIntervalMs: 0 });
  using transport = transportFor(fake);
  await create(transport, "stays");
  await create(transport, "changes");
  await create(transport, "goes");
  const pause = new toggles.ToggleSet();
  const peer = pause.make(false, "a higher peer");
  const consumer = new Consumer(transport, { pause });
  try {
    await consumer.until(() => consumer.count("SYNCED") === 1, "the initial listing");
    await consumer.until(() => fake.openWatches === 1, "the watch to be open");
    peer.set(true);
    await consumer.until(() => fake.openWatches === 0, "the watch to close for the pause");
    const asked = fake.requests.length;
    await api.patchObject(transport, configmaps, "changes", { data: { x: "1" } }, {
      namespace: "default",
    });
    await api.deleteObject(transport, configmaps, "goes", { namespace: "default" });
    await create(transport, "new");
    equal(consumer.events.length, 4, "nothing is reported while paused");
    equal(
      fake.requests.slice(asked).filter((r) => r.verb === "list" || r.verb === "watch").length,
      0,
      "nothing is asked while paused",
    );
    peer.set(false);
    await consumer.until(() => consumer.count("SYNCED") === 2, "the relisting after the pause");
    const after = consumer.events.slice(4).map((e) =>
      e.type === "SYNCED" || e.type === "ERROR" ? e.type : `${e.type} ${e.object.metadata!.name}`
    );
    deepEqual(after, ["DELETED goes", "LISTED changes", "LISTED new", "SYNCED"]);
    await consumer.until(() => fake.openWatches === 1, "the watch to be open again");
  } finally {
    await consumer.stop();
  }
});

Deno.test("bookmarks move the resume point even when no object changes", async () => {
  await using fake = await FakeApiServer.start({ bookmarkIntervalMs: 20 });
  using transport = transportFor(fake);
  const consumer = new Consumer(transport);
  try {
    await consumer.until(() => consumer.count("SYNCED") === 1, "the initial listing");
    // Writes elsewhere (another namespace) move the global resourceVersion on.
    await api.createObject(transport, { ...configmaps }, {
      metadata: { name: "x", namespace: "kube-system" },
    });
    const rv =
      (await api.listObjects(transport, configmaps, { namespace: "default" })).resourceVersion;
    await consumer.until(() => {
      fake.dropWatches();
      return watchRequests(fake).at(-1)?.query.resourceVersion === rv;
    }, "a watch resumed from the bookmark's resourceVersion");
  } finally {
    await consumer.stop();
  }
});

Deno.test("a silent stream is abandoned after the inactivity timeout and the watch reconnects", async () => {
  await using fake = await FakeApiServer.start({ bookmarkIntervalMs: 0 });
  using transport = transportFor(fake);
  const consumer = new Consumer(transport, { settings: { inactivityTimeoutSeconds: 0.2 } });
  try {
    await consumer.until(() => watchRequests(fake).length >= 3, "two reconnects");
    const errors = consumer.events.filter((e) => e.type === "ERROR");
    ok(errors.length >= 2);
    ok(
      errors.every((e) =>
        e.type === "ERROR" &&
        /No data from the watch of configmaps.v1 for 0.2 s/.test(e.error.message)
      ),
    );
  } finally {
    await consumer.stop();
  }
});

Deno.test("WatchList streams the initial state and ends it at the annotated bookmark", async () => {
  await using fake = await FakeApiServer.start();
  using transport = transportFor(fake);
  await create(transport, "a");
  await create(transport, "b");
  const consumer = new Consumer(transport, { settings: { watchList: true } });
  try {
    await consumer.until(() => consumer.count("SYNCED") === 1, "the streamed listing");
    await create(transport, "c");
    await consumer.until(() => consumer.count("ADDED") === 1, "c");
    deepEqual(consumer.events.map((e) => e.type), ["LISTED", "LISTED", "SYNCED", "ADDED"]);
    equal(fake.requests.filter((r) => r.verb === "list").length, 0);
    equal(watchRequests(fake)[0]!.query.sendInitialEvents, "true");
  } finally {
    await consumer.stop();
  }
});

Deno.test("WatchList falls back to list + watch when the server refuses streaming lists", async () => {
  await using fake = await FakeApiServer.start();
  using transport = transportFor(fake);
  await create(transport, "a");
  fake.inject({ kind: "status", code: 400, match: { verb: "watch" } });
  const consumer = new Consumer(transport, { settings: { watchList: true } });
  try {
    await consumer.until(() => consumer.count("SYNCED") === 1, "the listing after the fallback");
    equal(fake.requests.filter((r) => r.verb === "list").length, 1);
    await create(transport, "b");
    await consumer.until(() => consumer.count("ADDED") === 1, "b");
  } finally {
    await consumer.stop();
  }
});

Deno.test("a throttled watch waits as Retry-After says, and a forbidden one reports and keeps trying", async () => {
  await using fake = await FakeApiServer.start();
  using transport = transportFor(fake);
  fake.inject({ kind: "status", code: 429, retryAfterSeconds: 0, match: { verb: "watch" } });
  fake.inject({ kind: "status", code: 403, times: 2, match: { verb: "watch" } });
  const consumer = new Consumer(transport);
  try {
    await consumer.until(() => consumer.count("SYNCED") === 1, "the listing");
    await create(transport, "a");
    await consumer.until(() => consumer.count("ADDED") === 1, "a, once the faults are over");
    const reported = consumer.events.flatMap((e) => e.type === "ERROR" ? [e.error.name] : []);
    deepEqual(reported, ["ApiTooManyRequestsError", "ApiForbiddenError", "ApiForbiddenError"]);
    const first = consumer.events.find((e) => e.type === "ERROR");
    equal(first?.type === "ERROR" ? first.retryInMs : -1, 0);
  } finally {
    await consumer.stop();
  }
});

Deno.test("label and field selectors go to both the list and the watch", async () => {
  await using fake = await FakeApiServer.start();
  using transport = transportFor(fake);
  await api.createObject(transport, configmaps, { metadata: { name: "a", labels: { app: "x" } } }, {
    namespace: "default",
  });
  await api.createObject(transport, configmaps, { metadata: { name: "b", labels: { app: "y" } } }, {
    namespace: "default",
  });
  const consumer = new Consumer(transport, {
    labelSelector: "app=x",
    fieldSelector: "metadata.name!=zzz",
  });
  try {
    await consumer.until(() => consumer.count("SYNCED") === 1, "the listing");
    deepEqual([...consumer.state.values()].map((o) => o.metadata!.name), ["a"]);
    await consumer.until(() => watchRequests(fake).length === 1, "the watch");
    equal(watchRequests(fake)[0]!.query.labelSelector, "app=x");
    equal(fake.requests.find((r) => r.verb === "list")!.query.fieldSelector, "metadata.name!=zzz");
  } finally {
    await consumer.stop();
  }
});

Deno.test("stress: 2,000 changes, 20 dropped connections, 5 expiries: the final state is exact", async () => {
  await using fake = await FakeApiServer.start({ bookmarkIntervalMs: 50 });
  using transport = transportFor(fake);
  const consumer = new Consumer(transport);
  let lastSynced = -1;
  try {
    await consumer.until(() => consumer.count("SYNCED") === 1, "the initial listing");
    const names: string[] = [];
    let changes = 0;
    let drops = 0;
    let expiries = 0;
    let compactAfterWrite = false;
    for (let i = 0; changes < 2000; i++) {
      if (i % 5 !== 4 || names.length < 20) {
        const name = `cm-${i}`;
        await create(transport, name, { i: String(i) });
        names.push(name);
      } else if (i % 3 === 0) {
        const [victim] = names.splice(i % names.length, 1);
        await api.deleteObject(transport, configmaps, victim!, { namespace: "default" });
      } else {
        const target = names[i % names.length]!;
        await api.patchObject(transport, configmaps, target, { data: { i: String(i) } }, {
          namespace: "default",
        });
      }
      changes++;
      if (compactAfterWrite) {
        // The watcher is reconnecting (delayed) from an older resourceVersion: now it expires.
        const synced = consumer.count("SYNCED");
        fake.compact();
        compactAfterWrite = false;
        expiries++;
        await consumer.until(() => consumer.count("SYNCED") > synced, `relisting #${expiries}`);
      }
      if (changes % 100 === 50) {
        // Only a drop of an open watch is a drop: wait for the watcher to be connected.
        await consumer.until(() => fake.openWatches > 0, "an open watch");
        drops++;
        if (drops % 4 === 0) {
          fake.inject({ kind: "delay", ms: 100, match: { verb: "watch" } });
          compactAfterWrite = true;
        }
        fake.dropWatches();
      }
    }
    equal(drops, 20);
    equal(expiries, 5);
    const expected = () =>
      new Map(
        fake.objects("configmaps", "default").map((
          o,
        ) => [(o as api.KubernetesObject).metadata!.uid!, o]),
      );
    await consumer.until(
      () => {
        const want = expected();
        if (want.size !== consumer.state.size) return false;
        for (const [uid, object] of want) {
          const got = consumer.state.get(uid);
          if (
            got?.metadata?.resourceVersion !==
              (object as api.KubernetesObject).metadata!.resourceVersion
          ) return false;
        }
        return true;
      },
      "the consumer to hold the server's final state",
      30_000,
    );
    for (const [uid, object] of expected()) deepEqual(consumer.state.get(uid), object);
    ok(consumer.count("SYNCED") >= 6, `relisted ${consumer.count("SYNCED") - 1} times`);
    ok(watchRequests(fake).length >= 21, `${watchRequests(fake).length} watch requests`);
    // After the final listing, every event is news: no (uid, resourceVersion) pair twice.
    lastSynced = consumer.events.findLastIndex((e) => e.type === "SYNCED");
    const seen = new Set<string>();
    for (const event of consumer.events.slice(lastSynced + 1)) {
      if (event.type === "ERROR" || event.type === "SYNCED") continue;
      const key = `${event.object.metadata!.uid} ${event.object.metadata!.resourceVersion}`;
      ok(!seen.has(key), `duplicate event ${event.type} ${key}`);
      seen.add(key);
    }
  } finally {
    await consumer.stop();
  }
});

Deno.test("each watch request asks the server for a random timeout within the configured range", async () => {
  await using fake = await FakeApiServer.start({ bookmarkIntervalMs: 0 });
  using transport = transportFor(fake);
  const values = [0, 0.5, 0.999];
  let i = 0;
  const consumer = new Consumer(transport, {
    random: () => values[i++ % values.length]!,
    settings: {
      serverTimeoutMinSeconds: 100,
      serverTimeoutMaxSeconds: 200,
      reconnectInitialDelaySeconds: 0,
    },
  });
  try {
    for (let n = 1; n <= 3; n++) {
      await consumer.until(
        () => fake.openWatches > 0 && watchRequests(fake).length === n,
        `watch #${n}`,
      );
      fake.dropWatches();
    }
    // Backoff draws from the same source, so only the timeouts' range is pinned down here.
    const timeouts = watchRequests(fake).map((r) => Number(r.query.timeoutSeconds));
    ok(timeouts.every((t) => t >= 100 && t <= 200), String(timeouts));
    ok(new Set(timeouts).size > 1, `the timeouts vary: ${timeouts}`);
  } finally {
    await consumer.stop();
  }
});

Deno.test("a watch line that is not JSON is one ERROR naming the resource, and the watch goes on", async () => {
  // A server of our own: the list, then a watch whose first line is cut off, then a good one.
  let watches = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const url = new URL(request.url);
    if (url.searchParams.get("watch") !== "1") {
      return Response.json({
        kind: "ConfigMapList",
        metadata: { resourceVersion: "1" },
        items: [],
      });
    }
    watches++;
    const lines = watches === 1
      ? '{"type":"ADDED","object":{"metadata":{"name":"cut","uid":"u1","resourceVersion":"2"\n'
      : '{"type":"ADDED","object":{"metadata":{"name":"whole","uid":"u2","resourceVersion":"3"}}}\n';
    return new Response(lines, { headers: { "content-type": "application/json" } });
  });
  using transport = new transports.Transport({
    server: `http://127.0.0.1:${server.addr.port}`,
    caCerts: [],
    insecureSkipTlsVerify: false,
    namespace: "default",
    source: "a test server",
    authenticator: connections.fixedCredentials({ authorization: "Bearer t" }),
  });
  const consumer = new Consumer(transport);
  try {
    await consumer.until(() => consumer.count("ADDED") === 1, "the good line after the bad one");
    const errors = consumer.events.filter((e) => e.type === "ERROR");
    equal(errors.length, 1);
    const message = errors[0]!.type === "ERROR" ? errors[0]!.error.message : "";
    ok(message.startsWith("The watch of configmaps.v1 sent a line that is not JSON:"), message);
    ok(!message.includes("\n"), "one line");
    deepEqual(
      consumer.events.filter((e) => e.type === "ADDED").map((e) =>
        e.type === "ADDED" ? e.object.metadata!.name : ""
      ),
      ["whole"],
    );
  } finally {
    await consumer.stop();
  }
});
