// Login handlers' results as connections: a ConnectionInfo checked field by field, the choice
// by priority, and the authenticator that runs the login handlers again when the server
// rejects credentials that cannot refresh themselves.

import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import * as errors from "../../../lib/handling/errors.ts";
import * as logins from "../../../lib/handling/logins.ts";
import * as connections from "../../../lib/k8s/connections.ts";
import type * as contexts from "../../../lib/registry/contexts.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";

const HANDLER = { id: "login_fn" };
const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

function connectionOf(info: unknown): connections.Connection {
  const made = logins.toConnection(info, HANDLER);
  if (made === undefined) throw new Error("No connection was made");
  return made.connection;
}

Deno.test("a ConnectionInfo with a token becomes a connection with a bearer token", async () => {
  const connection = connectionOf({
    server: "https://127.0.0.1:6443/",
    caData: CA,
    token: "t0ken",
    defaultNamespace: "operators",
    proxyUrl: "http://proxy:3128",
  });
  deepEqual({ ...connection, authenticator: undefined }, {
    server: "https://127.0.0.1:6443",
    caCerts: [CA],
    insecureSkipTlsVerify: false,
    namespace: "operators",
    proxyUrl: "http://proxy:3128",
    source: 'login handler "login_fn"',
    authenticator: undefined,
  });
  deepEqual(await connection.authenticator.credentials(), { authorization: "Bearer t0ken" });
  ok(!Deno.inspect(connection).includes("t0ken"), Deno.inspect(connection));
});

Deno.test("other schemes, basic auth, client certificates and no credentials at all", async () => {
  const scheme = connectionOf({ server: "https://h", token: "abc", scheme: "Token" });
  deepEqual(await scheme.authenticator.credentials(), { authorization: "Token abc" });
  const basic = connectionOf({ server: "https://h", username: "admin", password: "pw" });
  deepEqual(await basic.authenticator.credentials(), {
    authorization: `Basic ${btoa("admin:pw")}`,
  });
  const certified = connectionOf({
    server: "https://h",
    token: "abc",
    certificateData: "CERT",
    privateKeyData: "KEY",
  });
  deepEqual(await certified.authenticator.credentials(), {
    authorization: "Bearer abc",
    clientCertificate: { cert: "CERT", key: "KEY" },
  });
  const anonymous = connectionOf({ server: "http://127.0.0.1:8080", insecure: true });
  deepEqual(await anonymous.authenticator.credentials(), {});
  equal(anonymous.insecureSkipTlsVerify, true);
  equal(anonymous.namespace, "default");
});

Deno.test("null and undefined mean no connection; a Connection is taken as it is", () => {
  equal(logins.toConnection(null, HANDLER), undefined);
  equal(logins.toConnection(undefined, HANDLER), undefined);
  const given: connections.Connection = {
    server: "https://k8s",
    caCerts: [],
    insecureSkipTlsVerify: false,
    namespace: "default",
    source: 'kubeconfig /k, context "dev"',
    authenticator: connections.anonymous,
  };
  deepEqual(logins.toConnection(given, HANDLER), {
    connection: { ...given, source: 'login handler "login_fn" (kubeconfig /k, context "dev")' },
    priority: 0,
  });
});

Deno.test("an unusable ConnectionInfo is a permanent failure naming the field", () => {
  const cases: [unknown, string][] = [
    ["https://h", "expected an object, got string"],
    [{}, '"server" is missing'],
    [{ server: "127.0.0.1:6443" }, '"server" must be an http(s) URL, got "127.0.0.1:6443"'],
    [{ server: 6443 }, '"server" must be a non-empty string'],
    [{ server: "https://h", token: "t", username: "u", password: "p" }, "give either"],
    [{ server: "https://h", username: "u" }, '"username" and "password" go together'],
    [{ server: "https://h", certificateData: "C" }, '"certificateData" and "privateKeyData"'],
    [{ server: "https://h", priority: "high" }, '"priority" must be a number'],
    [{ server: "https://h", insecure: "yes" }, '"insecure" must be true or false'],
  ];
  for (const [info, detail] of cases) {
    throws(() => logins.toConnection(info, HANDLER), (error: unknown) => {
      ok(error instanceof errors.PermanentError, String(error));
      ok(
        error.message.startsWith(
          `The login handler "login_fn" returned an unusable connection: ${detail}`,
        ),
        error.message,
      );
      return true;
    });
  }
});

/** A login run over what `declare` registers. */
function loginRun(declare: (registry: registries.OperatorRegistry) => void): logins.LoginRun {
  const registry = new registries.OperatorRegistry();
  declare(registry);
  return {
    handlers: registry.activityHandlers("authentication"),
    memo: {},
    settings: operatorSettings.defaultSettings(),
  };
}

Deno.test("with several login handlers, the highest priority wins, the first among equals", async () => {
  const connection = await logins.login(loginRun((registry) => {
    on.login({ registry }, function none() {
      return null;
    });
    on.login({ registry }, function low(): contexts.ConnectionInfo {
      return { server: "https://low", token: "l" };
    });
    on.login({ registry }, function high(): contexts.ConnectionInfo {
      return { server: "https://high", token: "h1", priority: 10 };
    });
    on.login({ registry }, function also_high(): contexts.ConnectionInfo {
      return { server: "https://also-high", token: "h2", priority: 10 };
    });
  }));
  equal(connection.server, "https://high");
  equal(connection.source, 'login handler "high"');
  deepEqual(await connection.authenticator.credentials(), { authorization: "Bearer h1" });
});

Deno.test("login handlers that all return nothing fail the login", async () => {
  await rejects(
    logins.login(loginRun((registry) => {
      on.login({ registry }, function first() {
        return undefined;
      });
      on.login({ registry }, function second() {
        return null;
      });
    })),
    {
      name: "ActivityError",
      message: '2 login handlers failed: "first": it returned no connection; ' +
        '"second": it returned no connection',
    },
  );
});

Deno.test("a 401 runs the login handlers again, once for requests that fail together", async () => {
  const tokens = ["first", "second", "third"];
  const issued: string[] = [];
  const connection = await logins.login(loginRun((registry) => {
    on.login({ registry }, function rotating() {
      const token = tokens[issued.length] ?? "last";
      issued.push(token);
      return { server: "https://k8s", token };
    });
  }));
  const authenticator = connection.authenticator;
  const used = await authenticator.credentials();
  deepEqual(used, { authorization: "Bearer first" });
  const refreshed = await Promise.all([
    authenticator.refresh(used),
    authenticator.refresh(used),
    authenticator.refresh(used),
  ]);
  deepEqual(refreshed, [true, true, true]);
  deepEqual(issued, ["first", "second"]);
  deepEqual(await authenticator.credentials(), { authorization: "Bearer second" });
  // A request that still used the first token is simply retried with the second one.
  equal(await authenticator.refresh(used), true);
  deepEqual(issued, ["first", "second"]);
});

Deno.test("a re-login that gives the same credentials does not retry the request", async () => {
  const connection = await logins.login(loginRun((registry) => {
    on.login({ registry }, function fixed() {
      return { server: "https://k8s", token: "same" };
    });
  }));
  const used = await connection.authenticator.credentials();
  equal(await connection.authenticator.refresh(used), false);
});
