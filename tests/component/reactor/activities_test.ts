// Operator activities against the fake API server: startup handlers before anything is served
// (their settings and memo applied, their retries honoured, their failure fatal), cleanup
// handlers after the stop, and login handlers giving (and renewing) the connection.

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import * as cli from "../../../cli.ts";
import * as clocks from "../../../lib/async/clock.ts";
import * as logging from "../../../lib/engines/logging.ts";
import * as activities from "../../../lib/handling/activities.ts";
import * as errors from "../../../lib/handling/errors.ts";
import type * as transports from "../../../lib/k8s/transport.ts";
import * as diffbase from "../../../lib/persistence/diffbase.ts";
import * as running from "../../../lib/reactor/running.ts";
import type * as contexts from "../../../lib/registry/contexts.ts";
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
const RESOURCE = "kopfexamples.v1.kopf.dev";

/** The fake API server with KopfExamples, and an operator to start against it. */
async function world() {
  const server = await FakeApiServer.start({ resources: [EXAMPLES] });
  const stops: (() => Promise<void>)[] = [];
  const lines: string[] = [];
  await logging.configureLogging({ level: "debug", format: "plain", output: (l) => lines.push(l) });
  return {
    server,
    lines,
    /** Starts the operator; `stop()` stops it and resolves when `operator()` has returned. */
    start(options: running.OperatorOptions & { registry: registries.OperatorRegistry }) {
      const requests: string[] = [];
      const stop = new AbortController();
      const settings = options.settings ?? operatorSettings.defaultSettings();
      settings.queueing.exitTimeoutSeconds = 1;
      const done = running.operator({
        connection: plainConnection(server.url),
        namespaces: ["default"],
        signal: stop.signal,
        onResponse: (exchange: transports.Exchange) => requests.push(exchange.url),
        ...options,
        settings,
      });
      done.catch(() => {});
      const stopIt = async () => {
        stop.abort();
        await done;
      };
      stops.push(() => stopIt().catch(() => {}));
      return { requests, done, stop: stopIt };
    },
    async create(name: string): Promise<void> {
      const response = await fetch(
        `${server.url}/apis/kopf.dev/v1/namespaces/default/kopfexamples`,
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            apiVersion: "kopf.dev/v1",
            kind: "KopfExample",
            metadata: { name },
          }),
        },
      );
      equal(response.status, 201, await response.text());
    },
    object(name: string): Record<string, unknown> | undefined {
      return server.objects("kopfexamples", "default")
        .find((o) => (o.metadata as { name?: string }).name === name);
    },
    status(name: string): Record<string, unknown> {
      return (this.object(name)?.status ?? {}) as Record<string, unknown>;
    },
    async [Symbol.asyncDispose]() {
      for (const stop of stops) await stop();
      await logging.resetLogging();
      await server.close();
    },
  };
}

const options = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  ...options,
  name:
    "startup handlers run before the operator connects; their settings and memo apply to the run",
  fn: async () => {
    await using w = await world();
    const registry = new registries.OperatorRegistry();
    const order: string[] = [];
    let requests: string[] = [];
    on.startup({ registry }, function prepare({ settings, memo, activity }) {
      order.push(`${activity} after ${requests.length} requests`);
      settings.persistence.diffbaseStorage = new diffbase.AnnotationsDiffBaseStorage({
        prefix: "activities.kopf.dev",
      });
      memo.greeting = "hello from startup";
    });
    on.create(RESOURCE, { registry }, function greet({ memo, name }) {
      order.push(`create ${name}`);
      return memo.greeting;
    });
    const operator = w.start({ registry });
    requests = operator.requests;
    await w.create("example-1");
    const annotationsOf = () =>
      Object.keys((w.object("example-1")?.metadata as { annotations?: object }).annotations ?? {});
    await until(
      () => w.status("example-1").greet !== undefined && annotationsOf().length > 0,
      "the create handler's result and the diff-base",
    );
    equal(w.status("example-1").greet, "hello from startup");
    deepEqual(order, ["startup after 0 requests", "create example-1"]);
    const annotations = annotationsOf();
    ok(
      annotations.includes("activities.kopf.dev/last-handled-configuration"),
      annotations.join(", "),
    );
    ok(!annotations.some((key) => key.startsWith("kopf.zalando.org/")), annotations.join(", "));
  },
});

