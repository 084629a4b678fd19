// Probe handlers (`on.probe`) on the liveness endpoint over real HTTP on a loopback port: their
// results in the report, failures making it 503, the 10-second reuse of results, and the
// `kopf run --liveness` wiring with the operator memo of the startup handlers.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as cli from "../../../cli.ts";
import * as clocks from "../../../lib/async/clock.ts";
import * as logging from "../../../lib/engines/logging.ts";
import * as errors from "../../../lib/handling/errors.ts";
import * as connections from "../../../lib/k8s/connections.ts";
import * as watching from "../../../lib/k8s/watching.ts";
import * as probing from "../../../lib/kits/probing.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import { FakeApiServer } from "../../_fixtures/fake_apiserver.ts";

const EXAMPLES_KEY = "kopfexamples.v1.kopf.dev@default";

/** One healthy watcher, as the operator reports it while it watches. */
function healthyWatchers(clock: clocks.Clock): Map<string, watching.WatchHealth> {
  const health = watching.newHealth(clock);
  health.phase = "watching";
  return new Map([[EXAMPLES_KEY, health]]);
}

async function probe(url: string): Promise<{ status: number; body: probing.HealthReport }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
}

Deno.test("probe results are in the report by id; a failing probe makes it 503 with its error", async () => {
  const clock = new clocks.FakeClock();
  const registry = new registries.OperatorRegistry();
  const memo = { queue: ["a", "b"] };
  on.probe({ registry }, function queue_length({ memo }) {
    return (memo.queue as string[]).length;
  });
  on.probe({ registry, id: "version" }, () => ({ major: 1, minor: 2 }));
  const server = probing.serveLiveness("http://127.0.0.1:0/healthz", healthyWatchers(clock), {
    clock,
    probes: { registry, memo },
  });
  try {
    const healthy = await probe(server.url);
    equal(healthy.status, 200);
    equal(healthy.body.status, "ok");
    deepEqual(healthy.body.probes, { queue_length: 2, version: { major: 1, minor: 2 } });
    deepEqual(healthy.body.probeErrors, {});

    on.probe({ registry }, function database() {
      throw new errors.PermanentError("the database does not answer");
    });
    clock.advance(10_000);
    const failing = await probe(server.url);
    equal(failing.status, 503);
    equal(failing.body.status, "unhealthy");
    deepEqual(failing.body.unhealthy, []);
    deepEqual(failing.body.probes, { queue_length: 2, version: { major: 1, minor: 2 } });
    deepEqual(failing.body.probeErrors, { database: "the database does not answer" });
  } finally {
    await server.close();
  }
});

Deno.test("probe results are reused for 10 s, failures too", async () => {
  const clock = new clocks.FakeClock();
  const registry = new registries.OperatorRegistry();
  let calls = 0;
  on.probe({ registry }, function counter() {
    calls++;
    if (calls === 2) throw new Error("second call fails");
    return calls;
  });
  const server = probing.serveLiveness("http://127.0.0.1:0/healthz", healthyWatchers(clock), {
    clock,
    probes: { registry },
  });
  try {
    deepEqual((await probe(server.url)).body.probes, { counter: 1 });
    clock.advance(9_999);
    deepEqual((await probe(server.url)).body.probes, { counter: 1 });
    equal(calls, 1);

    clock.advance(1);
    const failed = await probe(server.url);
    equal(failed.status, 503);
    deepEqual(failed.body.probeErrors, { counter: "second call fails" });
    clock.advance(5_000);
    equal((await probe(server.url)).status, 503);
    equal(calls, 2);

    clock.advance(5_000);
    const recovered = await probe(server.url);
    equal(recovered.status, 200);
    deepEqual(recovered.body.probes, { counter: 3 });
  } finally {
    await server.close();
  }
});

