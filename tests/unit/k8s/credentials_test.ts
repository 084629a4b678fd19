import * as assert from "node:assert/strict";
import * as clock from "../../../lib/async/clock.ts";
import type * as connections from "../../../lib/k8s/connections.ts";
import * as sections from "../../../lib/k8s/_sections.ts";
import * as credentials from "../../../lib/k8s/credentials.ts";
import * as errors from "../../../lib/k8s/errors.ts";

const CERT = {
  cert: "-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n",
  key: "the-key",
};

async function tokenFile(content: string): Promise<{ dir: string; file: string }> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/token`, content);
  return { dir, file: `${dir}/token` };
}

Deno.test("a bearer token is sent as is and a 401 is final", async () => {
  const auth = credentials.bearerToken("abc");
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer abc" });
  assert.equal(await auth.refresh({ authorization: "Bearer abc" }), false);
});

Deno.test("basic auth encodes username:password as UTF-8 base64", async () => {
  const auth = credentials.basicAuth("jürgen", "pässword");
  const expected = btoa(String.fromCharCode(...new TextEncoder().encode("jürgen:pässword")));
  assert.deepEqual(await auth.credentials(), { authorization: `Basic ${expected}` });
});

Deno.test("a client certificate alone is sent as clientCertificate", async () => {
  const auth = credentials.withClientCertificate(CERT);
  assert.deepEqual(await auth.credentials(), { clientCertificate: CERT });
});

Deno.test("a client certificate is added to a token, and refresh() reaches the token's source", async () => {
  const seen: connections.Credentials[] = [];
  const base: connections.Authenticator = {
    credentials: () => Promise.resolve({ authorization: "Bearer t" }),
    refresh: (used) => {
      seen.push(used);
      return Promise.resolve(true);
    },
  };
  const auth = credentials.withClientCertificate(CERT, base);
  const used = await auth.credentials();
  assert.deepEqual(used, { authorization: "Bearer t", clientCertificate: CERT });
  assert.equal(await auth.refresh(used), true);
  assert.deepEqual(seen, [{ authorization: "Bearer t" }], "the base gets back what it gave");
});

Deno.test("a certificate from the base (an exec plugin) wins over the kubeconfig's", async () => {
  const own = { cert: "exec-cert", key: "exec-key" };
  const base: connections.Authenticator = {
    credentials: () => Promise.resolve({ clientCertificate: own }),
    refresh: () => Promise.resolve(false),
  };
  assert.deepEqual(await credentials.withClientCertificate(CERT, base).credentials(), {
    clientCertificate: own,
  });
});

Deno.test("a token file is read once per minute, not on every request", async () => {
  const { dir, file } = await tokenFile("one\n");
  const fake = new clock.FakeClock();
  const auth = new credentials.TokenFileAuthenticator(file, { clock: fake });
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer one" });
  await Deno.writeTextFile(file, "two");
  fake.advance(59_999);
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer one" });
  fake.advance(1);
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer two" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the reload interval of a token file can be changed", async () => {
  const { dir, file } = await tokenFile("one");
  const fake = new clock.FakeClock();
  const auth = new credentials.TokenFileAuthenticator(file, {
    clock: fake,
    reloadIntervalSeconds: 5,
  });
  await auth.credentials();
  await Deno.writeTextFile(file, "two");
  fake.advance(5_000);
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer two" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a token file is re-read after a 401, and refresh() says whether the token changed", async () => {
  const { dir, file } = await tokenFile("one");
  const auth = new credentials.TokenFileAuthenticator(file, { clock: new clock.FakeClock() });
  const used = await auth.credentials();
  assert.equal(await auth.refresh(used), false, "the same token again will not help");
  await Deno.writeTextFile(file, "two");
  assert.equal(await auth.refresh(used), true);
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer two" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the last successfully read token wins over token and survives a failed re-read", async () => {
  const { dir, file } = await tokenFile("from-file");
  const fake = new clock.FakeClock();
  const auth = new credentials.TokenFileAuthenticator(file, {
    token: "from-kubeconfig",
    clock: fake,
  });
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer from-file" });
  await Deno.writeTextFile(file, "  \n");
  fake.advance(60_000);
  assert.deepEqual(
    await auth.credentials(),
    { authorization: "Bearer from-file" },
    "an empty file is no token",
  );
  await Deno.remove(file);
  fake.advance(60_000);
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer from-file" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("token is used while the token file has never been read", async () => {
  const auth = new credentials.TokenFileAuthenticator("/nonexistent/token", {
    token: "from-kubeconfig",
  });
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer from-kubeconfig" });
});

Deno.test("a token file that was never read and no token is a CredentialsError naming the file", async () => {
  const auth = new credentials.TokenFileAuthenticator("/nonexistent/token");
  await assert.rejects(auth.credentials(), (error: unknown) => {
    assert.ok(error instanceof errors.CredentialsError);
    assert.equal(
      error.message,
      `Cannot read the token file "/nonexistent/token": the file does not exist`,
    );
    return true;
  });
});

Deno.test("the initial value given by the loader counts as a fresh read", async () => {
  const { dir, file } = await tokenFile("on-disk");
  const fake = new clock.FakeClock();
  const auth = new credentials.TokenFileAuthenticator(file, {
    initial: "read-by-loader",
    clock: fake,
  });
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer read-by-loader" });
  fake.advance(60_000);
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer on-disk" });
  await Deno.remove(dir, { recursive: true });
});

function provider(body: Record<string, unknown>): sections.Section {
  return new sections.Section("/x/config", "users[0].user.auth-provider", body);
}

Deno.test("the oidc auth-provider gives its id-token as a bearer token", async () => {
  const auth = credentials.authProvider(
    provider({ name: "oidc", config: { "id-token": "eyJ.id.token" } }),
  );
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer eyJ.id.token" });
});

Deno.test("the oidc auth-provider without an id-token suggests logging in or an exec plugin", () => {
  assert.throws(
    () => credentials.authProvider(provider({ name: "oidc", config: { "refresh-token": "r" } })),
    (error: unknown) => {
      assert.ok(error instanceof errors.ConfigError);
      assert.equal(
        error.message,
        `Cannot use kubeconfig "/x/config": users[0].user.auth-provider.config.id-token is not set: ` +
          "only the id-token of the oidc auth-provider is used (it is never refreshed); " +
          "log in again, or use an exec plugin such as kubelogin",
      );
      assert.equal(error.field, "users[0].user.auth-provider.config.id-token");
      return true;
    },
  );
});

Deno.test("the azure and unknown auth-providers are refused suggesting an exec plugin", () => {
  assert.throws(
    () =>
      credentials.authProvider(provider({ name: "azure", config: { "access-token": "secret" } })),
    {
      message:
        `Cannot use kubeconfig "/x/config": users[0].user.auth-provider.name "azure" is not supported: ` +
        "this auth-provider was removed from client-go; use the exec plugin kubelogin " +
        "(https://azure.github.io/kubelogin/) instead",
    },
  );
  assert.throws(() => credentials.authProvider(provider({ name: "vendor" })), {
    message:
      `Cannot use kubeconfig "/x/config": users[0].user.auth-provider.name "vendor" is not supported ` +
      "(only the id-token of oidc is); use an exec plugin (users[].user.exec) instead",
  });
});

Deno.test("authenticators describe themselves without their secrets", async () => {
  const { dir, file } = await tokenFile("file-secret");
  const all = [
    credentials.bearerToken("token-secret"),
    credentials.basicAuth("admin", "password-secret"),
    credentials.withClientCertificate({ cert: "c", key: "key-secret" }),
    credentials.withClientCertificate(
      { cert: "c", key: "key-secret" },
      credentials.bearerToken("token-secret"),
    ),
    new credentials.TokenFileAuthenticator(file, { token: "token-secret" }),
  ];
  for (const auth of all) await auth.credentials();
  const shown = all.map((auth) => `${String(auth)} ${Deno.inspect(auth, { depth: 10 })}`).join(
    "\n",
  );
  assert.ok(!/secret/.test(shown), shown);
  assert.equal(
    shown,
    [
      "bearer token bearer token",
      `basic auth as "admin" basic auth as "admin"`,
      "client certificate client certificate",
      "client certificate and bearer token client certificate and bearer token",
      `token file "${file}" token file "${file}"`,
    ].join("\n"),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a Section refuses values of the wrong type naming the field", () => {
  const section = new sections.Section("/x/config", "clusters[0].cluster", {
    server: 6443,
    list: "x",
  });
  assert.throws(() => section.string("server"), {
    message: `Cannot use kubeconfig "/x/config": clusters[0].cluster.server is not a string`,
  });
  assert.throws(() => section.list("list"), {
    message: `Cannot use kubeconfig "/x/config": clusters[0].cluster.list is not a list`,
  });
});