Deno.test({
  ...options,
  name: "each object's memo is a shallow copy of the operator memo given to operator()",
  fn: async () => {
    await using w = await world();
    const registry = new registries.OperatorRegistry();
    const memo: contexts.Memo = { shared: { count: 0 } };
    on.startup({ registry }, function prepare({ memo }) {
      memo.greeting = "hello";
    });
    on.create(RESOURCE, { registry }, function remember({ memo, name }) {
      const shared = memo.shared as { count: number };
      shared.count += 1;
      const before = memo.own;
      memo.own = name;
      return { greeting: memo.greeting, count: shared.count, before: before ?? "nothing" };
    });
    w.start({ registry, memo });
    await w.create("example-1");
    await until(() => w.status("example-1").remember !== undefined, "the first object handled");
    await w.create("example-2");
    await until(() => w.status("example-2").remember !== undefined, "the second object handled");
    deepEqual(w.status("example-1").remember, { greeting: "hello", count: 1, before: "nothing" });
    deepEqual(w.status("example-2").remember, { greeting: "hello", count: 2, before: "nothing" });
    equal(memo.greeting, "hello");
    equal(memo.own, undefined);
  },
});

Deno.test({
  ...options,
  name:
    "a startup handler that fails temporarily is retried after its delay, then the operator serves",
  fn: async () => {
    await using w = await world();
    const registry = new registries.OperatorRegistry();
    const clock = new clocks.FakeClock();
    const attempts: number[] = [];
    on.startup({ registry }, function flaky({ retry }) {
      attempts.push(retry);
      if (retry < 2) throw new errors.TemporaryError("the database is not ready", { delay: 30 });
    });
    on.create(RESOURCE, { registry }, function created() {
      return "served";
    });
    const operator = w.start({ registry, clock });
    await until(() => clock.sleepers === 1, "the first retry to be scheduled");
    deepEqual(attempts, [0]);
    clock.advance(29_000);
    deepEqual(attempts, [0]);
    clock.advance(1_000);
    await until(() => attempts.length === 2 && clock.sleepers === 1, "the second attempt");
    equal(operator.requests.length, 0);
    clock.advance(30_000);
    await until(() => operator.requests.length > 0, "the operator to connect");
    deepEqual(attempts, [0, 1, 2]);
    await w.create("example-1");
    await until(() => w.status("example-1").created === "served", "the create handler");
    ok(
      w.lines.some((l) => /Handler 'flaky' failed temporarily: the database is not ready/.test(l)),
    );
  },
});

Deno.test({
  ...options,
  name: "a startup handler's PermanentError stops the operator before it connects, with one line",
  fn: async () => {
    await using w = await world();
    const registry = new registries.OperatorRegistry();
    on.startup({ registry }, function connect_db() {
      throw new errors.PermanentError("the database is unreachable");
    });
    on.create(RESOURCE, { registry }, function never() {});
    const operator = w.start({ registry });
    await rejects(operator.done, (error: unknown) => {
      ok(error instanceof activities.ActivityError);
      equal(error.message, 'The startup handler "connect_db" failed: the database is unreachable');
      return true;
    });
    equal(operator.requests.length, 0);
  },
});

Deno.test({
  ...options,
  name: "kopf run exits with 1 and one fatal line when a startup handler fails for good",
  fn: async () => {
    await using server = await FakeApiServer.start({ resources: [EXAMPLES] });
    const registry = new registries.OperatorRegistry();
    let retries = -1;
    on.startup({ registry, retries: 2, backoff: 0 }, function warm_up({ retry }) {
      retries = retry;
      throw new Error("the cache cannot be filled");
    });
    const stderr: string[] = [];
    try {
      const code = await cli.main(["run", "-A", "--log-format", "plain"], {
        registry,
        env: {},
        connection: plainConnection(server.url),
        handleSignals: false,
        stderr: (line) => stderr.push(line),
      });
      equal(code, 1);
    } finally {
      await logging.resetLogging();
    }
    equal(retries, 1);
    const fatal = stderr.filter((line) => line.startsWith("The operator cannot run: "));
    deepEqual(fatal, [
      "The operator cannot run: The startup handler \"warm_up\" failed: Handler 'warm_up' " +
      "failed with an exception and will stop now (it would exceed 2 retries on the next " +
      "attempt): the cache cannot be filled",
    ]);
    equal(stderr.at(-1), fatal[0]);
    equal(server.requests.length, 0);
  },
});

Deno.test({
  ...options,
  name:
    "cleanup handlers run after the stop, once the resource handlers are done; failures are logged",
  fn: async () => {
    await using w = await world();
    const registry = new registries.OperatorRegistry();
    const order: string[] = [];
    const release = Promise.withResolvers<void>();
    on.create(RESOURCE, { registry }, async function slow() {
      order.push("handler started");
      await release.promise;
      order.push("handler finished");
    });
    on.cleanup({ registry }, function close_pool({ memo, activity }) {
      order.push(`${activity} with ${memo.pool}`);
    });
    on.cleanup({ registry }, function broken() {
      throw new errors.PermanentError("the pool is gone");
    });
    on.startup({ registry }, function open_pool({ memo }) {
      memo.pool = "pool-1";
    });
    const operator = w.start({ registry });
    await w.create("example-1");
    await until(() => order.includes("handler started"), "the slow handler to start");
    const stopped = operator.stop();
    release.resolve();
    await stopped; // resolves: a failing cleanup is logged, not thrown
    deepEqual(order, ["handler started", "handler finished", "cleanup with pool-1"]);
    ok(
      w.lines.some((l) =>
        l === 'The cleanup did not complete: The cleanup handler "broken" failed: the pool is gone'
      ),
      w.lines.join("\n"),
    );
    equal(w.lines.at(-1), "The operator has stopped");
  },
});

