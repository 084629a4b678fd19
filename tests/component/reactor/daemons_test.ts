// Daemons and timers of an operator in this process against the fake API server: spawned on
// creation behind the finalizer, stopped on a filter mismatch and respawned on a match, stopped
// before the finalizer goes on deletion, stopped by a pause and respawned on resume (though the
// relist reports nothing), and abandoned after their cancellation timeout.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as logging from "../../../lib/engines/logging.ts";
import * as coordinating from "../../../lib/reactor/coordinating.ts";
import * as running from "../../../lib/reactor/running.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as spawning from "../../../lib/registry/spawning.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";
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
const R = "kopfexamples.v1.kopf.dev";
const NS = "default";
const FINALIZER = "kopf.zalando.org/KopfFinalizerMarker";
const PATH = `/apis/kopf.dev/v1/namespaces/${NS}/kopfexamples`;

type Json = Record<string, unknown>;

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

function stored(server: FakeApiServer, name: string): Json | undefined {
  return server.objects("kopfexamples", NS).find((o) => (o.metadata as Json).name === name);
}

function finalizersOf(server: FakeApiServer, name: string): string[] {
  return ((stored(server, name)?.metadata as Json | undefined)?.finalizers ?? []) as string[];
}

async function captureLogs(): Promise<string[]> {
  const lines: string[] = [];
  await logging.configureLogging({
    level: Deno.env.get("DEBUG") ? "debug" : "info",
    format: "plain",
    output: (l) => lines.push(l),
  });
  return lines;
}

function start(
  server: FakeApiServer,
  registry: registries.OperatorRegistry,
  report?: coordinating.PeeringReport,
  onProcessed?: () => void,
) {
  const settings = operatorSettings.defaultSettings();
  settings.posting.enabled = false;
  const stop = new AbortController();
  const done = running.operator({
    registry,
    settings,
    namespaces: [NS],
    signal: stop.signal,
    connection: plainConnection(server.url),
    ...(report ? { peering: report } : {}),
    ...(onProcessed ? { onProcessed } : {}),
  });
  return async () => {
    stop.abort();
    await done;
  };
}

