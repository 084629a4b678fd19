// The handlers of the daemon e2e test, for `kopf run` in a process of its own: a daemon and a
// timer per KopfExample that append one JSON line to $KOPF_TEST_INVOCATIONS when the daemon
// starts and stops (with its reason) and on every tick; $KOPF_TEST_EXIT_TIMEOUT sets the exit
// timeout (settings.queueing.exitTimeoutSeconds) when given.

import * as kopf from "../../../mod.ts";

const invocations = Deno.env.get("KOPF_TEST_INVOCATIONS")!;
const ident = Deno.env.get("KOPF_TEST_IDENT") ?? "deno";

function record(line: Record<string, unknown>): void {
  const entry = { by: ident, at: Date.now(), ...line };
  Deno.writeTextFileSync(invocations, JSON.stringify(entry) + "\n", { append: true });
}

kopf.on.startup(function timings({ settings }) {
  const exit = Deno.env.get("KOPF_TEST_EXIT_TIMEOUT");
  if (exit) settings.queueing.exitTimeoutSeconds = Number(exit);
});

kopf.daemon("kopfexamples.v1.kopf.dev", async function monitor({ name, stopped }) {
  record({ event: "start", name });
  await stopped.wait();
  record({ event: "stop", name, reason: stopped.reason });
});

kopf.timer("kopfexamples.v1.kopf.dev", { interval: 0.5 }, function tick({ name }) {
  record({ event: "tick", name });
});
