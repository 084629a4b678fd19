// The activity runner on fake time: every handler of an activity with its context, retried
// after its delay or backoff until all succeed, failures for good as one ActivityError, and
// single attempts for probes.

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import * as clocks from "../../../lib/async/clock.ts";
import * as activities from "../../../lib/handling/activities.ts";
import * as errors from "../../../lib/handling/errors.ts";
import type * as contexts from "../../../lib/registry/contexts.ts";
import type * as handlers from "../../../lib/registry/handlers.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";

/** Resolves once `condition` holds (the runner is asleep, say); fails after a second. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 1_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** A run of `activity` over what `declare` registers, on a fake clock. */
function prepare(
  activity: handlers.Activity,
  declare: (registry: registries.OperatorRegistry) => void,
) {
  const registry = new registries.OperatorRegistry();
  declare(registry);
  const clock = new clocks.FakeClock();
  const settings = operatorSettings.defaultSettings();
  const memo: contexts.Memo = {};
  const run: activities.ActivityRun = {
    activity,
    handlers: registry.activityHandlers(activity),
    memo,
    settings,
    clock,
  };
  return { clock, settings, memo, run };
}

Deno.test("every handler of the activity runs once with the activity's context", async () => {
  const seen: contexts.ActivityContext[] = [];
  const { clock, settings, memo, run } = prepare("startup", (registry) => {
    on.startup({ registry, param: "first" }, function one(context) {
      seen.push(context);
      context.memo.one = true;
    });
    on.startup({ registry }, function two(context) {
      seen.push(context);
      return "ignored";
    });
  });
  const results = await activities.runActivity(run);
  deepEqual([...results], [["one", undefined], ["two", "ignored"]]);
  equal(seen.length, 2);
  const [first, second] = seen;
  equal(first?.activity, "startup");
  equal(first?.id, "one");
  equal(first?.param, "first");
  equal(second?.param, undefined);
  equal(first?.memo, memo);
  equal(second?.memo, memo);
  equal(first?.settings, settings);
  equal(first?.retry, 0);
  equal(first?.runtime, 0);
  equal(first?.started.getTime(), clock.now());
  equal(first?.signal.aborted, false);
  deepEqual(memo, { one: true });
});

Deno.test("temporary errors are retried after their delay, arbitrary ones after the backoff", async () => {
  const attempts: string[] = [];
  const { clock, run } = prepare("startup", (registry) => {
    on.startup({ registry }, function waits({ retry, runtime }) {
      attempts.push(`waits #${retry} at ${runtime}s`);
      if (retry === 0) throw new errors.TemporaryError("not yet", { delay: 10 });
    });
    on.startup({ registry, backoff: 25 }, function breaks({ retry, runtime }) {
      attempts.push(`breaks #${retry} at ${runtime}s`);
      if (retry < 2) throw new Error("boom");
      return "fine";
    });
  });
  const done = activities.runActivity(run);
  await until(() => clock.sleepers === 1, "the first sleep");
  deepEqual(attempts, ["waits #0 at 0s", "breaks #0 at 0s"]);
  clock.advance(9_999);
  equal(attempts.length, 2);
  clock.advance(1);
  await until(() => attempts.length === 3 && clock.sleepers === 1, "the retry of waits");
  clock.advance(15_000);
  await until(() => attempts.length === 4 && clock.sleepers === 1, "the retry of breaks");
  clock.advance(25_000);
  const results = await done;
  deepEqual(attempts, [
    "waits #0 at 0s",
    "breaks #0 at 0s",
    "waits #1 at 10s",
    "breaks #1 at 25s",
    "breaks #2 at 50s",
  ]);
  deepEqual([...results], [["waits", undefined], ["breaks", "fine"]]);
});

