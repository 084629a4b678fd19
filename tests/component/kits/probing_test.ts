// The liveness endpoint over real HTTP on a loopback port, with the watchers' health moved by
// hand and time by a fake clock: what a kubelet's probe sees in each state.

import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import * as clocks from "../../../lib/async/clock.ts";
import * as watching from "../../../lib/k8s/watching.ts";
import * as probing from "../../../lib/kits/probing.ts";

const EXAMPLES = "kopfexamples.v1.kopf.dev@default";
const PODS = "pods.v1@default";

interface Probe {
  status: number;
  body: probing.HealthReport;
}

/** A server on a free port over `health`, closed when the test ends. */
function serve(
  health: Map<string, watching.WatchHealth>,
  clock: clocks.Clock,
  options: probing.LivenessOptions = {},
) {
  const server = probing.serveLiveness("http://127.0.0.1:0/healthz", health, {
    clock,
    ...options,
  });
  return {
    url: server.url,
    async probe(path = "/healthz", method = "GET"): Promise<Probe> {
      const response = await fetch(new URL(path, server.url), { method });
      const text = await response.text();
      return { status: response.status, body: text.startsWith("{") ? JSON.parse(text) : text };
    },
    [Symbol.asyncDispose]: () => server.close(),
  };
}

function watcher(clock: clocks.Clock, phase: watching.WatchPhase = "watching") {
  const health = watching.newHealth(clock);
  health.phase = phase;
  health.syncedAt = clock.now();
  return health;
}

Deno.test('the probe answers 503 "starting" before the first watcher starts', async () => {
  const clock = new clocks.FakeClock();
  await using server = serve(new Map(), clock);
  const { status, body } = await server.probe();
  equal(status, 503);
  equal(body.status, "starting");
  deepEqual(body.watchers, {});
});

Deno.test("the probe answers 200 with every watcher's health while all are alive", async () => {
  const clock = new clocks.FakeClock(Date.UTC(2026, 4, 1, 10, 0, 0));
  const health = new Map([[EXAMPLES, watcher(clock)], [PODS, watcher(clock, "listing")]]);
  health.get(PODS)!.syncedAt = undefined;
  clock.advance(60_000);
  await using server = serve(health, clock);
  const { status, body } = await server.probe();
  equal(status, 200);
  equal(body.status, "ok");
  deepEqual(body.unhealthy, []);
  deepEqual(body.watchers[EXAMPLES], {
    healthy: true,
    phase: "watching",
    lastActivityAt: "2026-05-01T10:00:00.000Z",
    idleSeconds: 60,
    syncedAt: "2026-05-01T10:00:00.000Z",
    relists: 0,
    reconnects: 0,
    errors: 0,
    lastError: null,
  });
  equal(body.watchers[PODS]?.syncedAt, null);
  equal(body.staleAfterSeconds, 100);
});

Deno.test("a watcher silent for longer than the inactivity timeout plus 30 s is stale", async () => {
  const clock = new clocks.FakeClock();
  const health = new Map([[EXAMPLES, watcher(clock)], [PODS, watcher(clock)]]);
  await using server = serve(health, clock);
  clock.advance(100_000);
  equal((await server.probe()).status, 200, "exactly at the limit it is still alive");
  clock.advance(1_000);
  health.get(PODS)!.lastActivityAt = clock.now(); // a bookmark arrived for pods only
  const { status, body } = await server.probe();
  equal(status, 503);
  equal(body.status, "unhealthy");
  deepEqual(body.unhealthy, [EXAMPLES]);
  equal(body.watchers[EXAMPLES]?.healthy, false);
  match(body.watchers[EXAMPLES]?.problem ?? "", /no activity for 101 s \(stale after 100 s\)/);
  equal(body.watchers[PODS]?.healthy, true);
});

