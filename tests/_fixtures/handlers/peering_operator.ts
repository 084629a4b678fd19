// The handlers of the peering e2e tests, for `kopf run` in processes of their own: a create
// handler that appends one JSON line per invocation to $KOPF_TEST_INVOCATIONS (who ran it, when,
// and whether the object's success was already recorded), and a startup handler that shortens
// the Lease timings from $KOPF_TEST_LEASE ("duration,renew,retry" seconds) when set.

import * as kopf from "../../../mod.ts";

const invocations = Deno.env.get("KOPF_TEST_INVOCATIONS")!;
const ident = Deno.env.get("KOPF_TEST_IDENT") ?? "deno";
const DIFFBASE = "kopf.zalando.org/last-handled-configuration";

kopf.on.startup(function timings({ settings }) {
  const lease = Deno.env.get("KOPF_TEST_LEASE");
  if (!lease) return;
  const [duration, renew, retry] = lease.split(",").map(Number);
  settings.peering.lease.leaseDurationSeconds = duration!;
  settings.peering.lease.renewDeadlineSeconds = renew!;
  settings.peering.lease.retryPeriodSeconds = retry!;
});

kopf.on.create("kopfexamples.v1.kopf.dev", { id: "first" }, async ({ name, annotations }) => {
  const line = {
    by: ident,
    name,
    at: Date.now(),
    recorded: annotations[DIFFBASE] !== undefined,
  };
  Deno.writeTextFileSync(invocations, JSON.stringify(line) + "\n", { append: true });
  await new Promise((resolve) => setTimeout(resolve, 20)); // a handler that takes a moment
  return { by: ident };
});
