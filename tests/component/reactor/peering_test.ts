// Kopf-style peering against the fake API server: two operators in this process share a
// KopfPeering; the higher priority handles, the lower one pauses and resumes, equal priorities
// freeze, and a missing or malformed peering says so in one line without a crash.

import { deepEqual, equal, match, ok } from "node:assert/strict";
import * as cli from "../../../cli.ts";
import * as logging from "../../../lib/engines/logging.ts";
import * as coordinating from "../../../lib/reactor/coordinating.ts";
import * as running from "../../../lib/reactor/running.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
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
const PEERINGS = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfpeerings",
  kind: "KopfPeering",
  namespaced: true,
};
const NS = "default";

interface Peer {
  readonly name: string;
  readonly report: coordinating.PeeringReport;
  /** Objects this operator ran the create handler for. */
  readonly handled: string[];
  stop(): Promise<void>;
}

function startPeer(
  server: FakeApiServer,
  name: string,
  configure: (settings: operatorSettings.OperatorSettings) => void,
): Peer {
  const registry = new registries.OperatorRegistry();
  const handled: string[] = [];
  on.create("kopfexamples.v1.kopf.dev", { registry }, function created({ name: object }) {
    handled.push(object);
    return { by: name };
  });
  on.update("kopfexamples.v1.kopf.dev", { registry }, function updated({ name: object }) {
    handled.push(`${object} updated`);
  });
  const settings = operatorSettings.defaultSettings();
  settings.peering.lifetimeSeconds = 10;
  configure(settings);
  const report = coordinating.newReport();
  const stop = new AbortController();
  const done = running.operator({
    registry,
    settings,
    namespaces: [NS],
    signal: stop.signal,
    connection: plainConnection(server.url),
    identity: name,
    peering: report,
  });
  return {
    name,
    report,
    handled,
    async stop() {
      stop.abort();
      await done;
    },
  };
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

const examples = `/apis/kopf.dev/v1/namespaces/${NS}/kopfexamples`;
const peerings = `/apis/kopf.dev/v1/namespaces/${NS}/kopfpeerings`;

function createExample(server: FakeApiServer, name: string) {
  return request(server, "POST", examples, { metadata: { name }, spec: { n: 1 } });
}

function peeringStatus(server: FakeApiServer): Record<string, unknown> {
  const object = server.objects("kopfpeerings", NS).find((o) =>
    (o.metadata as { name: string }).name === "default"
  );
  return (object?.status ?? {}) as Record<string, unknown>;
}

Deno.test({
  name: "peering: the higher priority handles; the lower pauses, and resumes when it leaves",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES, PEERINGS] });
    const logs = await captureLogs();
    await request(server, "POST", peerings, { metadata: { name: "default" } });
    const low = startPeer(server, "low", (s) => s.peering.priority = 10);
    try {
      await until(() => !low.report.paused.on, "the only peer to be active");
      const high = startPeer(server, "high", (s) => s.peering.priority = 20);
      await until(() => low.report.paused.on && !high.report.paused.on, "the low one to pause");
      deepEqual(Object.keys(peeringStatus(server)).sort(), ["high", "low"]);
      const entry = peeringStatus(server).high as Record<string, unknown>;
      equal(entry.priority, 20);
      equal(entry.lifetime, 10);
      ok(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/.test(String(entry.lastseen)));
      for (let i = 0; i < 10; i++) await createExample(server, `o${i}`);
      await until(() => high.handled.length === 10, "the high one to handle 10 objects");
      await high.stop();
      await until(() => !low.report.paused.on, "the low one to resume after the exit");
      deepEqual(Object.keys(peeringStatus(server)), ["low"], "the leaving peer removed itself");
      await createExample(server, "after");
      await until(() => low.handled.includes("after"), "the resumed one to handle a new object");
      deepEqual(low.handled, ["after"], "nothing was handled twice");
      ok(logs.some((l) => l.includes("Pausing operations in favour of high (priority 20)")));
      ok(logs.some((l) => l.includes("Resuming operations")));
    } finally {
      await low.stop();
    }
  },
});

Deno.test({
  name: "peering: what changed while paused is handled after the blocking entry expires",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES, PEERINGS] });
    await captureLogs();
    await request(server, "POST", peerings, { metadata: { name: "default" } });
    const op = startPeer(server, "deployed", () => {});
    try {
      await until(() => !op.report.paused.on, "the operator to be active");
      await createExample(server, "before");
      await until(() => op.handled.includes("before"), "the first object to be handled");
      // A higher peer that never renews (e.g. killed): it blocks for its lifetime only.
      const lastseen = new Date().toISOString().replace("Z", "000+00:00");
      await request(server, "PATCH", `${peerings}/default`, {
        status: { "dev@laptop": { priority: 666, lifetime: 3, lastseen } },
      });
      await until(() => op.report.paused.on, "the operator to pause");
      await request(server, "PATCH", `${examples}/before`, { spec: { n: 2 } });
      await createExample(server, "during");
      await until(() => !op.report.paused.on, "the operator to resume after the expiry", 15_000);
      await until(
        () => op.handled.includes("during") && op.handled.includes("before updated"),
        "the changes made during the pause to be handled",
      );
      deepEqual(op.handled.sort(), ["before", "before updated", "during"]);
      await until(() => !("dev@laptop" in peeringStatus(server)), "the dead peer to be removed");
    } finally {
      await op.stop();
    }
  },
});

