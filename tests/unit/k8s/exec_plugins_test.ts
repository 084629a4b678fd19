import * as assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as clock from "../../../lib/async/clock.ts";
import * as sections from "../../../lib/k8s/_sections.ts";
import * as errors from "../../../lib/k8s/errors.ts";
import * as execPlugins from "../../../lib/k8s/exec_plugins.ts";

const PLUGIN = fileURLToPath(
  new URL("../../_fixtures/kubeconfigs/plugins/credential-plugin.sh", import.meta.url),
);
const V1 = "client.authentication.k8s.io/v1";
const V1BETA1 = "client.authentication.k8s.io/v1beta1";
const START = 1_700_000_000_000;

/** A plugin run in a fresh temp dir; its runs are counted in `counter`, its input kept in `info`. */
async function setUp(
  env: Record<string, string> = {},
  config: Partial<execPlugins.ExecConfig> = {},
  options: Partial<execPlugins.ExecPluginOptions> = {},
) {
  const dir = await Deno.makeTempDir();
  const fake = new clock.FakeClock(START);
  const auth = new execPlugins.ExecPluginAuthenticator(
    {
      apiVersion: V1,
      command: PLUGIN,
      args: [],
      env: { PLUGIN_COUNTER: `${dir}/counter`, PLUGIN_INFO: `${dir}/info.json`, ...env },
      provideClusterInfo: false,
      interactiveMode: "Never",
      ...config,
    },
    { file: "/x/config", user: "dev-user", clock: fake, ...options },
  );
  const runs = async () => {
    try {
      return (await Deno.readTextFile(`${dir}/counter`)).split("\n").filter((l) => l).length;
    } catch {
      return 0;
    }
  };
  const info = async () => JSON.parse(await Deno.readTextFile(`${dir}/info.json`));
  const cleanUp = () => Deno.remove(dir, { recursive: true });
  return { auth, fake, runs, info, cleanUp };
}

async function failure(promise: Promise<unknown>): Promise<errors.CredentialsError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(
      error instanceof errors.CredentialsError,
      `expected a CredentialsError, got ${error}`,
    );
    return error;
  }
  assert.fail("expected a CredentialsError, but it succeeded");
}

const PREFIX =
  `Cannot get credentials from exec plugin "${PLUGIN}" of user "dev-user" in kubeconfig "/x/config"`;

Deno.test("credentials are cached until shortly before their expirationTimestamp", async () => {
  const expires = new Date(START + 600_000).toISOString();
  const { auth, fake, runs, cleanUp } = await setUp({ PLUGIN_EXPIRES: expires });
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer token-1" });
  fake.advance(589_999);
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer token-1" });
  assert.equal(await runs(), 1);
  fake.advance(1); // 10 s before expiry
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer token-2" });
  assert.equal(await runs(), 2);
  await cleanUp();
});

Deno.test("credentials without expirationTimestamp are cached until a 401", async () => {
  const { auth, fake, runs, cleanUp } = await setUp();
  await auth.credentials();
  fake.advance(24 * 3600_000);
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer token-1" });
  assert.equal(await runs(), 1);
  await cleanUp();
});

Deno.test("refresh() after a 401 runs the plugin again and the new token is used", async () => {
  const { auth, runs, cleanUp } = await setUp();
  const used = await auth.credentials();
  assert.equal(await auth.refresh(used), true);
  assert.equal(await runs(), 2);
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer token-2" });
  assert.equal(await runs(), 2);
  await cleanUp();
});

Deno.test("refresh() does not run the plugin when newer credentials are already cached", async () => {
  const { auth, runs, cleanUp } = await setUp();
  const used = await auth.credentials(); // two requests go out with token-1, both get 401
  assert.equal(await auth.refresh(used), true); // the first one rotates to token-2
  assert.equal(await auth.refresh(used), true); // the second one just retries with token-2
  assert.equal(await runs(), 2);
  await cleanUp();
});

Deno.test("refresh() says false when the plugin gives the same credentials again", async () => {
  const { auth, cleanUp } = await setUp({ PLUGIN_COUNTER: "" });
  const used = await auth.credentials();
  assert.equal(await auth.refresh(used), false);
  await cleanUp();
});

