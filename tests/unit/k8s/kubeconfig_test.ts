import * as assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as clock from "../../../lib/async/clock.ts";
import * as errors from "../../../lib/k8s/errors.ts";
import * as kubeconfig from "../../../lib/k8s/kubeconfig.ts";

const DIR = fileURLToPath(new URL("../../_fixtures/kubeconfigs/", import.meta.url)).replace(
  /\/$/,
  "",
);
const fixture = (name: string) => `${DIR}/${name}`;
const text = (name: string) => Deno.readTextFileSync(fixture(name));
const NO_ENV = {};

function load(name: string, options: kubeconfig.KubeconfigOptions = {}) {
  return kubeconfig.loadKubeconfig({ kubeconfig: fixture(name), env: NO_ENV, ...options });
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

Deno.test("a static token, a relative CA path and the context's namespace make the connection", async () => {
  const connection = await load("token.yaml");
  assert.equal(connection.server, "https://127.0.0.1:6443");
  assert.deepEqual(connection.caCerts, [text("certs/ca.crt")]);
  assert.equal(connection.insecureSkipTlsVerify, false);
  assert.equal(connection.tlsServerName, undefined);
  assert.equal(connection.proxyUrl, undefined);
  assert.equal(connection.namespace, "team-a");
  assert.equal(connection.source, `kubeconfig ${fixture("token.yaml")}, context "dev"`);
  assert.deepEqual(await connection.authenticator.credentials(), {
    authorization: "Bearer static-token-abc",
  });
  assert.equal(
    await connection.authenticator.refresh({ authorization: "Bearer static-token-abc" }),
    false,
  );
});

Deno.test("*-data fields win over the path fields", async () => {
  const connection = await load("data.yaml");
  assert.equal(connection.server, "https://k8s.example.com");
  assert.deepEqual(connection.caCerts, [text("certs/ca.crt")]);
  assert.equal(connection.namespace, "default");
  assert.deepEqual(await connection.authenticator.credentials(), {
    clientCertificate: { cert: text("certs/client.crt"), key: text("certs/client.key") },
  });
});

Deno.test("a client certificate and key are read from files relative to the kubeconfig", async () => {
  const connection = await load("client-cert-files.yaml");
  assert.deepEqual(connection.caCerts, [text("certs/ca.crt")]);
  assert.deepEqual(await connection.authenticator.credentials(), {
    clientCertificate: { cert: text("certs/client.crt"), key: text("certs/client.key") },
  });
});

Deno.test("tokenFile, relative to the kubeconfig, wins over token", async () => {
  const connection = await load("token-file.yaml");
  assert.deepEqual(await connection.authenticator.credentials(), {
    authorization: "Bearer token-from-file",
  });
});

Deno.test("tokenFile is re-read after a 401 and every minute", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/token`, "first");
  await Deno.writeTextFile(
    `${dir}/config`,
    text("token-file.yaml").replace("tokens/dev-token", "token"),
  );
  const fake = new clock.FakeClock();
  const { authenticator } = await kubeconfig.loadKubeconfig({
    kubeconfig: `${dir}/config`,
    clock: fake,
  });
  const first = await authenticator.credentials();
  assert.deepEqual(first, { authorization: "Bearer first" });

  await Deno.writeTextFile(`${dir}/token`, "second");
  assert.deepEqual(await authenticator.credentials(), first, "cached within the minute");
  assert.equal(await authenticator.refresh(first), true);
  assert.deepEqual(await authenticator.credentials(), { authorization: "Bearer second" });

  await Deno.writeTextFile(`${dir}/token`, "third");
  fake.advance(60_000);
  assert.deepEqual(await authenticator.credentials(), { authorization: "Bearer third" });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("basic auth sends base64 of username:password", async () => {
  const connection = await load("basic-auth.yaml");
  assert.deepEqual(await connection.authenticator.credentials(), {
    authorization: `Basic ${btoa("admin:s3cret-pw")}`,
  });
});

Deno.test("the oidc auth-provider sends its id-token as a bearer token", async () => {
  const connection = await load("oidc.yaml");
  assert.deepEqual(await connection.authenticator.credentials(), {
    authorization: "Bearer oidc-id-token-xyz",
  });
});

Deno.test("insecure-skip-tls-verify, tls-server-name and proxy-url are copied; a bare host:port means https", async () => {
  const connection = await load("insecure.yaml");
  assert.equal(connection.server, "https://10.0.0.1:6443");
  assert.deepEqual(connection.caCerts, []);
  assert.equal(connection.insecureSkipTlsVerify, true);
  assert.equal(connection.tlsServerName, "kubernetes.default");
  assert.equal(connection.proxyUrl, "socks5://proxy.example.com:1080");
  assert.equal(connection.namespace, "default");
  assert.deepEqual(await connection.authenticator.credentials(), {});
});

Deno.test("an exec plugin of v1 with a relative command gives the token it prints", async () => {
  const connection = await load("exec-v1.yaml");
  assert.deepEqual(await connection.authenticator.credentials(), {
    authorization: "Bearer token-1",
  });
});

Deno.test("an exec plugin of v1 with provideClusterInfo gets the cluster in KUBERNETES_EXEC_INFO", async () => {
  const dir = await Deno.makeTempDir();
  const config = text("exec-v1.yaml")
    .replace("./plugins/credential-plugin.sh", fixture("plugins/credential-plugin.sh"))
    .replace(
      "value: token",
      `value: token\n          - name: PLUGIN_INFO\n            value: ${dir}/info.json`,
    );
  await Deno.writeTextFile(`${dir}/config`, config);
  const connection = await kubeconfig.loadKubeconfig({ kubeconfig: `${dir}/config` });
  await connection.authenticator.credentials();
  const info = JSON.parse(await Deno.readTextFile(`${dir}/info.json`));
  assert.deepEqual(info, {
    apiVersion: "client.authentication.k8s.io/v1",
    kind: "ExecCredential",
    spec: {
      interactive: false,
      cluster: {
        server: "https://127.0.0.1:6443",
        "insecure-skip-tls-verify": false,
        "certificate-authority-data": btoa(text("certs/ca.crt")),
        config: { audience: "kopf-tests" },
      },
    },
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an exec plugin of v1beta1 needs no interactiveMode and answers in v1beta1", async () => {
  const connection = await load("exec-v1beta1.yaml");
  assert.deepEqual(await connection.authenticator.credentials(), {
    authorization: "Bearer token-1",
  });
});

Deno.test("KUBECONFIG files merge: the first to set a key wins and missing files are skipped", async () => {
  const list = [
    fixture("multi-first.yaml"),
    fixture("missing.yaml"),
    "",
    fixture("merge/multi-second.yaml"),
  ];
  const connection = await kubeconfig.loadKubeconfig({ env: { KUBECONFIG: list.join(":") } });
  // current-context "from-second" comes from the first file; the context from the second.
  assert.equal(
    connection.source,
    `kubeconfig ${fixture("merge/multi-second.yaml")}, context "from-second"`,
  );
  assert.equal(connection.namespace, "merged");
  // The first file's "shared" cluster wins whole: the second's extra tls-server-name is dropped.
  assert.equal(connection.server, "https://first.example.com:6443");
  assert.equal(connection.tlsServerName, undefined);
  assert.deepEqual(connection.caCerts, [text("certs/ca.crt")]);
  assert.deepEqual(await connection.authenticator.credentials(), {
    authorization: "Bearer first-token",
  });
});

Deno.test("relative paths resolve against the file that defined the entry", async () => {
  const list = [fixture("multi-first.yaml"), fixture("merge/multi-second.yaml")];
  const connection = await kubeconfig.loadKubeconfig({
    env: { KUBECONFIG: list.join(":") },
    context: "second-only",
  });
  assert.equal(connection.server, "https://second-only.example.com");
  assert.deepEqual(connection.caCerts, [text("merge/second-ca.crt")]);
});

Deno.test("the order of KUBECONFIG decides which current-context wins", async () => {
  const list = [fixture("merge/multi-second.yaml"), fixture("multi-first.yaml")];
  const connection = await kubeconfig.loadKubeconfig({ env: { KUBECONFIG: list.join(":") } });
  assert.equal(connection.server, "https://second-only.example.com");
  assert.deepEqual(await connection.authenticator.credentials(), {
    authorization: "Bearer second-token",
  });
});

Deno.test("a context given in the options overrides current-context", async () => {
  const connection = await load("contexts.yaml", { context: "prod" });
  assert.equal(connection.server, "https://prod.example.com:6443");
  assert.equal(connection.namespace, "prod-ns");
  assert.equal(connection.source, `kubeconfig ${fixture("contexts.yaml")}, context "prod"`);
});

Deno.test("an unknown context in the options is refused listing the defined ones", async () => {
  const error = await refusal(load("contexts.yaml", { context: "staging" }));
  assert.equal(
    error.message,
    `Cannot use kubeconfig "${
      fixture("contexts.yaml")
    }": context "staging" is not defined (defined: "dev", "prod")`,
  );
});

