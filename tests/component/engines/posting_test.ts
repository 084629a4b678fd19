// Events about objects against the fake API server: the body as posted, where it goes, what is
// never posted, and how the queue behaves when the server is slow, failing, or stormed.

import { deepEqual, equal, match, ok } from "node:assert/strict";
import * as clocks from "../../../lib/async/clock.ts";
import * as logging from "../../../lib/engines/logging.ts";
import * as posting from "../../../lib/engines/posting.ts";
import * as connections from "../../../lib/k8s/connections.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import * as postingSettings from "../../../lib/settings/posting.ts";
import { FakeApiServer } from "../../_fixtures/fake_apiserver.ts";
import { recordingLogger } from "../../_fixtures/loggers.ts";

const kopfexamples = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfexamples",
  kind: "KopfExample",
};

const example = {
  apiVersion: "kopf.dev/v1",
  kind: "KopfExample",
  metadata: {
    name: "kopf-example-1",
    namespace: "team-a",
    uid: "4b1c2f3e-0000-4000-8000-000000000001",
    resourceVersion: "42",
  },
  spec: { field: "value" },
};

const node = {
  apiVersion: "v1",
  kind: "Node",
  metadata: { name: "worker-1", uid: "4b1c2f3e-0000-4000-8000-0000000000aa" },
};

function transportTo(fake: FakeApiServer, namespace = "default"): transports.Transport {
  return new transports.Transport({
    server: fake.url,
    caCerts: [],
    insecureSkipTlsVerify: false,
    namespace,
    source: "fake API server",
    authenticator: connections.fixedCredentials({ authorization: "Bearer fake-token" }),
  }, { settings: { retryInitialDelaySeconds: 0.01, retryMaxDelaySeconds: 0.02 } });
}

async function serverWithNamespace(name: string): Promise<FakeApiServer> {
  const fake = await FakeApiServer.start();
  using transport = transportTo(fake);
  await transport.request("POST", "/api/v1/namespaces", { body: { metadata: { name } } });
  return fake;
}

function settingsWith(
  overrides: Partial<postingSettings.PostingSettings> = {},
): postingSettings.PostingSettings {
  return { ...postingSettings.defaultPosting(), ...overrides };
}

/** Waits for a condition, failing with `what` after the deadline. */
async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function eventPosts(fake: FakeApiServer): number {
  return fake.requests.filter((r) => r.method === "POST" && r.path.endsWith("/events")).length;
}

Deno.test("an Event about a namespaced object has Kopf's fields and lives in the object's namespace", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const clock = new clocks.FakeClock(1_700_000_000_000);
  const settings = settingsWith({ reportingComponent: "my-operator", reportingInstance: "pod-1" });
  const poster = new posting.EventPoster({ transport, clock, settings });
  poster.start();
  poster.post({ involved: example, type: "Normal", reason: "Created", message: "All good" });
  await until("the Event exists", () => fake.objects("events", "team-a").length === 1);
  await poster.stop();

  const event = fake.objects("events", "team-a")[0] ?? {};
  const metadata = event.metadata as Record<string, unknown>;
  match(String(metadata.name), /^kopf-event-[a-z0-9]{5}$/);
  equal(metadata.generateName, "kopf-event-");
  equal(metadata.namespace, "team-a");
  deepEqual(
    {
      apiVersion: event.apiVersion,
      kind: event.kind,
      involvedObject: event.involvedObject,
      type: event.type,
      reason: event.reason,
      message: event.message,
      action: event.action,
      source: event.source,
      reportingComponent: event.reportingComponent,
      reportingInstance: event.reportingInstance,
      firstTimestamp: event.firstTimestamp,
      lastTimestamp: event.lastTimestamp,
      eventTime: event.eventTime,
    },
    {
      apiVersion: "v1",
      kind: "Event",
      involvedObject: {
        apiVersion: "kopf.dev/v1",
        kind: "KopfExample",
        name: "kopf-example-1",
        namespace: "team-a",
        uid: "4b1c2f3e-0000-4000-8000-000000000001",
        resourceVersion: "42",
      },
      type: "Normal",
      reason: "Created",
      message: "All good",
      action: "Action?",
      source: { component: "my-operator" },
      reportingComponent: "my-operator",
      reportingInstance: "pod-1",
      firstTimestamp: "2023-11-14T22:13:20.000000Z",
      lastTimestamp: "2023-11-14T22:13:20.000000Z",
      eventTime: "2023-11-14T22:13:20.000000Z",
    },
  );
  deepEqual(poster.stats, { posted: 1, failed: 0, dropped: 0, throttled: 0, skipped: 0 });
});