Deno.test("concurrent requests share one run of the plugin", async () => {
  const { auth, runs, cleanUp } = await setUp();
  const all = await Promise.all([auth.credentials(), auth.credentials(), auth.credentials()]);
  assert.deepEqual(all.map((c) => c.authorization), [
    "Bearer token-1",
    "Bearer token-1",
    "Bearer token-1",
  ]);
  assert.equal(await runs(), 1);
  await cleanUp();
});

Deno.test("a caller that gives up does not cancel the run other callers share", async () => {
  const { auth, runs, cleanUp } = await setUp();
  const controller = new AbortController();
  const impatient = auth.credentials(controller.signal);
  const patient = auth.credentials();
  controller.abort(new Error("gave up"));
  await assert.rejects(impatient, { message: "gave up" });
  assert.deepEqual(await patient, { authorization: "Bearer token-1" });
  assert.equal(await runs(), 1);
  await cleanUp();
});

Deno.test("a v1 plugin gets a non-interactive v1 ExecCredential in KUBERNETES_EXEC_INFO", async () => {
  const { auth, info, cleanUp } = await setUp();
  await auth.credentials();
  assert.deepEqual(await info(), {
    apiVersion: V1,
    kind: "ExecCredential",
    spec: { interactive: false },
  });
  await cleanUp();
});

Deno.test("a v1beta1 plugin is asked in v1beta1 and answers in v1beta1", async () => {
  const { auth, info, cleanUp } = await setUp({ PLUGIN_API_VERSION: V1BETA1 }, {
    apiVersion: V1BETA1,
  });
  assert.deepEqual(await auth.credentials(), { authorization: "Bearer token-1" });
  assert.equal((await info()).apiVersion, V1BETA1);
  await cleanUp();
});

Deno.test("provideClusterInfo sends the cluster as spec.cluster", async () => {
  const cluster = {
    server: "https://127.0.0.1:6443",
    "certificate-authority-data": "Q0E=",
    config: { a: 1 },
  };
  const { auth, info, cleanUp } = await setUp({}, { provideClusterInfo: true }, { cluster });
  await auth.credentials();
  assert.deepEqual((await info()).spec, { interactive: false, cluster });
  await cleanUp();
});

Deno.test("a client certificate from the plugin is given as clientCertificate", async () => {
  const { auth, cleanUp } = await setUp({ PLUGIN_MODE: "cert" });
  assert.deepEqual(await auth.credentials(), {
    clientCertificate: {
      cert: "-----BEGIN CERTIFICATE-----\nZXhlYw==\n-----END CERTIFICATE-----\n",
      key: "-----BEGIN PRIVATE KEY-----\nZXhlYw==\n-----END PRIVATE KEY-----\n",
    },
  });
  await cleanUp();
});

Deno.test("a plugin answering in another apiVersion is refused naming the plugin", async () => {
  const { auth, cleanUp } = await setUp({ PLUGIN_API_VERSION: V1BETA1 });
  const error = await failure(auth.credentials());
  assert.equal(
    error.message,
    `${PREFIX}: it printed kind "ExecCredential" of apiVersion "${V1BETA1}", expected ExecCredential of "${V1}"`,
  );
  await cleanUp();
});

Deno.test("a missing binary is one line naming the command, the kubeconfig, the user and the install hint", async () => {
  const { auth, cleanUp } = await setUp({}, {
    command: "kopf-test-no-such-plugin",
    installHint: "Install it with\n  brew install kopf-test-no-such-plugin\n",
  });
  const error = await failure(auth.credentials());
  assert.equal(
    error.message,
    `Cannot get credentials from exec plugin "kopf-test-no-such-plugin" of user "dev-user" in kubeconfig ` +
      `"/x/config": the command was not found; Install it with brew install kopf-test-no-such-plugin`,
  );
  await cleanUp();
});