Deno.test("concurrent requests for expired results share one run of the probes", async () => {
  const registry = new registries.OperatorRegistry();
  let calls = 0;
  const gate = Promise.withResolvers<void>();
  on.probe({ registry }, async function slow() {
    calls++;
    await gate.promise;
    return calls;
  });
  const cache = new probing.ProbeCache({ registry }, { cacheSeconds: 0 });
  const requests = [cache.results(), cache.results(), cache.results()];
  gate.resolve();
  deepEqual(await Promise.all(requests), [
    { probes: { slow: 1 }, probeErrors: {} },
    { probes: { slow: 1 }, probeErrors: {} },
    { probes: { slow: 1 }, probeErrors: {} },
  ]);
  deepEqual(await cache.results(), { probes: { slow: 2 }, probeErrors: {} });
});

Deno.test("probe results are not reused while the operator starts (no watcher yet)", async () => {
  const clock = new clocks.FakeClock();
  const registry = new registries.OperatorRegistry();
  const memo: Record<string, unknown> = {};
  on.probe({ registry }, function ready({ memo }) {
    return memo.ready ?? false;
  });
  const health = new Map<string, watching.WatchHealth>();
  const server = probing.serveLiveness("http://127.0.0.1:0/healthz", health, {
    clock,
    probes: { registry, memo },
  });
  try {
    const starting = await probe(server.url);
    equal(starting.body.status, "starting");
    deepEqual(starting.body.probes, { ready: false });
    memo.ready = true;
    for (const [key, watcher] of healthyWatchers(clock)) health.set(key, watcher);
    const started = await probe(server.url);
    equal(started.status, 200);
    deepEqual(started.body.probes, { ready: true });
  } finally {
    await server.close();
  }
});

Deno.test("probeCacheSeconds: 0 runs the probes on every request", async () => {
  const clock = new clocks.FakeClock();
  const registry = new registries.OperatorRegistry();
  let calls = 0;
  on.probe({ registry }, function counter() {
    return ++calls;
  });
  const server = probing.serveLiveness("http://127.0.0.1:0/healthz", healthyWatchers(clock), {
    clock,
    probes: { registry },
    probeCacheSeconds: 0,
  });
  try {
    deepEqual((await probe(server.url)).body.probes, { counter: 1 });
    deepEqual((await probe(server.url)).body.probes, { counter: 2 });
  } finally {
    await server.close();
  }
});

Deno.test({
  name: "kopf run --liveness serves the probes, which see the memo the startup handlers filled",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({
      resources: [{
        group: "kopf.dev",
        version: "v1",
        plural: "kopfexamples",
        kind: "KopfExample",
        namespaced: true,
      }],
    });
    const registry = new registries.OperatorRegistry();
    on.startup({ registry }, function prepare({ memo }) {
      memo.startedBy = "prepare";
    });
    on.probe({ registry }, function started_by({ memo }) {
      return memo.startedBy ?? "nobody yet";
    });
    on.create("kopfexamples.v1.kopf.dev", { registry }, function created() {});
    const stderr: string[] = [];
    const stop = new AbortController();
    const exited = cli.main(
      ["run", "-n", "default", "--log-format", "plain", "--liveness", "http://127.0.0.1:0/healthz"],
      {
        registry,
        env: {},
        connection: {
          server: server.url,
          caCerts: [],
          insecureSkipTlsVerify: false,
          namespace: "default",
          source: "the fake API server",
          authenticator: connections.anonymous,
        },
        handleSignals: false,
        signal: stop.signal,
        stderr: (line) => stderr.push(line),
      },
    );
    try {
      const deadline = Date.now() + 10_000;
      let report: { status: number; body: probing.HealthReport } | undefined;
      while (report?.status !== 200) {
        if (Date.now() > deadline) {
          throw new Error(`The endpoint did not answer 200: ${JSON.stringify(report)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
        const served = stderr.map((l) => /^Serving the liveness probe at (\S+)$/.exec(l)?.[1])
          .find((url) => url !== undefined);
        if (served !== undefined) report = await probe(served);
      }
      deepEqual(report.body.probes, { started_by: "prepare" });
      deepEqual(Object.keys(report.body.watchers), [EXAMPLES_KEY]);
    } finally {
      stop.abort();
      equal(await exited, 0);
      await logging.resetLogging();
    }
    ok(stderr.includes("The operator has stopped"), stderr.join("\n"));
  },
});