Deno.test({
  name: "peering: equal priorities freeze both, with one warning each, and nothing is handled",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES, PEERINGS] });
    const logs = await captureLogs();
    await request(server, "POST", peerings, { metadata: { name: "default" } });
    const a = startPeer(server, "a", () => {});
    const b = startPeer(server, "b", () => {});
    try {
      await until(
        () =>
          a.report.paused.on && b.report.paused.on &&
          Object.keys(peeringStatus(server)).length === 2,
        "both to freeze",
      );
      await createExample(server, "x");
      // Both keep renewing and stay frozen; the object stays unhandled.
      await until(
        () => server.requests.filter((r) => r.method === "PATCH").length >= 4,
        "renewals",
        20_000,
      );
      deepEqual([...a.handled, ...b.handled], []);
      const warnings = logs.filter((l) => l.includes("has the same priority 0"));
      equal(warnings.length, 2, warnings.join("\n"));
      ok(
        warnings.some((l) => l.includes("b (priority 0)")) &&
          warnings.some((l) => l.includes("a (priority 0)")),
      );
      ok(warnings[0]!.includes("--priority"), "the warning says how to fix it");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  },
});

Deno.test({
  name: "peering: a missing peering object pauses a mandatory peer until it is created",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES, PEERINGS] });
    const logs = await captureLogs();
    const op = startPeer(server, "p", (s) => {
      s.peering.name = "team";
      s.peering.mandatory = true;
    });
    try {
      await createExample(server, "x");
      await until(
        () => logs.some((l) => l.includes('"team"') && l.includes("does not exist")),
        "the line",
      );
      ok(op.report.paused.on);
      deepEqual(op.handled, []);
      await request(server, "POST", peerings, { metadata: { name: "team" } });
      await until(() => op.handled.includes("x"), "the object to be handled once peering works");
      equal(logs.filter((l) => l.includes("does not exist")).length, 1, "said once");
    } finally {
      await op.stop();
    }
  },
});

Deno.test({
  name: "peering: without the CRD, optional peering runs standalone and says so; mandatory pauses",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES] });
    const logs = await captureLogs();
    const optional = startPeer(server, "optional", () => {});
    try {
      await createExample(server, "x");
      await until(() => optional.handled.includes("x"), "the optional peer to handle");
      ok(logs.some((l) => l.includes("does not serve KopfPeering") && l.includes("--standalone")));
    } finally {
      await optional.stop();
    }
    const mandatory = startPeer(server, "mandatory", (s) => s.peering.mandatory = true);
    try {
      await createExample(server, "y");
      await until(() => logs.some((l) => l.includes("stays paused until the CRD")), "the error");
      ok(mandatory.report.paused.on);
      deepEqual(mandatory.handled, []);
    } finally {
      await mandatory.stop();
    }
  },
});

Deno.test({
  name: "peering: a malformed entry written by hand is named in one line and ignored",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES, PEERINGS] });
    const logs = await captureLogs();
    await request(server, "POST", peerings, {
      metadata: { name: "default" },
      status: { broken: "yes", wrong: { priority: "high", lastseen: "yesterday" } },
    });
    const op = startPeer(server, "p", () => {});
    try {
      await createExample(server, "x");
      await until(() => op.handled.includes("x"), "the object to be handled");
      const lines = logs.filter((l) => l.includes("Ignoring the entry"));
      equal(lines.length, 2, lines.join("\n"));
      ok(lines.some((l) => l.includes('"broken"') && l.includes("kubectl patch")));
      ok(lines.some((l) => l.includes('"wrong"') && l.includes('priority "high" is not a number')));
    } finally {
      await op.stop();
    }
  },
});