Deno.test("an Event about a cluster-scoped object lives in the context's namespace", async () => {
  await using fake = await FakeApiServer.start();
  for (const namespace of ["default", "kube-system"]) {
    using transport = transportTo(fake, namespace);
    const poster = new posting.EventPoster({ transport, settings: settingsWith() });
    poster.start();
    poster.post({ involved: node, type: "Warning", reason: "Pressure", message: "Disk is full" });
    await poster.stop();
    const events = fake.objects("events", namespace);
    equal(events.length, 1, `one Event in ${namespace}`);
    // As Kopf does: the reference names the Event's namespace, which validation requires
    // for namespaces other than default and kube-system.
    deepEqual(events[0]?.involvedObject, {
      apiVersion: "v1",
      kind: "Node",
      name: "worker-1",
      uid: "4b1c2f3e-0000-4000-8000-0000000000aa",
      namespace,
    });
  }
});

Deno.test("a reference is as good as a body, and a later change of the body is not posted", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const poster = new posting.EventPoster({ transport, settings: settingsWith() });
  const body = structuredClone(example);
  poster.post({ involved: body, type: "Normal", reason: "First", message: "one" });
  body.metadata.name = "renamed";
  poster.post({
    involved: { apiVersion: "v1", kind: "ConfigMap", name: "cm", namespace: "team-a" },
    type: "Normal",
    reason: "Second",
    message: "two",
  });
  poster.start();
  await poster.stop();
  const names = fake.objects("events", "team-a")
    .map((e) => (e.involvedObject as Record<string, unknown>).name).sort();
  deepEqual(names, ["cm", "kopf-example-1"]);
});

Deno.test("long messages are cut in the middle to 1024 bytes, as Kopf cuts them", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const poster = new posting.EventPoster({ transport, settings: settingsWith() });
  poster.start();
  const ascii = "a".repeat(600) + "b".repeat(600);
  const wide = "é".repeat(1000); // 2 bytes each
  poster.post({ involved: example, type: "Normal", reason: "Ascii", message: ascii });
  poster.post({ involved: example, type: "Normal", reason: "Wide", message: wide });
  poster.post({ involved: example, type: "Normal", reason: "Exact", message: "c".repeat(1024) });
  await poster.stop();
  const byReason = new Map(
    fake.objects("events", "team-a").map((e) => [e.reason, String(e.message)]),
  );
  equal(byReason.get("Ascii"), "a".repeat(511) + "..." + "b".repeat(510));
  equal(byReason.get("Wide"), "é".repeat(255) + "..." + "é".repeat(255));
  equal(new TextEncoder().encode(byReason.get("Wide")).length, 1023);
  equal(byReason.get("Exact"), "c".repeat(1024));
});

Deno.test("no Event is ever posted about an Event, of either API", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const poster = new posting.EventPoster({ transport, settings: settingsWith() });
  poster.start();
  const meta = { name: "kopf-event-abcde", namespace: "team-a", uid: "e1" };
  poster.post({
    involved: { apiVersion: "v1", kind: "Event", metadata: meta },
    type: "Normal",
    reason: "Echo",
    message: "about an event",
  });
  poster.post({
    involved: { apiVersion: "events.k8s.io/v1", kind: "Event", metadata: meta },
    type: "Warning",
    reason: "Echo",
    message: "about an event",
  });
  poster.post({ involved: example, type: "Normal", reason: "Real", message: "about an object" });
  await poster.stop();
  deepEqual(fake.objects("events", "team-a").map((e) => e.reason), ["Real"]);
  equal(poster.stats.skipped, 2);
  equal(eventPosts(fake), 1);
});