Deno.test({
  name: "daemons: spawned on creation behind the finalizer; on deletion stopped before it goes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES] });
    await captureLogs();
    const registry = new registries.OperatorRegistry();
    const events: string[] = [];
    spawning.daemon(R, { registry }, async function monitor({ name, stopped }) {
      events.push(`start ${name}`);
      await stopped.wait();
      events.push(`stop ${name}: ${stopped.reason}`);
      // The finalizer is still there while the daemon stops.
      events.push(`finalizer ${finalizersOf(server, name).includes(FINALIZER)}`);
    });
    const stop = start(server, registry);
    try {
      await request(server, "POST", PATH, { metadata: { name: "one" }, spec: {} });
      await until(() => events.includes("start one"), "the daemon to start");
      await until(() => finalizersOf(server, "one").includes(FINALIZER), "the finalizer");
      await request(server, "DELETE", `${PATH}/one`);
      await until(() => stored(server, "one") === undefined, "the object to be gone");
      deepEqual(events, ["start one", "stop one: deleted", "finalizer true"]);
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "daemons: stopped when the object stops matching, respawned when it matches again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES] });
    await captureLogs();
    const registry = new registries.OperatorRegistry();
    const events: string[] = [];
    spawning.daemon(
      R,
      { registry, labels: { watched: "yes" } },
      async function monitor({ stopped }) {
        events.push("start");
        await stopped.wait();
        events.push(`stop: ${stopped.reason}`);
      },
    );
    const stop = start(server, registry);
    try {
      await request(server, "POST", PATH, {
        metadata: { name: "flip", labels: { watched: "yes" } },
      });
      await until(() => events.length === 1, "the daemon to start");
      await request(server, "PATCH", `${PATH}/flip`, { metadata: { labels: { watched: "no" } } });
      await until(() => events.length === 2, "the daemon to stop");
      await until(() => !finalizersOf(server, "flip").includes(FINALIZER), "the finalizer to go");
      await request(server, "PATCH", `${PATH}/flip`, { metadata: { labels: { watched: "yes" } } });
      await until(() => events.length === 3, "the daemon to start again");
      deepEqual(events, ["start", "stop: filters mismatch", "start"]);
      await until(() => finalizersOf(server, "flip").includes(FINALIZER), "the finalizer again");
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "daemons: a pause stops them ('operator paused'), the resume respawns them without events",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES] });
    await captureLogs();
    const registry = new registries.OperatorRegistry();
    const events: string[] = [];
    const ticks: string[] = [];
    spawning.daemon(R, { registry }, async function monitor({ name, stopped }) {
      events.push(`start ${name}`);
      await stopped.wait();
      events.push(`stop ${name}: ${stopped.reason}`);
    });
    spawning.timer(R, { registry, interval: 0.05 }, function tick({ name }) {
      ticks.push(name);
    });
    const report = coordinating.newReport();
    const pause = report.paused.make(false, "test pause");
    let processed = 0;
    const stop = start(server, registry, report, () => processed++);
    try {
      for (const name of ["a", "b"]) await request(server, "POST", PATH, { metadata: { name } });
      await until(() => events.length === 2 && ticks.length >= 4, "both to start and tick");
      pause.set(true);
      await until(() => events.length === 4, "both daemons to stop");
      ok(events.includes("stop a: operator paused") && events.includes("stop b: operator paused"));
      const frozen = ticks.length;
      const processedBefore = processed;
      pause.set(false);
      await until(() => events.length === 6, "both daemons to start again");
      equal(processed, processedBefore, "no event was processed: the relist reported nothing");
      ok(ticks.length <= frozen + 2, "at most the ticks in flight ran while paused");
      await until(() => ticks.length >= frozen + 4, "the timers to tick again");
      deepEqual(events.slice(4).sort(), ["start a", "start b"]);
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "daemons: one that ignores its stop is abandoned after cancellationTimeout, logged once, " +
    "and the finalizer goes",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES] });
    const logs = await captureLogs();
    const registry = new registries.OperatorRegistry();
    let cancelled = false;
    spawning.daemon(
      R,
      { registry, cancellationBackoff: 0.2, cancellationTimeout: 0.3 },
      function stubborn({ signal }) {
        signal.addEventListener("abort", () => cancelled = true);
        return new Promise(() => {}); // ignores both the stop and the cancellation
      },
    );
    const stop = start(server, registry);
    try {
      await request(server, "POST", PATH, { metadata: { name: "stuck" } });
      await until(() => finalizersOf(server, "stuck").includes(FINALIZER), "the finalizer");
      const deleted = Date.now();
      await request(server, "DELETE", `${PATH}/stuck`);
      await until(() => stored(server, "stuck") === undefined, "the object to be gone");
      const took = Date.now() - deleted;
      ok(took >= 500, `released only after backoff + timeout, took ${took} ms`);
      ok(cancelled, "the signal was aborted after the backoff");
      const warnings = logs.filter((l) => l.includes("did not exit in time"));
      equal(warnings.length, 1, warnings.join("\n"));
      ok(warnings[0]!.includes("[default/stuck]"), warnings[0]);
      ok(warnings[0]!.includes("Daemon 'stubborn'"), warnings[0]);
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "timers: each call's patch and result are written to the object",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES] });
    await captureLogs();
    const registry = new registries.OperatorRegistry();
    let count = 0;
    spawning.timer(R, { registry, interval: 0.05 }, function counter({ patch }) {
      patch.status.count = ++count;
      return { last: count };
    });
    const stop = start(server, registry);
    try {
      await request(server, "POST", PATH, { metadata: { name: "t" } });
      await until(() => Number((stored(server, "t")?.status as Json)?.count) >= 3, "3 ticks");
      const status = stored(server, "t")!.status as Json;
      equal((status.counter as Json).last, status.count);
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "daemons with a delete handler: the finalizer goes once both the handler and the slow " +
    "stop are done",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES] });
    await captureLogs();
    const registry = new registries.OperatorRegistry();
    const events: string[] = [];
    spawning.daemon(R, { registry }, async function slow({ name, stopped }) {
      await stopped.wait();
      events.push(`stopping: ${stopped.reason}`);
      await new Promise((resolve) => setTimeout(resolve, 300)); // a cleanup that takes a while
      events.push(`stopped, the object is still there: ${stored(server, name) !== undefined}`);
    });
    on.delete(R, { registry }, function cleanup({ name }) {
      events.push(
        `delete handler, the object is still there: ${stored(server, name) !== undefined}`,
      );
    });
    const stop = start(server, registry);
    try {
      await request(server, "POST", PATH, { metadata: { name: "both" } });
      await until(() => finalizersOf(server, "both").includes(FINALIZER), "the finalizer");
      await request(server, "DELETE", `${PATH}/both`);
      await until(() => stored(server, "both") === undefined, "the object to be gone");
      deepEqual(events, [
        "stopping: deleted",
        "delete handler, the object is still there: true",
        "stopped, the object is still there: true",
      ]);
    } finally {
      await stop();
    }
  },
});
