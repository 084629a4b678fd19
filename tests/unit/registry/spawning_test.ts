import { deepEqual, equal, throws } from "node:assert/strict";
import * as kopf from "../../../mod.ts";
import * as errors from "../../../lib/registry/errors.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as serving from "../../../lib/reactor/serving.ts";
import { kopfexamples } from "../../_fixtures/cycles.ts";

// JavaScript callers (and `as any`) get past the types; the checks must hold at runtime.
// deno-lint-ignore no-explicit-any
const untyped = on as any;

function fails(fn: () => unknown, message: string): void {
  throws(fn, (error: unknown) => {
    equal((error as Error).message, message);
    return error instanceof errors.RegistrationError;
  });
}

Deno.test("on.daemon and on.timer register background handlers that need the finalizer", () => {
  const registry = new registries.OperatorRegistry();
  async function monitor() {}
  equal(on.daemon("kopfexamples", { registry }, monitor), monitor);
  on.timer("kopfexamples", { registry, interval: 30, sharp: true }, function tick() {});
  on.timer("kopfexamples", { registry, idle: 5, field: "spec.size" }, function settle() {});
  const [daemon, timer, idle] = registry.spawningHandlers(kopfexamples);
  equal(daemon?.kind, "daemon");
  equal(daemon?.id, "monitor");
  equal(daemon?.requiresFinalizer, true);
  equal(timer?.kind === "timer" && timer.interval, 30);
  equal(timer?.kind === "timer" && timer.sharp, true);
  equal(idle?.id, "settle/spec.size", "a field makes a suffix, as in Kopf");
  equal(registry.hasHandlers(kopfexamples), true);
  deepEqual(registry.selectors(), ["kopfexamples"]);
  deepEqual(registry.extraFields(kopfexamples), [["spec", "size"]]);
});

Deno.test("kopf.daemon and kopf.timer are the same as kopf.on.daemon and kopf.on.timer", () => {
  equal(kopf.daemon, kopf.on.daemon);
  equal(kopf.timer, kopf.on.timer);
});

Deno.test("daemon options: cancellation, initial delay, retries and filters are kept", () => {
  const registry = new registries.OperatorRegistry();
  on.daemon("kopfexamples", {
    registry,
    id: "watch",
    param: 7,
    initialDelay: 2,
    cancellationBackoff: 1,
    cancellationTimeout: 5,
    cancellationPolling: 3,
    errors: "permanent",
    backoff: 10,
    labels: { app: kopf.PRESENT },
  }, () => {});
  const [handler] = registry.allSpawningHandlers();
  equal(handler?.kind, "daemon");
  if (handler?.kind !== "daemon") return;
  deepEqual(
    [
      handler.id,
      handler.param,
      handler.initialDelay,
      handler.cancellationBackoff,
      handler.cancellationTimeout,
      handler.cancellationPolling,
      handler.errors,
      handler.backoff,
    ],
    ["watch", 7, 2, 1, 5, 3, "permanent", 10],
  );
});

Deno.test("a timer without interval or idle is refused with the fix", () => {
  const registry = new registries.OperatorRegistry();
  const message = 'Cannot register the timer handler "tick" for "kopfexamples": a timer needs ' +
    "an interval or idle: on.timer(resource, { interval: 60 }, fn)";
  fails(() => on.timer("kopfexamples", { registry }, function tick() {}), message);
  fails(() => untyped.timer("kopfexamples", function tick() {}), message);
});

Deno.test("timer and daemon options are checked one by one, each with its fix", () => {
  const registry = new registries.OperatorRegistry();
  const where = (kind: string) => `Cannot register the ${kind} handler "fn" for "kopfexamples"`;
  fails(
    () => on.timer("kopfexamples", { registry, interval: 0 }, function fn() {}),
    `${where("timer")}: "interval" must be a positive number of seconds, got 0`,
  );
  fails(
    () => untyped.timer("kopfexamples", { registry, idle: "5" }, function fn() {}),
    `${where("timer")}: "idle" must be a positive number of seconds, got "5"`,
  );
  fails(
    () => on.timer("kopfexamples", { registry, idle: 5, sharp: true }, function fn() {}),
    `${where("timer")}: "sharp" aligns calls to the interval: add { interval: 60 }`,
  );
  fails(
    () => untyped.timer("kopfexamples", { registry, interval: 1, sharp: 1 }, function fn() {}),
    `${where("timer")}: "sharp" must be true or false, got 1`,
  );
  fails(
    () => on.daemon("kopfexamples", { registry, cancellationTimeout: -1 }, function fn() {}),
    `${where("daemon")}: "cancellationTimeout" must be a non-negative number of seconds, got -1`,
  );
  fails(
    () => untyped.daemon("kopfexamples", { registry, interval: 5 }, function fn() {}),
    `${where("daemon")}: "interval" is only for timers: on.timer(resource, { interval: … }, fn)`,
  );
  fails(
    () =>
      untyped.timer(
        "kopfexamples",
        { registry, interval: 5, cancellationTimeout: 1 },
        function fn() {},
      ),
    `${where("timer")}: "cancellationTimeout" is only for daemons: timers stop between their calls`,
  );
  fails(
    () => untyped.create("kopfexamples", { registry, initialDelay: 1 }, function fn() {}),
    `Cannot register the create handler "fn" for "kopfexamples": "initialDelay" is only for daemons and timers`,
  );
  equal(registry.allSpawningHandlers().length, 0);
});

Deno.test("anonymous daemons and timers get fallback ids; two of one kind clash", () => {
  const registry = new registries.OperatorRegistry();
  on.daemon("kopfexamples", { registry }, () => {});
  on.timer("kopfexamples", { registry, interval: 1 }, () => {});
  deepEqual(registry.allSpawningHandlers().map((h) => h.id), ["on.daemon", "on.timer"]);
  fails(
    () => on.daemon("kopfexamples", { registry }, () => {}),
    'Cannot register an anonymous daemon handler for "kopfexamples": another handler already ' +
      'has the id "on.daemon"; give one of them an explicit { id } or use a named function',
  );
});

Deno.test("a daemon or timer disables the server-side label selector: it needs the finalizer", () => {
  const registry = new registries.OperatorRegistry();
  on.event("kopfexamples", { registry, labels: { app: "web" } }, function seen() {});
  equal(serving.serverSideLabelSelector(registry, kopfexamples), "app=web");
  on.timer("kopfexamples", { registry, interval: 1, labels: { app: "web" } }, function tick() {});
  equal(serving.serverSideLabelSelector(registry, kopfexamples), undefined);
});
