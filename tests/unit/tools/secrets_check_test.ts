// tools/secrets_check.ts fails a test run whose output contains a credential of the tests, and
// names where the credential comes from without printing it.

import { equal, match, ok } from "node:assert/strict";

const SCRIPT = new URL("../../../tools/secrets_check.ts", import.meta.url).pathname;

async function check(log: string, kubeconfig?: string) {
  const path = await Deno.makeTempFile();
  await Deno.writeTextFile(path, log);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, path, ...(kubeconfig ? [kubeconfig] : [])],
    stderr: "piped",
  }).output();
  await Deno.remove(path);
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("the secrets check passes clean output and fails on a fixture's token, unnamed", async () => {
  equal((await check("ok | 3 passed | 0 failed\n")).code, 0);
  const leaked = await check("Authorization: Bearer static-token-abc\n");
  equal(leaked.code, 1);
  match(leaked.stderr, /contains the token of fixture broken-exec-and-token\.yaml/);
  ok(!leaked.stderr.includes("static-token-abc"), "the secret itself is not printed");
});

Deno.test("the secrets check finds a kubeconfig's client key, also decoded", async () => {
  const dir = await Deno.makeTempDir();
  const key = "-----BEGIN PRIVATE KEY-----\n" + "QUJD".repeat(16) + "\n-----END PRIVATE KEY-----\n";
  const kubeconfig = `${dir}/kubeconfig`;
  await Deno.writeTextFile(
    kubeconfig,
    `users:\n- name: admin\n  user:\n    client-key-data: ${btoa(key)}\n`,
  );
  try {
    const leaked = await check(`dumped: ${"QUJD".repeat(16)}\n`, kubeconfig);
    equal(leaked.code, 1);
    match(leaked.stderr, /the client key of user "admin" \(decoded\)/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
