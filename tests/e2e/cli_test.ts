// `kopf run` as a separate process, as a user or a Deployment starts it: against the real
// control plane with a liveness endpoint, stopped by SIGTERM; against a cluster that is not
// there; and its exit codes as the shell sees them.

import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const GREETING = "tests/_fixtures/handlers/greeting.ts";

/** `deno run -A cli.ts …` from the repository root, with its stderr collected as lines. */
function kopf(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const collect = (stream: ReadableStream<Uint8Array>, into: (text: string) => void) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(new WritableStream({ write: into }));
  const collected = Promise.all([
    collect(child.stdout, (text) => stdout += text),
    collect(child.stderr, (text) => stderr += text),
  ]);
  return {
    child,
    stdout: () => stdout.split("\n").filter(Boolean),
    stderr: () => stderr.split("\n").filter(Boolean),
    /** The exit code, or a failure if the process runs longer than `seconds`. */
    async exit(seconds: number): Promise<number> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`kopf did not exit in ${seconds} s; stderr:\n${stderr}`));
        }, seconds * 1000);
      });
      try {
        const status = await Promise.race([child.status, late]);
        await collected;
        return status.code;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A port nothing listens on (bound by the OS for a moment, then released). */
function closedPort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}

Deno.test({
  name: "kopf run serves a handler file on the real API server with a liveness probe, " +
    "and SIGTERM stops it with exit code 0",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("cli");
    const { transport, resource, namespace } = w;
    const liveness = `http://127.0.0.1:${closedPort()}/healthz`;
    const operator = kopf(
      ["run", "--liveness", liveness, "-n", namespace, "--log-format", "plain", GREETING],
      { KUBECONFIG: w.kubeconfigPath },
    );
    try {
      const healthy = await crdFixtures.eventually(async () => {
        const response = await fetch(liveness);
        const body = await response.json();
        return response.status === 200 ? body : undefined;
      }, "the liveness probe to answer 200");
      equal(healthy.status, "ok");
      deepEqual(Object.keys(healthy.watchers), [`kopfexamples.v1.kopf.dev@${namespace}`]);

      await api.createObject(transport, resource, { metadata: { name: "cli-example" }, spec: {} }, {
        namespace,
      });
      const greeting = await crdFixtures.eventually(async () => {
        const object = await api.getObject<{ status?: { greet?: { message?: string } } }>(
          transport,
          resource,
          "cli-example",
          { namespace },
        );
        return object.status?.greet?.message;
      }, "the handler's result in the status");
      equal(greeting, "hello, cli-example");
      // The log line may trail the status: it travels through a pipe.
      await crdFixtures.eventually(
        () => operator.stderr().includes(`[${namespace}/cli-example] Greeting cli-example`),
        "the handler's log line",
      );

      const stoppedAt = Date.now();
      operator.child.kill("SIGTERM");
      equal(await operator.exit(15), 0, operator.stderr().join("\n"));
      ok(Date.now() - stoppedAt < 5000, `stopped in ${Date.now() - stoppedAt} ms`);
      const lines = operator.stderr();
      ok(lines.includes("Signal received: stopping gracefully"), lines.join("\n"));
      ok(lines.includes("The operator has stopped"), lines.join("\n"));
      await rejects(fetch(liveness), "the probe's port is released");
    } finally {
      try {
        operator.child.kill("SIGKILL");
      } catch {
        // it has exited already
      }
      await operator.exit(15).catch(() => {});
    }
  },
});

Deno.test({
  name: "kopf run against an unreachable cluster exits 1 within 30 s with one clear line",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const plane = (await controlPlanes.controlPlane())!;
    const port = closedPort();
    // The real kubeconfig (so TLS and credentials are right), with the server moved away.
    const unreachable = await Deno.makeTempFile({ suffix: ".yaml" });
    await Deno.writeTextFile(
      unreachable,
      plane.kubeconfig.replace(
        /server: https:\/\/127\.0\.0\.1:\d+/,
        `server: https://127.0.0.1:${port}`,
      ),
    );
    try {
      const startedAt = Date.now();
      const operator = kopf(["run", "-A", "--log-format", "plain", GREETING], {
        KUBECONFIG: unreachable,
      });
      equal(await operator.exit(40), 1);
      const seconds = (Date.now() - startedAt) / 1000;
      ok(seconds < 30, `exited after ${seconds} s`);
      const fatal = operator.stderr().filter((line) => /cannot run/i.test(line));
      equal(fatal.length, 1, operator.stderr().join("\n"));
      match(fatal[0]!, new RegExp(`^The operator cannot run: .*https://127\\.0\\.0\\.1:${port}/`));
    } finally {
      await Deno.remove(unreachable);
    }
  },
});

Deno.test({
  name: "kopf's exit codes reach the shell: 0 for help, 2 for usage errors, 1 for a bad module",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const help = kopf(["run", "--help"]);
    equal(await help.exit(30), 0);
    match(help.stdout()[0] ?? "", /^Usage: kopf run/);

    const usage = kopf(["run", "-n", "a", "-A", GREETING]);
    equal(await usage.exit(30), 2);
    deepEqual(usage.stderr(), [
      "kopf run: Either -n/--namespace or -A/--all-namespaces can be used, not both; " +
      "see kopf run --help",
    ]);

    const broken = kopf([
      "run",
      "-A",
      "--log-format",
      "plain",
      "tests/_fixtures/handlers/throwing.ts",
    ]);
    equal(await broken.exit(30), 1);
    deepEqual(broken.stderr().length, 1, broken.stderr().join("\n"));
    match(broken.stderr()[0]!, /^Cannot load ".*throwing\.ts": Error: The database password/);
  },
});