Deno.test({
  name: "peering: RBAC forbidding the peering object is one line naming the fix, and no crash",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES, PEERINGS] });
    const logs = await captureLogs();
    await request(server, "POST", peerings, { metadata: { name: "default" } });
    server.inject({
      kind: "status",
      code: 403,
      times: 1000,
      match: { pathIncludes: "kopfpeerings" },
    });
    // Optional peering (auto-detected): it cannot take part, so it runs without, and says so.
    const optional = startPeer(server, "optional", () => {});
    try {
      await createExample(server, "x");
      await until(() => optional.handled.includes("x"), "the optional peer to handle");
      const lines = logs.filter((l) => l.includes("forbidden by RBAC"));
      equal(lines.length, 1, lines.join("\n"));
      ok(lines[0]!.includes("running without peering") && lines[0]!.includes("grant get, list"));
    } finally {
      await optional.stop();
    }
    // Required peering: paused, with one error line, until RBAC allows it.
    const required = startPeer(server, "required", (s) => s.peering.mandatory = true);
    try {
      await createExample(server, "y");
      await until(
        () =>
          logs.some((l) => l.includes("forbidden by RBAC; grant") && l.includes("--standalone")),
        "the error line",
      );
      ok(required.report.paused.on, "never handle objects while the peers are unknown");
      deepEqual(required.handled, []);
      server.clearFaults(); // granted
      await until(
        () => required.handled.includes("y"),
        "the object to be handled once allowed",
        30_000,
      );
      equal(logs.filter((l) => l.includes("Cannot watch the peering")).length, 2, "once each");
    } finally {
      await required.stop();
    }
  },
});

Deno.test({
  name: "peering: in the Lease mode, one replica leads, and a developer's --dev still pauses it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const LEASES = {
      group: "coordination.k8s.io",
      version: "v1",
      plural: "leases",
      kind: "Lease",
      namespaced: true,
    };
    await using server = await FakeApiServer.start({ resources: [EXAMPLES, PEERINGS, LEASES] });
    await captureLogs();
    await request(server, "POST", peerings, { metadata: { name: "default" } });
    const lease = (s: operatorSettings.OperatorSettings) => {
      s.peering.mode = "lease";
      s.peering.lease.leaseDurationSeconds = 3;
      s.peering.lease.renewDeadlineSeconds = 2;
      s.peering.lease.retryPeriodSeconds = 0.2;
    };
    const a = startPeer(server, "replica-a", lease);
    const b = startPeer(server, "replica-b", lease);
    try {
      await until(() => a.report.paused.on !== b.report.paused.on, "one of them to lead");
      const [leader, follower] = a.report.paused.on ? [b, a] : [a, b];
      equal(leader.report.lease?.leading, true);
      equal(follower.report.lease?.leading, false);
      await createExample(server, "x");
      await until(() => leader.handled.includes("x"), "the leader to handle");
      // Same priority in the peering: no freeze, the Lease has chosen already.
      deepEqual(Object.keys(peeringStatus(server)).sort(), ["replica-a", "replica-b"]);
      const lastseen = new Date(Date.now() + 60_000).toISOString().replace("Z", "000+00:00");
      await request(server, "PATCH", `${peerings}/default`, {
        status: { "dev@laptop": { priority: 666, lifetime: 60, lastseen } },
      });
      await until(() => leader.report.paused.on, "the leader to pause for the developer");
      equal(leader.report.lease?.leading, true, "it keeps the Lease while paused");
      await createExample(server, "y");
      await request(server, "PATCH", `${peerings}/default`, { status: { "dev@laptop": null } });
      await until(() => leader.handled.includes("y"), "the leader to resume and handle");
      deepEqual(follower.handled, [], "the follower never handled");
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  },
});

Deno.test({
  name: "peering: kopf freeze pauses the operators of a lower priority, and kopf resume ends it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES, PEERINGS] });
    const logs = await captureLogs();
    await request(server, "POST", peerings, { metadata: { name: "default" } });
    const op = startPeer(server, "deployed", () => {});
    const connection = plainConnection(server.url);
    const run = async (argv: string[]) => {
      const out: string[] = [];
      const code = await cli.main(argv, { connection, stdout: (l) => out.push(l) });
      return { code, out };
    };
    try {
      await until(() => op.report.mode === "kopf" && !op.report.paused.on, "the operator to run");
      const frozen = await run(["freeze", "-P", "default", "-n", NS, "-t", "600", "-i", "alice"]);
      equal(frozen.code, 0);
      match(
        frozen.out[0] ?? "",
        /^Frozen the peering "default" .* as alice \(priority 100\) for 600 s$/,
      );
      equal((peeringStatus(server).alice as { priority: number }).priority, 100);
      await until(() => op.report.paused.on, "the operator to pause for the freeze");
      await createExample(server, "x");
      const resumed = await run(["resume", "-P", "default", "-n", NS, "-i", "alice"]);
      equal(resumed.code, 0);
      await until(() => op.handled.includes("x"), "the object to be handled after the resume");
      ok(!("alice" in peeringStatus(server)));
      ok(logs.some((l) => l.includes("Pausing operations in favour of alice (priority 100)")));
      const missing = await run(["freeze", "-P", "nope", "-n", NS, "-t", "5"]);
      equal(missing.code, 1);
    } finally {
      await op.stop();
    }
  },
});