Deno.test("a current-context that names no context is refused naming the file that set it", async () => {
  const error = await refusal(load("multi-first.yaml"));
  assert.equal(
    error.message,
    `Cannot use kubeconfig "${
      fixture("multi-first.yaml")
    }": current-context "from-second" is not defined (defined: none)`,
  );
  assert.equal(error.field, "current-context");
});

Deno.test("an explicit kubeconfig path is used alone, ignoring KUBECONFIG", async () => {
  const connection = await kubeconfig.loadKubeconfig({
    kubeconfig: fixture("contexts.yaml"),
    env: { KUBECONFIG: fixture("multi-first.yaml") },
  });
  assert.equal(connection.server, "https://127.0.0.1:6443");
});

Deno.test("an explicit kubeconfig path that does not exist is refused", async () => {
  const error = await refusal(load("nope.yaml"));
  assert.equal(
    error.message,
    `Cannot use kubeconfig "${fixture("nope.yaml")}": the file does not exist`,
  );
});

Deno.test("~/.kube/config is used when KUBECONFIG is not set", async () => {
  const home = await Deno.makeTempDir();
  await Deno.mkdir(`${home}/.kube`);
  await Deno.writeTextFile(
    `${home}/.kube/config`,
    text("token.yaml").replace("certs/ca.crt", `${DIR}/certs/ca.crt`),
  );
  const connection = await kubeconfig.loadKubeconfig({ env: { HOME: home } });
  assert.equal(connection.source, `kubeconfig ${home}/.kube/config, context "dev"`);
  await Deno.remove(home, { recursive: true });
});

