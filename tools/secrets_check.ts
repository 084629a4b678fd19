// After a test run: fails if any credential of the tests appears in their output — the control
// plane's admin client key, and the secrets of the kubeconfig fixtures. Secrets are named by
// where they come from, never printed. Usage: deno run -A tools/secrets_check.ts LOG [KUBECONFIG]

import { parse } from "yaml";

const [logPath, kubeconfigPath] = Deno.args;
if (!logPath) {
  console.error("secrets-check: usage: secrets_check.ts LOG [KUBECONFIG]");
  Deno.exit(2);
}
const log = await Deno.readTextFile(logPath);
const secrets: { what: string; value: string }[] = [];

/** A PEM's base64 body lines, which a leak of the key would show. */
function pemLines(pem: string): string[] {
  return pem.split("\n").map((l) => l.trim()).filter((l) => l.length >= 40 && !l.startsWith("-"));
}

if (kubeconfigPath) {
  try {
    const config = parse(await Deno.readTextFile(kubeconfigPath)) as {
      users?: { name: string; user: Record<string, string> }[];
    };
    for (const { name, user } of config.users ?? []) {
      for (const field of ["client-key-data", "token", "password"]) {
        const value = user[field];
        if (!value) continue;
        secrets.push({
          what: `${field} of user "${name}" in the control plane's kubeconfig`,
          value,
        });
        if (field === "client-key-data") {
          for (const line of pemLines(atob(value))) {
            secrets.push({ what: `the client key of user "${name}" (decoded)`, value: line });
          }
        }
      }
    }
  } catch (error) {
    console.error(`secrets-check: cannot read ${kubeconfigPath}: ${(error as Error).message}`);
  }
}
// The fixtures' secrets that tests feed to the framework; short ones ("t") say nothing.
const fixtures = new URL("../tests/_fixtures/kubeconfigs/", import.meta.url);
for await (const entry of Deno.readDir(fixtures)) {
  if (!entry.isFile || !entry.name.endsWith(".yaml")) continue;
  const text = await Deno.readTextFile(new URL(entry.name, fixtures));
  for (const match of text.matchAll(/(token|password|access-token|id-token): *(\S{8,})/g)) {
    secrets.push({ what: `${match[1]} of fixture ${entry.name}`, value: match[2]! });
  }
}
const leaked = secrets.filter((s) => log.includes(s.value));
for (const { what } of leaked) console.error(`secrets-check: the test output contains the ${what}`);
console.error(
  `secrets-check: ${secrets.length} credentials looked for in ${log.length} characters of output, ` +
    `${leaked.length} found`,
);
Deno.exit(leaked.length ? 1 : 0);
