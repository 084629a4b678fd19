// Registering activity handlers: `on.startup/cleanup/login/probe` with `(fn)` and
// `(options, fn)`, their persistent ids, the registry's view per activity, and every mistake
// as one RegistrationError naming the handler and the fix.

import { deepEqual, equal, throws } from "node:assert/strict";
import * as errors from "../../../lib/registry/errors.ts";
import * as ids from "../../../lib/registry/ids.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";

// JavaScript callers (and `as any`) get past the types; the checks must hold at runtime.
// deno-lint-ignore no-explicit-any
const untyped = on as any;

function fresh() {
  return new registries.OperatorRegistry();
}

Deno.test("on.startup/cleanup/login/probe declare activity handlers with Kopf's activity names", () => {
  const registry = fresh();
  function prepare() {}
  function release() {}
  function login_fn() {
    return null;
  }
  function queue_length() {
    return 0;
  }
  equal(on.startup({ registry }, prepare), prepare);
  equal(on.cleanup({ registry }, release), release);
  equal(on.login({ registry }, login_fn), login_fn);
  equal(on.probe({ registry }, queue_length), queue_length);
  deepEqual(
    registry.allActivityHandlers().map((h) => [h.activity, h.id]),
    [
      ["startup", "prepare"],
      ["cleanup", "release"],
      ["authentication", "login_fn"],
      ["probe", "queue_length"],
    ],
  );
  deepEqual(registry.activityHandlers("probe").map((h) => h.fn), [queue_length]);
  deepEqual(registry.selectors(), []);
  deepEqual(registry.allChangingHandlers(), []);
});

Deno.test("activity handlers take the handler options that apply to them", () => {
  const registry = fresh();
  on.startup({
    registry,
    id: "warm-up",
    param: { size: 3 },
    errors: "permanent",
    timeout: 30,
    retries: 5,
    backoff: 2,
  }, function prepare() {});
  const [handler] = registry.activityHandlers("startup");
  deepEqual({ ...handler, fn: undefined }, {
    kind: "activity",
    activity: "startup",
    id: "warm-up",
    fn: undefined,
    param: { size: 3 },
    errors: "permanent",
    timeout: 30,
    retries: 5,
    backoff: 2,
  });
  equal(Object.isFrozen(handler), true);
});

Deno.test("on.startup(fn) without options registers into the default registry", () => {
  const previous = registries.defaultRegistry();
  const registry = fresh();
  registries.setDefaultRegistry(registry);
  try {
    on.startup(function in_default() {});
    deepEqual(registry.activityHandlers("startup").map((h) => h.id), ["in_default"]);
  } finally {
    registries.setDefaultRegistry(previous);
  }
});

Deno.test("anonymous activity handlers are named after their kind", () => {
  const registry = fresh();
  on.startup({ registry }, () => {});
  on.cleanup({ registry }, () => {});
  on.login({ registry }, () => null);
  on.probe({ registry }, () => 1);
  deepEqual(registry.allActivityHandlers().map((h) => h.id), [
    "on.startup",
    "on.cleanup",
    "on.login",
    "on.probe",
  ]);
  equal(ids.handlerId(() => {}, "login"), "on.login");
});

Deno.test("one function may serve several activities, and is kept once per activity and id", () => {
  const registry = fresh();
  function report() {
    return "ok";
  }
  on.startup({ registry }, report);
  on.startup({ registry }, report);
  on.probe({ registry }, report);
  on.probe({ registry, id: "report-again" }, report);
  deepEqual(registry.activityHandlers("startup").map((h) => h.id), ["report"]);
  deepEqual(registry.activityHandlers("probe").map((h) => h.id), ["report", "report-again"]);
});

Deno.test("two functions with one id in one activity are refused; in two activities they are fine", () => {
  const registry = fresh();
  on.probe({ registry }, () => 1);
  throws(
    () => on.probe({ registry }, () => 2),
    {
      name: "RegistrationError",
      message: "Cannot register an anonymous probe handler: another handler already has the id " +
        '"on.probe"; give one of them an explicit { id } or use a named function',
    },
  );
  on.probe({ registry, id: "second" }, () => 2);
  on.startup({ registry, id: "second" }, () => {});
  on.login({ registry, id: "creds" }, function first() {
    return null;
  });
  throws(
    () =>
      on.login({ registry, id: "creds" }, function second() {
        return null;
      }),
    /Cannot register the login handler "second": the id "creds" is taken by another function/,
  );
});

Deno.test("mistakes in activity registrations are one line naming the handler and the fix", () => {
  const registry = fresh();
  const cases: [() => unknown, RegExp][] = [
    [
      () => untyped.startup("kopfexamples", function prepare() {}),
      /^Cannot register the startup handler "prepare": activities are not for resources: pass \(fn\) or \(options, fn\)$/,
    ],
    [
      () => untyped.cleanup({ registry }),
      /^Cannot register a cleanup handler: the handler must be a function, got an object$/,
    ],
    [
      () => untyped.probe(),
      /^Cannot register a probe handler: pass \(fn\) or \(options, fn\); got 0 arguments$/,
    ],
    [
      () => untyped.startup({ registry, labels: { app: "x" } }, function prepare() {}),
      /^Cannot register the startup handler "prepare": "labels" does not apply to startup handlers: they run for the operator$/,
    ],
    [
      () => untyped.login({ registry, optional: true }, function login_fn() {}),
      /"optional" does not apply to login handlers/,
    ],
    [
      () => untyped.probe({ registry, interval: 5 }, function p() {}),
      /^Cannot register the probe handler "p": unknown option "interval"; the options are id, param, registry, errors, timeout, retries, backoff$/,
    ],
    [
      () => untyped.startup({ registry, retries: -1 }, function prepare() {}),
      /"retries" must be a non-negative integer, got -1/,
    ],
    [
      () => untyped.cleanup({ registry, errors: "loud" }, function release() {}),
      /"errors" must be one of "temporary", "permanent", "ignored"/,
    ],
    [
      () => untyped.probe({ registry: {} }, function p() {}),
      /"registry" must be an OperatorRegistry, got an object/,
    ],
  ];
  for (const [register, message] of cases) {
    throws(register, (error: unknown) => {
      equal(error instanceof errors.RegistrationError, true, String(error));
      equal(message.test((error as Error).message), true, (error as Error).message);
      return true;
    });
  }
  deepEqual(registry.allActivityHandlers(), []);
});

Deno.test("activity handlers are typed by what they receive and return", () => {
  const registry = fresh();
  on.startup({ registry }, ({ settings, memo, activity, retry, logger }) => {
    settings.execution.defaultBackoffSeconds = 1;
    memo.ready = activity === "startup" && retry >= 0;
    logger.info("typed");
  });
  on.login({ registry }, ({ param }) =>
    Promise.resolve({
      server: "https://127.0.0.1:6443",
      token: String(param),
    }));
  // Never called: the type checker is the test.
  const _typeErrors = () => {
    // @ts-expect-error: a login handler returns a connection, not a number
    on.login({ registry, id: "a" }, () => 42);
    // @ts-expect-error: a ConnectionInfo has no "url"
    on.login({ registry, id: "b" }, () => ({ url: "https://x" }));
    // @ts-expect-error: activities have no resource
    on.startup("kopfexamples", () => {});
    // @ts-expect-error: "labels" is not an option of activities
    on.probe({ registry, id: "c", labels: {} }, () => 1);
    // @ts-expect-error: activity contexts have no body
    on.probe({ registry, id: "d" }, ({ body }) => body);
  };
  equal(registry.allActivityHandlers().length, 2);
});