Deno.test("post() returns at once while the API server is slow", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const poster = new posting.EventPoster({ transport, settings: settingsWith() });
  poster.start();
  fake.inject({ kind: "delay", ms: 500, times: 3, match: { method: "POST" } });
  const started = performance.now();
  for (let i = 0; i < 3; i++) {
    poster.post({ involved: example, type: "Normal", reason: `Slow${i}`, message: "wait" });
  }
  const elapsed = performance.now() - started;
  ok(elapsed < 50, `three post() calls took ${elapsed} ms`);
  equal(poster.stats.posted, 0);
  await until("all three are posted", () => fake.objects("events", "team-a").length === 3);
  await poster.stop();
  deepEqual(fake.objects("events", "team-a").map((e) => e.reason).sort(), [
    "Slow0",
    "Slow1",
    "Slow2",
  ]);
});

Deno.test("a failing post neither throws nor retries forever, and warns once per outage", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const logger = recordingLogger();
  const poster = new posting.EventPoster({
    transport,
    logger,
    settings: settingsWith({ retries: 2 }),
  });
  poster.start();

  // 5xx: the first attempt and 2 retries, then the Event is given up.
  fake.inject({ kind: "status", code: 500, times: 6, match: { method: "POST" } });
  poster.post({ involved: example, type: "Normal", reason: "First", message: "lost" });
  await until("the first Event failed", () => poster.stats.failed === 1);
  equal(eventPosts(fake), 3);
  poster.post({ involved: example, type: "Normal", reason: "Second", message: "lost too" });
  await until("the second Event failed", () => poster.stats.failed === 2);
  equal(eventPosts(fake), 6);
  equal(logger.messages("warning").length, 1);
  match(logger.messages("warning")[0] ?? "", /^Failed to post an Event .*best effort/);
  equal(logger.messages("debug").filter((m) => m.startsWith("Failed to post")).length, 1);

  // 403 (RBAC): never retried.
  fake.inject({ kind: "status", code: 403, match: { method: "POST" } });
  poster.post({ involved: example, type: "Warning", reason: "Forbidden", message: "denied" });
  await until("the forbidden Event failed", () => poster.stats.failed === 3);
  equal(eventPosts(fake), 7);

  // The server is back: Events flow again, and the next outage warns again.
  poster.post({ involved: example, type: "Normal", reason: "Back", message: "posted" });
  await until("the Event is posted", () => poster.stats.posted === 1);
  fake.inject({ kind: "status", code: 403, match: { method: "POST" } });
  poster.post({ involved: example, type: "Normal", reason: "Again", message: "denied" });
  await until("the next outage's Event failed", () => poster.stats.failed === 4);
  equal(logger.messages("warning").length, 2);
  await poster.stop();
  deepEqual(fake.objects("events", "team-a").map((e) => e.reason), ["Back"]);
});

Deno.test("a storm beyond the burst is throttled per object, and the bucket refills with time", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const clock = new clocks.FakeClock();
  const settings = settingsWith({ burst: 3, refillPerSecond: 0.5 });
  const poster = new posting.EventPoster({ transport, clock, settings });
  poster.start();
  for (let i = 0; i < 10; i++) {
    poster.post({ involved: example, type: "Warning", reason: "Storm", message: `#${i}` });
  }
  poster.post({ involved: node, type: "Normal", reason: "Calm", message: "another object" });
  equal(poster.stats.throttled, 7);
  await until("the burst is posted", () => poster.stats.posted === 4);

  clock.advance(1000); // half a token: still throttled
  poster.post({ involved: example, type: "Warning", reason: "Storm", message: "#10" });
  equal(poster.stats.throttled, 8);
  clock.advance(1000); // a full token again
  poster.post({ involved: example, type: "Warning", reason: "Storm", message: "#11" });
  equal(poster.stats.throttled, 8);
  await poster.stop();
  deepEqual(
    fake.objects("events", "team-a").map((e) => String(e.message)).sort(),
    ["#0", "#1", "#11", "#2"],
  );
  equal(fake.objects("events", "default").length, 1);
});

