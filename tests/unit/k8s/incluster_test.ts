import * as assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as clock from "../../../lib/async/clock.ts";
import * as errors from "../../../lib/k8s/errors.ts";
import * as incluster from "../../../lib/k8s/incluster.ts";

const SERVICE_ACCOUNT = fileURLToPath(
  new URL("../../_fixtures/kubeconfigs/serviceaccount", import.meta.url),
);
const POD = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };

/** A writable service-account directory, for tests that change the token or drop files. */
async function serviceAccount(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const [name, content] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, content);
  }
  return dir;
}

async function refusal(promise: Promise<unknown>): Promise<errors.ConfigError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof errors.ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail("expected a ConfigError, but it succeeded");
}

Deno.test("a pod's service account makes the connection", async () => {
  const connection = await incluster.loadInCluster({ env: POD, directory: SERVICE_ACCOUNT });
  assert.equal(connection.server, "https://10.96.0.1:443");
  assert.deepEqual(connection.caCerts, [await Deno.readTextFile(`${SERVICE_ACCOUNT}/ca.crt`)]);
  assert.equal(connection.insecureSkipTlsVerify, false);
  assert.equal(connection.namespace, "operators");
  assert.equal(connection.source, `in-cluster service account ${SERVICE_ACCOUNT}`);
  assert.deepEqual(await connection.authenticator.credentials(), {
    authorization: "Bearer service-account-token",
  });
});

Deno.test("an IPv6 service host is bracketed", async () => {
  const env = { KUBERNETES_SERVICE_HOST: "fd00:10:96::1", KUBERNETES_SERVICE_PORT: "443" };
  const connection = await incluster.loadInCluster({ env, directory: SERVICE_ACCOUNT });
  assert.equal(connection.server, "https://[fd00:10:96::1]:443");
});

Deno.test("POD_NAMESPACE wins over the namespace file", async () => {
  const env = { ...POD, POD_NAMESPACE: "from-downward-api" };
  const connection = await incluster.loadInCluster({ env, directory: SERVICE_ACCOUNT });
  assert.equal(connection.namespace, "from-downward-api");
});

Deno.test("without a namespace file the namespace is default", async () => {
  const dir = await serviceAccount({ token: "t", "ca.crt": "-----BEGIN CERTIFICATE-----\n" });
  const connection = await incluster.loadInCluster({ env: POD, directory: dir });
  assert.equal(connection.namespace, "default");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the service-account token is re-read every minute", async () => {
  const dir = await serviceAccount({ token: "first", "ca.crt": "-----BEGIN CERTIFICATE-----\n" });
  const fake = new clock.FakeClock();
  const { authenticator } = await incluster.loadInCluster({
    env: POD,
    directory: dir,
    clock: fake,
  });
  assert.deepEqual(await authenticator.credentials(), { authorization: "Bearer first" });
  await Deno.writeTextFile(`${dir}/token`, "rotated");
  fake.advance(30_000);
  assert.deepEqual(await authenticator.credentials(), { authorization: "Bearer first" });
  fake.advance(30_000);
  assert.deepEqual(await authenticator.credentials(), { authorization: "Bearer rotated" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the service-account token is re-read after a 401", async () => {
  const dir = await serviceAccount({ token: "first", "ca.crt": "-----BEGIN CERTIFICATE-----\n" });
  const { authenticator } = await incluster.loadInCluster({
    env: POD,
    directory: dir,
    clock: new clock.FakeClock(),
  });
  const used = await authenticator.credentials();
  await Deno.writeTextFile(`${dir}/token`, "rotated");
  assert.equal(await authenticator.refresh(used), true);
  assert.deepEqual(await authenticator.credentials(), { authorization: "Bearer rotated" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("isInCluster() follows KUBERNETES_SERVICE_HOST", () => {
  assert.equal(incluster.isInCluster({ env: POD }), true);
  assert.equal(incluster.isInCluster({ env: {} }), false);
});

Deno.test("a missing KUBERNETES_SERVICE_PORT is refused naming the variable", async () => {
  const error = await refusal(
    incluster.loadInCluster({
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1" },
      directory: SERVICE_ACCOUNT,
    }),
  );
  assert.equal(
    error.message,
    "Cannot use the in-cluster configuration: KUBERNETES_SERVICE_PORT is not set (the process does not run in a pod)",
  );
  assert.equal(error.field, "KUBERNETES_SERVICE_PORT");
});

Deno.test("a missing token file is refused naming it", async () => {
  const dir = await serviceAccount({ "ca.crt": "-----BEGIN CERTIFICATE-----\n" });
  const error = await refusal(incluster.loadInCluster({ env: POD, directory: dir }));
  assert.equal(
    error.message,
    `Cannot use the in-cluster configuration: "${dir}/token" cannot be read: the file does not exist`,
  );
  assert.equal(error.file, `${dir}/token`);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a missing ca.crt is refused naming it", async () => {
  const dir = await serviceAccount({ token: "t" });
  const error = await refusal(incluster.loadInCluster({ env: POD, directory: dir }));
  assert.equal(
    error.message,
    `Cannot use the in-cluster configuration: "${dir}/ca.crt" cannot be read: the file does not exist`,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the token never shows in an inspection of the connection", async () => {
  const connection = await incluster.loadInCluster({ env: POD, directory: SERVICE_ACCOUNT });
  await connection.authenticator.credentials();
  assert.ok(!Deno.inspect(connection, { depth: 10 }).includes("service-account-token"));
});