Deno.test("KUBECONFIG without any existing file is refused naming the variable", async () => {
  const value = `${DIR}/missing-1.yaml:${DIR}/missing-2.yaml`;
  const error = await refusal(kubeconfig.loadKubeconfig({ env: { KUBECONFIG: value } }));
  assert.equal(error.message, `Cannot use KUBECONFIG "${value}": none of its files exists`);
  assert.equal(error.field, "KUBECONFIG");
});

const BROKEN: {
  test: string;
  fixture: string;
  field?: string;
  message: (file: string) => string;
}[] = [
  {
    test: "a YAML syntax error is refused with its line",
    fixture: "broken-syntax.yaml",
    message: () =>
      "YAML syntax error at line 5, column 18: Nested mappings are not allowed in compact mappings",
  },
  {
    test: "a file whose top level is not a mapping is refused",
    fixture: "broken-list.yaml",
    message: () => "the top level is a list, not a kubeconfig mapping",
  },
  {
    test: "a kubeconfig without current-context and no context given is refused",
    fixture: "broken-no-current-context.yaml",
    field: "current-context",
    message: () =>
      `current-context is not set and no context was given; run "kubectl config use-context NAME"`,
  },
  {
    test: "a context that refers to a missing cluster is refused",
    fixture: "broken-missing-cluster.yaml",
    field: "contexts[0].context.cluster",
    message: () => `context "dev" refers to cluster "gone", which is not defined`,
  },
  {
    test: "a context that refers to a missing user is refused",
    fixture: "broken-missing-user.yaml",
    field: "contexts[0].context.user",
    message: () => `context "dev" refers to user "nobody", which is not defined`,
  },
  {
    test: "a cluster without a server is refused",
    fixture: "broken-no-server.yaml",
    field: "clusters[0].cluster.server",
    message: () => "clusters[0].cluster.server is not set",
  },
  {
    test: "a server that is not a URL is refused",
    fixture: "broken-server-url.yaml",
    field: "clusters[0].cluster.server",
    message: () => `clusters[0].cluster.server "https://exa mple.com:6443" is not an http(s) URL`,
  },
  {
    test: "an unreadable certificate-authority file is refused naming the resolved path",
    fixture: "broken-ca-file.yaml",
    field: "clusters[0].cluster.certificate-authority",
    message: () =>
      `clusters[0].cluster.certificate-authority "${DIR}/certs/missing-ca.crt" cannot be read: the file does not exist`,
  },
  {
    test: "invalid base64 in client-key-data is refused",
    fixture: "broken-base64.yaml",
    field: "users[0].user.client-key-data",
    message: () => "users[0].user.client-key-data is not valid base64",
  },
  {
    test: "a client certificate without a key is refused",
    fixture: "broken-cert-without-key.yaml",
    field: "users[0].user.client-certificate",
    message: () =>
      "users[0].user.client-certificate is set, but neither client-key nor client-key-data is",
  },
  {
    test: "a client key without a certificate is refused",
    fixture: "broken-key-without-cert.yaml",
    field: "users[0].user.client-key-data",
    message: () =>
      "users[0].user.client-key-data is set, but neither client-certificate nor client-certificate-data is",
  },
  {
    test: "a user with a token and a username/password is refused",
    fixture: "broken-token-and-basic.yaml",
    field: "users[0].user",
    message: () =>
      "users[0].user sets token and username/password, but client-go allows only one authentication method per user",
  },
  {
    test: "a user with an exec plugin and a token is refused",
    fixture: "broken-exec-and-token.yaml",
    field: "users[0].user",
    message: () =>
      "users[0].user sets token and exec, but client-go allows only one authentication method per user",
  },
  {
    test: "a missing tokenFile is refused naming the resolved path",
    fixture: "broken-token-file.yaml",
    field: "users[0].user.tokenFile",
    message: () =>
      `users[0].user.tokenFile "${DIR}/tokens/missing-token" cannot be read: the file does not exist`,
  },
  {
    test: "an exec plugin without a command is refused",
    fixture: "broken-exec-no-command.yaml",
    field: "users[0].user.exec.command",
    message: () => "users[0].user.exec.command is not set",
  },
  {
    test: "an exec plugin of an unknown apiVersion is refused",
    fixture: "broken-exec-api-version.yaml",
    field: "users[0].user.exec.apiVersion",
    message: () =>
      `users[0].user.exec.apiVersion "client.authentication.k8s.io/v1alpha1" is not supported; ` +
      "use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1",
  },
  {
    test: "an exec plugin of v1 without interactiveMode is refused",
    fixture: "broken-exec-no-interactive-mode.yaml",
    field: "users[0].user.exec.interactiveMode",
    message: () =>
      `users[0].user.exec.interactiveMode is not set, but client.authentication.k8s.io/v1 requires it; ` +
      `use "Never" or "IfAvailable"`,
  },
  {
    test: "an exec plugin that must always run interactively is refused",
    fixture: "broken-exec-always-interactive.yaml",
    field: "users[0].user.exec.interactiveMode",
    message: () =>
      `users[0].user.exec.interactiveMode is "Always", but an operator never runs plugins interactively; ` +
      `use "Never" or "IfAvailable"`,
  },
  {
    test: "the removed gcp auth-provider is refused suggesting its exec plugin",
    fixture: "broken-gcp.yaml",
    field: "users[0].user.auth-provider.name",
    message: () =>
      `users[0].user.auth-provider.name "gcp" is not supported: this auth-provider was removed from client-go; ` +
      "use the exec plugin gke-gcloud-auth-plugin instead",
  },
  {
    test: "impersonation is refused rather than ignored",
    fixture: "broken-impersonation.yaml",
    field: "users[0].user.as",
    message: () => "users[0].user.as is set, but impersonation is not supported",
  },
  {
    test: "a cluster defined twice in one file is refused",
    fixture: "broken-duplicate-cluster.yaml",
    field: "clusters[1].name",
    message: () => `clusters[1].name "dev-cluster" is defined twice`,
  },
];