Deno.test("a plugin file that is not executable is reported as such", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/plugin.sh`, "#!/bin/sh\n", { mode: 0o644 });
  const { auth, cleanUp } = await setUp({}, { command: `${dir}/plugin.sh` });
  await assert.rejects(auth.credentials(), {
    message:
      `Cannot get credentials from exec plugin "${dir}/plugin.sh" of user "dev-user" in kubeconfig ` +
      `"/x/config": the command is not executable`,
  });
  await cleanUp();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a plugin that fails is reported with its exit code and the last lines of stderr", async () => {
  const { auth, cleanUp } = await setUp({ PLUGIN_MODE: "fail" });
  const error = await failure(auth.credentials());
  assert.equal(
    error.message,
    `${PREFIX}: it exited with code 3: error: the refresh token has expired / run "vendor login" and try again`,
  );
  await cleanUp();
});

Deno.test("output that is not JSON is refused without repeating it", async () => {
  const { auth, cleanUp } = await setUp({ PLUGIN_MODE: "garbage" });
  const error = await failure(auth.credentials());
  assert.equal(error.message, `${PREFIX}: it printed something that is not JSON`);
  await cleanUp();
});

Deno.test("a status with neither a token nor a certificate is refused", async () => {
  const { auth, cleanUp } = await setUp({ PLUGIN_MODE: "empty" });
  const error = await failure(auth.credentials());
  assert.equal(
    error.message,
    `${PREFIX}: its status has neither token nor clientCertificateData and clientKeyData`,
  );
  await cleanUp();
});

Deno.test("an expirationTimestamp that is not a time is refused", async () => {
  const { auth, cleanUp } = await setUp({ PLUGIN_EXPIRES: "tomorrow" });
  const error = await failure(auth.credentials());
  assert.equal(
    error.message,
    `${PREFIX}: its status.expirationTimestamp "tomorrow" is not an RFC 3339 time`,
  );
  await cleanUp();
});

Deno.test("a failed run is not cached: the next request runs the plugin again", async () => {
  const { auth, runs, cleanUp } = await setUp({ PLUGIN_MODE: "garbage" });
  await failure(auth.credentials());
  await failure(auth.credentials());
  assert.equal(await runs(), 2);
  await cleanUp();
});

Deno.test("the plugin describes itself by its command, never by its token", async () => {
  const { auth, cleanUp } = await setUp();
  await auth.credentials();
  assert.equal(Deno.inspect(auth), `exec plugin "${PLUGIN}"`);
  assert.equal(String(auth), `exec plugin "${PLUGIN}"`);
  await cleanUp();
});

function exec(body: Record<string, unknown>): sections.Section {
  return new sections.Section("/x/config", "users[0].user.exec", body);
}

Deno.test("parseExecConfig resolves a relative command with a slash against the kubeconfig's directory", () => {
  const base = { apiVersion: V1, interactiveMode: "IfAvailable" };
  assert.equal(
    execPlugins.parseExecConfig(exec({ ...base, command: "bin/plugin" }), "/x").command,
    "/x/bin/plugin",
  );
  assert.equal(
    execPlugins.parseExecConfig(exec({ ...base, command: "kubelogin" }), "/x").command,
    "kubelogin",
  );
  assert.equal(
    execPlugins.parseExecConfig(exec({ ...base, command: "/usr/bin/p" }), "/x").command,
    "/usr/bin/p",
  );
});

Deno.test("parseExecConfig reads args, env entries, installHint and provideClusterInfo", () => {
  const config = execPlugins.parseExecConfig(
    exec({
      apiVersion: V1BETA1,
      command: "kubelogin",
      args: ["get-token", "--server-id", "abc"],
      env: [{ name: "A", value: "1" }, { name: "B" }],
      installHint: "brew install kubelogin",
      provideClusterInfo: true,
    }),
    "/x",
  );
  assert.deepEqual(config, {
    apiVersion: V1BETA1,
    command: "kubelogin",
    args: ["get-token", "--server-id", "abc"],
    env: { A: "1", B: "" },
    installHint: "brew install kubelogin",
    provideClusterInfo: true,
  });
});

Deno.test("parseExecConfig refuses an env entry without a name and an unknown interactiveMode", () => {
  assert.throws(
    () =>
      execPlugins.parseExecConfig(
        exec({ apiVersion: V1BETA1, command: "p", env: [{ value: "1" }] }),
        "/x",
      ),
    { message: `Cannot use kubeconfig "/x/config": users[0].user.exec.env[0].name is not set` },
  );
  assert.throws(
    () =>
      execPlugins.parseExecConfig(
        exec({ apiVersion: V1, command: "p", interactiveMode: "Sometimes" }),
        "/x",
      ),
    {
      message:
        `Cannot use kubeconfig "/x/config": users[0].user.exec.interactiveMode "Sometimes" ` +
        `is not one of "Never", "IfAvailable", "Always"`,
    },
  );
});
