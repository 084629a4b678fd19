// KopfRunner without a cluster: how it reports bad invocations, help, and operators that cannot
// run, and that every runner imports its files afresh into its own registry. Runs against a
// real cluster are in tests/e2e/kopf_runner_test.ts.

import { deepEqual, equal, match, rejects } from "node:assert/strict";
import * as registries from "../../lib/registry/registries.ts";
import { KopfRunner } from "../../testing.ts";

const GREETING = new URL("../_fixtures/handlers/greeting.ts", import.meta.url).pathname;
const BROKEN_KUBECONFIG = "tests/_fixtures/kubeconfigs/broken-syntax.yaml";

Deno.test("KopfRunner reports a bad invocation by its exit code and one log line", async () => {
  const runner = new KopfRunner(["run", "--all-namespaces", "--bogus", GREETING], { env: {} });
  await runner.start();
  equal(runner.exitCode, 2);
  deepEqual(runner.logs, ['kopf run: Unknown option "--bogus"; see kopf run --help']);
  await rejects(
    runner.waitFor(() => false, { what: "anything" }),
    /^Error: The operator exited with code 2 while waiting for anything; the last log lines:\nkopf run: Unknown option/,
  );
  equal(await runner.stop(), 2);
});

Deno.test("KopfRunner puts help and version lines into output", async () => {
  const version = new KopfRunner(["run", "--version"]);
  await version.start();
  equal(version.exitCode, 0);
  deepEqual(version.output, ["kopf 0.1.0"]);
  const help = new KopfRunner(["--help"]);
  await help.start();
  match(help.output[0] ?? "", /^Usage: kopf <command>/);
});

Deno.test("KopfRunner imports a file afresh for every runner, into that runner's registry", async () => {
  for (const name of ["first", "second"]) {
    const registry = new registries.OperatorRegistry();
    await using runner = new KopfRunner(["run", "-A", "--log-format", "plain", GREETING], {
      kubeconfig: BROKEN_KUBECONFIG,
      env: {},
      registry,
    });
    await runner.start();
    equal(runner.exitCode, 1, runner.logs.join("\n"));
    match(runner.logs.at(-1) ?? "", /^The operator cannot run: .*broken-syntax\.yaml/);
    equal(registry.allChangingHandlers().length, 1, `the ${name} runner's registry`);
  }
});

Deno.test("KopfRunner without arguments runs its registry in its namespaces", () => {
  equal(new KopfRunner({ namespaces: ["a", "b-*"] }).args.join(" "), "run -n a -n b-*");
  equal(new KopfRunner({ clusterwide: true }).args.join(" "), "run -A");
});

Deno.test("KopfRunner refuses to wait or stop before it is started", async () => {
  const runner = new KopfRunner(["run", "-A", GREETING]);
  await rejects(runner.waitFor(() => true), /The runner is not started: call start\(\)/);
  await rejects(runner.stop(), /The runner is not started: call start\(\)/);
  await runner[Symbol.asyncDispose](); // nothing to stop
});