Deno.test("a full queue drops its oldest Events for the newest", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const logger = recordingLogger();
  const poster = new posting.EventPoster({
    transport,
    logger,
    settings: settingsWith({ queueSize: 2 }),
  });
  for (const message of ["old", "middle", "new"]) {
    poster.post({ involved: example, type: "Normal", reason: "Queued", message });
  }
  equal(poster.pending, 2);
  equal(poster.stats.dropped, 1);
  equal(logger.messages("warning").length, 1);
  poster.start();
  await poster.stop();
  deepEqual(fake.objects("events", "team-a").map((e) => e.message).sort(), ["middle", "new"]);
});

Deno.test("stop() posts what is queued before it resolves", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const poster = new posting.EventPoster({ transport, settings: settingsWith() });
  poster.start();
  fake.inject({ kind: "delay", ms: 50, times: 5, match: { method: "POST" } });
  for (let i = 0; i < 5; i++) {
    poster.post({ involved: example, type: "Normal", reason: "Drained", message: `#${i}` });
  }
  await poster.stop();
  equal(fake.objects("events", "team-a").length, 5);
  equal(poster.stats.posted, 5);
  poster.post({ involved: example, type: "Normal", reason: "Late", message: "after stop" });
  equal(poster.pending, 0);
  equal(poster.stats.dropped, 1);
});

Deno.test("stop() gives up on what it cannot post within the drain timeout", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const logger = recordingLogger();
  const poster = new posting.EventPoster({
    transport,
    logger,
    settings: settingsWith({ drainTimeoutSeconds: 0.2 }),
  });
  poster.start();
  fake.inject({ kind: "delay", ms: 3000, match: { method: "POST" } });
  poster.post({ involved: example, type: "Normal", reason: "Stuck", message: "in flight" });
  poster.post({ involved: example, type: "Normal", reason: "Stuck", message: "queued" });
  const started = performance.now();
  await poster.stop();
  const elapsed = performance.now() - started;
  ok(elapsed < 2000, `stop() took ${elapsed} ms`);
  equal(poster.stats.posted, 0);
  equal(poster.stats.dropped, 2);
  match(logger.messages("warning")[0] ?? "", /^Stopped posting Events after/);
});

Deno.test("an aborted signal stops the loop at once", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const poster = new posting.EventPoster({ transport, settings: settingsWith() });
  const controller = new AbortController();
  poster.start(controller.signal);
  fake.inject({ kind: "delay", ms: 3000, match: { method: "POST" } });
  poster.post({ involved: example, type: "Normal", reason: "Aborted", message: "in flight" });
  await until("the request is sent", () => eventPosts(fake) === 1);
  controller.abort();
  const started = performance.now();
  await poster.stop();
  ok(performance.now() - started < 1000);
  equal(poster.stats.posted, 0);
  equal(poster.stats.dropped, 1);
});

Deno.test("nothing is posted while posting is disabled", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const settings = settingsWith({ enabled: false });
  const poster = new posting.EventPoster({ transport, settings });
  poster.start();
  poster.post({ involved: example, type: "Normal", reason: "Off", message: "silent" });
  equal(poster.pending, 0);
  await poster.stop();
  equal(eventPosts(fake), 0);
});

Deno.test("kopf.info() and friends outside a running operator only warn, once each", async () => {
  const lines: string[] = [];
  await logging.configureLogging({ format: "plain", output: (line) => lines.push(line) });
  try {
    posting.setActivePoster(undefined);
    posting.info(example, { reason: "Lost", message: "nobody posts this" });
    posting.info([example, example], { reason: "Lost", message: "nor this" });
    posting.warn(example, { reason: "Lost", message: "nor this" });
    posting.event(example, { type: "Normal", reason: "Lost", message: "nor this" });
    posting.exception(example, { error: new Error("nor this") });
    deepEqual(lines, [
      "kopf.info() was called outside a running operator; the event is dropped",
      "kopf.warn() was called outside a running operator; the event is dropped",
      "kopf.event() was called outside a running operator; the event is dropped",
      "kopf.exception() was called outside a running operator; the event is dropped",
    ]);
  } finally {
    await logging.resetLogging();
  }
});