Deno.test("a permanent failure fails the activity, after the other handlers have finished", async () => {
  const attempts: string[] = [];
  const { clock, run } = prepare("startup", (registry) => {
    on.startup({ registry }, function refuses() {
      attempts.push("refuses");
      throw new errors.PermanentError("the license has expired");
    });
    on.startup({ registry }, function retried({ retry }) {
      attempts.push(`retried #${retry}`);
      if (retry === 0) throw new errors.TemporaryError("soon", { delay: 1 });
    });
  });
  const done = activities.runActivity(run);
  await until(() => clock.sleepers === 1, "the retry's sleep");
  clock.advance(1_000);
  await rejects(done, (error: unknown) => {
    ok(error instanceof activities.ActivityError);
    equal(error.activity, "startup");
    equal(error.message, 'The startup handler "refuses" failed: the license has expired');
    deepEqual([...error.failures], [["refuses", "the license has expired"]]);
    return true;
  });
  deepEqual(attempts, ["refuses", "retried #0", "retried #1"]);
});

Deno.test("retries and timeout limits end the retrying; several failures are listed in one line", async () => {
  const { clock, run } = prepare("cleanup", (registry) => {
    on.cleanup({ registry, retries: 2, backoff: 1 }, function twice() {
      throw new Error("still broken");
    });
    on.cleanup({ registry, timeout: 5 }, function slow() {
      throw new errors.TemporaryError("later", { delay: 10 });
    });
  });
  const done = activities.runActivity(run);
  await until(() => clock.sleepers === 1, "the retry's sleep");
  clock.advance(1_000);
  await rejects(done, {
    name: "ActivityError",
    message: "2 cleanup handlers failed: \"slow\": Handler 'slow' failed temporarily but will " +
      "time out after 5 seconds: later; \"twice\": Handler 'twice' failed with an exception and " +
      "will stop now (it would exceed 2 retries on the next attempt): still broken",
  });
});

Deno.test('errors: "ignored" counts an arbitrary error as a success without a result', async () => {
  const { run } = prepare("startup", (registry) => {
    on.startup({ registry, errors: "ignored" }, function optional() {
      throw new Error("no cache, fine");
    });
  });
  deepEqual([...await activities.runActivity(run)], [["optional", undefined]]);
});

Deno.test("once: each handler runs one attempt; failures, even temporary ones, are reported", async () => {
  const { clock, run } = prepare("probe", (registry) => {
    on.probe({ registry }, function healthy() {
      return { queue: 3 };
    });
    on.probe({ registry }, function flaky() {
      throw new errors.TemporaryError("the queue is unreachable", { delay: 5 });
    });
    on.probe({ registry }, function broken() {
      return { loop: 10n };
    });
  });
  const outcome = await activities.executeActivity({ ...run, once: true });
  deepEqual([...outcome.results], [["healthy", { queue: 3 }]]);
  deepEqual([...outcome.failures.keys()], ["flaky", "broken"]);
  equal(outcome.failures.get("flaky"), "the queue is unreachable");
  ok(
    outcome.failures.get("broken")?.startsWith(
      "Handler 'broken' returned a result that cannot be stored in the liveness report: ",
    ),
  );
  equal(clock.sleepers, 0);
});

Deno.test("a transform's error is the handler's failure; its value is the result", async () => {
  const { run } = prepare("authentication", (registry) => {
    on.login({ registry }, function good() {
      return { server: "https://a" };
    });
    on.login({ registry }, function bad() {
      return { server: "" };
    });
  });
  const outcome = await activities.executeActivity({
    ...run,
    transform: (result) => {
      const server = (result as { server: string }).server;
      if (!server) throw new errors.PermanentError("no server");
      return server.toUpperCase();
    },
  });
  deepEqual([...outcome.results], [["good", "HTTPS://A"]]);
  deepEqual([...outcome.failures], [["bad", "no server"]]);
});

Deno.test("an aborted signal ends the run with its reason, also while sleeping", async () => {
  const stop = new AbortController();
  const { clock, run } = prepare("startup", (registry) => {
    on.startup({ registry }, function never() {
      throw new errors.TemporaryError("not yet", { delay: 60 });
    });
  });
  const done = activities.runActivity({ ...run, signal: stop.signal });
  await until(() => clock.sleepers === 1, "the sleep");
  const reason = new Error("stopping");
  stop.abort(reason);
  await rejects(done, (error) => error === reason);
  equal(clock.sleepers, 0);
});