Deno.test("the stale time follows the watch settings, or is given outright", async () => {
  const clock = new clocks.FakeClock();
  const health = new Map([[EXAMPLES, watcher(clock)]]);
  clock.advance(45_000);
  {
    await using server = serve(health, clock, { watching: { inactivityTimeoutSeconds: 10 } });
    const { status, body } = await server.probe();
    equal(status, 503);
    equal(body.staleAfterSeconds, 40);
  }
  await using server = serve(health, clock, { staleAfterSeconds: 50 });
  equal((await server.probe()).status, 200);
});

Deno.test("a watcher in backoff is unhealthy, with its last error", async () => {
  const clock = new clocks.FakeClock();
  const failing = watcher(clock, "backoff");
  failing.errors = 3;
  failing.lastError = "GET https://10.0.0.1/apis/kopf.dev/v1/kopfexamples failed: 403 Forbidden";
  await using server = serve(new Map([[EXAMPLES, failing], [PODS, watcher(clock)]]), clock);
  const { status, body } = await server.probe();
  equal(status, 503);
  deepEqual(body.unhealthy, [EXAMPLES]);
  equal(body.watchers[EXAMPLES]?.problem, `backing off after: ${failing.lastError}`);
  equal(body.watchers[EXAMPLES]?.errors, 3);
  equal(body.watchers[EXAMPLES]?.lastError, failing.lastError);
});

Deno.test("a stopped watcher is unhealthy, and recovers when it watches again", async () => {
  const clock = new clocks.FakeClock();
  const health = new Map([[EXAMPLES, watcher(clock, "stopped")]]);
  await using server = serve(health, clock);
  const { status, body } = await server.probe();
  equal(status, 503);
  equal(body.watchers[EXAMPLES]?.problem, "stopped");
  health.get(EXAMPLES)!.phase = "watching";
  equal((await server.probe()).status, 200);
});

Deno.test("other paths answer 404, other methods 405, HEAD like GET without a body", async () => {
  const clock = new clocks.FakeClock();
  await using server = serve(new Map([[EXAMPLES, watcher(clock)]]), clock);
  equal((await server.probe("/")).status, 404);
  equal((await server.probe("/healthz/more")).status, 404);
  equal((await server.probe("/healthz", "POST")).status, 405);
  const head = await fetch(server.url, { method: "HEAD" });
  equal(head.status, 200);
  equal(await head.text(), "");
});

Deno.test("the server reports the actual port and releases it on close", async () => {
  const clock = new clocks.FakeClock();
  const first = probing.serveLiveness("http://127.0.0.1:0/healthz", new Map(), { clock });
  const port = new URL(first.url).port;
  ok(Number(port) > 0);
  match(first.url, /^http:\/\/127\.0\.0\.1:\d+\/healthz$/);
  await first.close();
  await first.close(); // idempotent
  const again = probing.serveLiveness(`http://127.0.0.1:${port}/healthz`, new Map(), { clock });
  await again.close();
});

Deno.test("a busy port fails at once, so that the command can report it", () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  throws(
    () => probing.serveLiveness(`http://127.0.0.1:${port}/healthz`, new Map()),
    Deno.errors.AddrInUse,
  );
});

Deno.test("only plain http: URLs are accepted, as in Kopf, with localhost:80 by default", () => {
  deepEqual(probing.parseEndpoint("http://0.0.0.0:8080/healthz"), {
    hostname: "0.0.0.0",
    port: 8080,
    path: "/healthz",
  });
  deepEqual(probing.parseEndpoint("http://[::]:8080/"), { hostname: "::", port: 8080, path: "/" });
  deepEqual(probing.parseEndpoint("http://localhost"), {
    hostname: "localhost",
    port: 80,
    path: "/",
  });
  throws(() => probing.parseEndpoint("https://0.0.0.0:8443/healthz"), /only http: is supported/);
  throws(() => probing.parseEndpoint("localhost:8080/healthz"), /only http:.*, not localhost:/);
  throws(() => probing.parseEndpoint("0.0.0.0:8080"), /"0.0.0.0:8080": it is not a URL like http:/);
  throws(() => probing.parseEndpoint("http://0.0.0.0:8080/healthz?x=1"), /a query/);
});