Deno.test("kopf.info(), warn(), event() and exception() post through the running operator's poster", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const poster = new posting.EventPoster({ transport, settings: settingsWith() });
  poster.start();
  posting.setActivePoster(poster);
  try {
    const other = structuredClone(example);
    other.metadata.name = "kopf-example-2";
    other.metadata.uid = "4b1c2f3e-0000-4000-8000-000000000002";
    posting.info([example, other], { reason: "Provisioned", message: "ready" });
    posting.warn(example, { reason: "Deprecated", message: "spec.size is deprecated" });
    posting.event(example, { type: "Normal", reason: "Scaled", message: "to 3" });
    posting.exception(example, { message: "Cannot parse:", error: new SyntaxError("bad JSON") });
    posting.exception(example, { reason: "Failed", error: "a thrown string" });
    await until("all six are posted", () => poster.stats.posted === 6);
  } finally {
    posting.setActivePoster(undefined);
    await poster.stop();
  }
  const summary = fake.objects("events", "team-a").map((e) =>
    [(e.involvedObject as Record<string, unknown>).name, e.type, e.reason, e.message].join(" | ")
  ).sort();
  deepEqual(summary, [
    "kopf-example-1 | Normal | Provisioned | ready",
    "kopf-example-1 | Normal | Scaled | to 3",
    "kopf-example-1 | Warning | Deprecated | spec.size is deprecated",
    "kopf-example-1 | Warning | Failed | a thrown string",
    "kopf-example-1 | Warning | SyntaxError | Cannot parse: bad JSON",
    "kopf-example-2 | Normal | Provisioned | ready",
  ]);
});

Deno.test("by default, an object logger's error() becomes a Warning Event and its info() does not", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const settings = postingSettings.defaultPosting();
  const poster = new posting.EventPoster({ transport, settings });
  const lines: string[] = [];
  await logging.configureLogging({
    level: "debug",
    format: "plain",
    output: (line) => lines.push(line),
    posting: settings,
    postingSink: posting.postingSink(poster, settings),
  });
  try {
    poster.start();
    const logger = logging.objectLogger(kopfexamples, example);
    logger.info("Handler 'create_fn' succeeded");
    logger.debug("Patching with {'status': {'create_fn': 1}}");
    logger.error("Handler 'create_fn' failed with an exception: {'reason': 'boom'}");
    await until("an Event is posted", () => poster.stats.posted === 1);
    await poster.stop();
  } finally {
    await logging.resetLogging();
  }
  const events = fake.objects("events", "team-a");
  equal(events.length, 1);
  equal(poster.stats.posted, 1);
  const event = events[0] ?? {};
  equal(event.type, "Warning");
  equal(event.reason, "Logging");
  equal(event.message, "Handler 'create_fn' failed with an exception: {'reason': 'boom'}");
  deepEqual(event.involvedObject, {
    apiVersion: "kopf.dev/v1",
    kind: "KopfExample",
    name: "kopf-example-1",
    namespace: "team-a",
    uid: "4b1c2f3e-0000-4000-8000-000000000001",
  });
  // Every message is still printed, with the object's prefix.
  equal(lines.length, 3);
  ok(lines.every((line) => line.startsWith("[team-a/kopf-example-1] ")));
});

Deno.test("with the posting level at info, object loggers' info() becomes a Normal Event", async () => {
  await using fake = await serverWithNamespace("team-a");
  using transport = transportTo(fake);
  const settings = settingsWith({ level: "info" });
  const poster = new posting.EventPoster({ transport, settings });
  // Printing only errors must not hide the info messages from the posting.
  await logging.configureLogging({
    level: "error",
    output: () => {},
    posting: settings,
    postingSink: posting.postingSink(poster, settings),
  });
  try {
    poster.start();
    const logger = logging.objectLogger(kopfexamples, example);
    logger.debug("Not an Event");
    logger.info("Resuming");
    logger.warn("Slow");
    settings.loggers = false; // read per record
    logger.error("Not an Event either");
    await until("two Events are posted", () => poster.stats.posted === 2);
    await poster.stop();
  } finally {
    await logging.resetLogging();
  }
  deepEqual(
    fake.objects("events", "team-a").map((e) => `${e.type} ${e.message}`).sort(),
    ["Normal Resuming", "Warning Slow"],
  );
});