/**
 * A proxy in front of the fake API server that lets through only requests with the bearer
 * token it currently accepts, and answers 401 to the others, as kube-apiserver does.
 */
function authenticatingProxy(target: string, token: string) {
  const state = { token, rejected: 0 };
  const closing = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    if (request.headers.get("authorization") !== `Bearer ${state.token}`) {
      state.rejected++;
      return Response.json({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "Unauthorized",
        reason: "Unauthorized",
        code: 401,
      }, { status: 401 });
    }
    const url = new URL(request.url);
    return fetch(`${target}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: closing.signal,
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    state,
    [Symbol.asyncDispose]: async () => {
      closing.abort(); // ends the watches it forwards, so that the server can shut down
      await server.shutdown();
    },
  };
}

Deno.test({
  ...options,
  name:
    "login handlers give the connection: the operator serves through a server that needs their token",
  fn: async () => {
    await using w = await world();
    await using proxy = authenticatingProxy(w.server.url, "secret-1");
    const registry = new registries.OperatorRegistry();
    on.login({ registry }, function login_fn({ activity }) {
      equal(activity, "authentication");
      return { server: proxy.url, token: "secret-1" };
    });
    on.create(RESOURCE, { registry }, function created() {
      return "through the proxy";
    });
    // The connection of the options would fail: the login handler's is used instead.
    const operator = w.start({ registry, connection: plainConnection("http://127.0.0.1:9") });
    await w.create("example-1");
    await until(() => w.status("example-1").created !== undefined, "the create handler");
    equal(w.status("example-1").created, "through the proxy");
    equal(proxy.state.rejected, 0);
    ok(
      w.lines.includes(`Connecting to ${proxy.url} (login handler "login_fn")`),
      w.lines.join("\n"),
    );
    await operator.stop(); // before the proxy closes: it waits for the watches it forwards
  },
});

Deno.test({
  ...options,
  name: "after a 401, the login handlers run again and their new token is used",
  fn: async () => {
    await using w = await world();
    await using proxy = authenticatingProxy(w.server.url, "secret-1");
    const registry = new registries.OperatorRegistry();
    const issued: string[] = [];
    on.login({ registry }, function rotating() {
      issued.push(proxy.state.token);
      return { server: proxy.url, token: proxy.state.token };
    });
    on.create(RESOURCE, { registry }, function created({ name }) {
      return name;
    });
    const operator = w.start({ registry });
    await w.create("example-1");
    await until(() => w.status("example-1").created === "example-1", "the first object");
    proxy.state.token = "secret-2";
    await w.create("example-2");
    await until(() => w.status("example-2").created === "example-2", "the second object");
    deepEqual(issued, ["secret-1", "secret-2"]);
    ok(proxy.state.rejected > 0);
    ok(
      w.lines.some((l) => l.startsWith("Re-authentication has been initiated")),
      w.lines.join("\n"),
    );
    await operator.stop();
  },
});

Deno.test({
  ...options,
  name: "login handlers that return nothing stop the operator with one line",
  fn: async () => {
    await using w = await world();
    const registry = new registries.OperatorRegistry();
    on.login({ registry }, function no_credentials() {
      return null;
    });
    const operator = w.start({ registry });
    await rejects(operator.done, {
      name: "ActivityError",
      message: 'The login handler "no_credentials" failed: it returned no connection',
    });
    equal(operator.requests.length, 0);
  },
});

Deno.test({
  ...options,
  name: "a stop during the startup ends the operator without serving or cleaning up",
  fn: async () => {
    await using w = await world();
    const registry = new registries.OperatorRegistry();
    const seen: string[] = [];
    on.startup({ registry }, async function waits({ signal }) {
      seen.push("startup");
      await new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason))
      );
    });
    on.cleanup({ registry }, function cleanup() {
      seen.push("cleanup");
    });
    const operator = w.start({ registry });
    await until(() => seen.length > 0, "the startup handler");
    await operator.stop();
    deepEqual(seen, ["startup"]);
    equal(operator.requests.length, 0);
    ok(w.lines.some((l) => l.startsWith("The operator was stopped during its startup")));
  },
});
