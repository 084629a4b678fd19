// One call of a daemon or timer: the context's live fields and the indexes over them, and the
// cancellation step reaching the handler's own signal.

import { deepEqual, equal, ok } from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { realClock } from "../../../lib/async/clock.ts";
import * as spawningCalls from "../../../lib/handling/spawning.ts";
import * as states from "../../../lib/handling/states.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as spawning from "../../../lib/registry/spawning.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";
import { Patch } from "../../../lib/structs/patches.ts";
import { kopfexamples } from "../../_fixtures/cycles.ts";

function run(indexes?: Record<string, unknown>) {
  const live: spawningCalls.LiveObject = {
    body: { metadata: { name: "a", namespace: "ns", labels: { app: "x" } }, spec: { size: 1 } },
    resource: kopfexamples,
    logger: getLogger(["kopf", "test"]),
    memo: {},
    indexes: indexes as never,
  };
  return {
    live,
    stopped: new spawningCalls.Stopper(realClock),
    cancel: new AbortController(),
    patch: new Patch(),
    settings: operatorSettings.defaultSettings(),
    clock: realClock,
  };
}

const attempt = { retry: 0, started: new Date(0), runtime: 0, subrefs: [] };

Deno.test("a spawning context's object fields follow the body; its plain fields are there", () => {
  const r = run();
  const handler = { kind: "timer", id: "tick", param: 7 } as never;
  const signal = new AbortController().signal;
  const context = spawningCalls.spawningContext(
    handler,
    { ...r, cancel: r.cancel.signal },
    { ...attempt, signal },
    signal,
  );
  equal(context.name, "a");
  deepEqual(context.labels, { app: "x" });
  r.live.body = { metadata: { name: "b", namespace: "ns" }, spec: { size: 2 } };
  equal(context.name, "b");
  equal(context.spec.size, 2);
  deepEqual(context.labels, {});
  equal(context.id, "tick");
  equal(context.param, 7);
  equal(context.patch, r.patch);
});

Deno.test("indexes appear on a spawning context and shadow a framework field of the same name", () => {
  const r = run({ byLabel: { x: ["a"] }, spec: "the index" });
  const handler = { kind: "daemon", id: "d", param: undefined } as never;
  const signal = new AbortController().signal;
  const context = spawningCalls.spawningContext(
    handler,
    { ...r, cancel: r.cancel.signal },
    { ...attempt, signal },
    signal,
  ) as unknown as Record<string, unknown>;
  deepEqual(context.byLabel, { x: ["a"] });
  equal(context.spec, "the index");
  equal(context.name, "a");
});

Deno.test("the cancellation step aborts the handler's signal, and a stopped daemon then has exited", async () => {
  const registry = new registries.OperatorRegistry();
  let aborted: unknown;
  spawning.daemon("kopfexamples.v1.kopf.dev", { registry }, async function watcher({ signal }) {
    await new Promise((_, reject) => {
      const exit = () => {
        aborted = signal.reason;
        reject(signal.reason);
      };
      if (signal.aborted) exit();
      else signal.addEventListener("abort", exit, { once: true });
    });
  });
  const [handler] = registry.allSpawningHandlers();
  const r = run();
  const calling = spawningCalls.executeOnce(handler!, states.fromScratch(0, undefined), {
    ...r,
    cancel: r.cancel.signal,
  });
  r.stopped.stop("deleted");
  r.cancel.abort(new DOMException("cancelled", "AbortError"));
  const outcome = await calling;
  ok(aborted instanceof DOMException, "the handler saw the cancellation");
  equal(outcome.error, undefined);
  equal(outcome.final, true);
});