for (const broken of BROKEN) {
  Deno.test(`${broken.test}, naming the file and the field`, async () => {
    const file = fixture(broken.fixture);
    const error = await refusal(load(broken.fixture));
    assert.equal(error.message, `Cannot use kubeconfig "${file}": ${broken.message(file)}`);
    assert.equal(error.file, file);
    assert.equal(error.field, broken.field);
    assert.ok(!error.message.includes("\n"), "one line");
  });
}

Deno.test("no secret of any user appears in a connection's inspection or an error", async () => {
  const key = "bGllbnQga2V5LCBub3Qg"; // the body of certs/client.key
  const secrets = [
    "static-token-abc",
    "s3cret-pw",
    "oidc-id-token-xyz",
    "token-from-file",
    "token-1",
    key,
    "ya29",
  ];
  const fixtures = [
    "token.yaml",
    "basic-auth.yaml",
    "oidc.yaml",
    "token-file.yaml",
    "data.yaml",
    "exec-v1.yaml",
  ];
  for (const name of [...fixtures, "client-cert-files.yaml"]) {
    const connection = await load(name);
    await connection.authenticator.credentials();
    const shown = `${Deno.inspect(connection, { depth: 10 })} ${String(connection.authenticator)}`;
    for (const secret of secrets) {
      assert.ok(!shown.includes(secret), `${name} shows ${secret}: ${shown}`);
    }
  }
  for (const name of ["broken-gcp.yaml", "broken-token-and-basic.yaml", "broken-base64.yaml"]) {
    const error = await refusal(load(name));
    for (const secret of secrets) {
      assert.ok(!error.message.includes(secret), `${name}: ${error.message}`);
    }
  }
});

Deno.test("loadConnection prefers an explicit path, then KUBECONFIG, then in-cluster, then ~/.kube/config", async () => {
  const home = await Deno.makeTempDir();
  await Deno.mkdir(`${home}/.kube`);
  await Deno.writeTextFile(`${home}/.kube/config`, text("contexts.yaml"));
  const inPod = {
    KUBERNETES_SERVICE_HOST: "10.96.0.1",
    KUBERNETES_SERVICE_PORT: "443",
    HOME: home,
  };
  const serviceAccountDirectory = fixture("serviceaccount");

  const explicit = await kubeconfig.loadConnection({
    kubeconfig: fixture("token.yaml"),
    env: { ...inPod, KUBECONFIG: fixture("oidc.yaml") },
    serviceAccountDirectory,
  });
  assert.equal(explicit.source, `kubeconfig ${fixture("token.yaml")}, context "dev"`);

  const fromVariable = await kubeconfig.loadConnection({
    env: { ...inPod, KUBECONFIG: fixture("oidc.yaml") },
    serviceAccountDirectory,
  });
  assert.equal(fromVariable.source, `kubeconfig ${fixture("oidc.yaml")}, context "dev"`);

  const inCluster = await kubeconfig.loadConnection({ env: inPod, serviceAccountDirectory });
  assert.equal(inCluster.server, "https://10.96.0.1:443");
  assert.equal(inCluster.source, `in-cluster service account ${serviceAccountDirectory}`);

  const fromHome = await kubeconfig.loadConnection({ env: { HOME: home } });
  assert.equal(fromHome.source, `kubeconfig ${home}/.kube/config, context "dev"`);
  await Deno.remove(home, { recursive: true });
});

Deno.test("loadConnection without any configuration says what it tried and how to fix it", async () => {
  const home = await Deno.makeTempDir();
  const error = await refusal(kubeconfig.loadConnection({ env: { HOME: home } }));
  assert.equal(
    error.message,
    "Cannot find a Kubernetes configuration: no kubeconfig path was given, KUBECONFIG is not set, " +
      `KUBERNETES_SERVICE_HOST is not set (not in a pod), and "${home}/.kube/config" does not exist; ` +
      "set KUBECONFIG, create ~/.kube/config, or run in a pod with a service account",
  );
  await Deno.remove(home);
});
