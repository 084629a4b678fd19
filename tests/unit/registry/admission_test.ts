// Registering webhook handlers: `on.validate`, `on.mutate` and `on.convert` with their options
// as data, Kopf's ids, and every mistake as one RegistrationError naming the handler and the fix.

import { deepEqual, equal, throws } from "node:assert/strict";
import * as errors from "../../../lib/registry/errors.ts";
import { PRESENT } from "../../../lib/registry/handlers.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";

// JavaScript callers (and `as any`) get past the types; the checks must hold at runtime.
// deno-lint-ignore no-explicit-any
const untyped = on.on as any;

function fails(fn: () => unknown, message: string): void {
  throws(fn, (error: unknown) => {
    equal((error as Error).message, message);
    return error instanceof errors.RegistrationError;
  });
}

Deno.test("on.validate/mutate keep their options as webhook handlers of the registry", () => {
  const registry = new registries.OperatorRegistry();
  function check_size() {}
  function add_label() {}
  equal(
    on.on.validate("kopfexamples", { registry, labels: { app: PRESENT } }, check_size),
    check_size,
  );
  on.on.mutate("kopfexamples", {
    registry,
    operations: ["CREATE", "UPDATE"],
    subresource: "status",
    persistent: true,
    sideEffects: true,
    ignoreFailures: true,
    field: "spec.size",
  }, add_label);
  deepEqual(
    registry.admission.webhooks().map((h) => [
      h.kind,
      h.id,
      h.operations,
      h.subresource,
      h.persistent,
      h.sideEffects,
      h.ignoreFailures,
    ]),
    [
      ["validating", "check_size", undefined, undefined, false, false, false],
      ["mutating", "add_label/spec.size", ["CREATE", "UPDATE"], "status", true, true, true],
    ],
  );
  deepEqual(registry.admission.webhooks("mutating").map((h) => h.id), ["add_label/spec.size"]);
  equal(registry.admission.any, true);
  deepEqual(registry.selectors(), []); // webhooks are not watched
});

Deno.test("on.validate takes Kopf's single `operation` as a list of one", () => {
  const registry = new registries.OperatorRegistry();
  on.on.validate("kopfexamples", { registry, operation: "DELETE" }, function deletions() {});
  deepEqual(registry.admission.webhooks()[0]?.operations, ["DELETE"]);
});

Deno.test("on.validate/mutate reject bad options in one line naming the handler and the fix", () => {
  const registry = new registries.OperatorRegistry();
  function check() {}
  fails(
    () => untyped.validate("kopfexamples", { registry, operations: ["create"] }, check),
    `Cannot register the validate handler "check" for "kopfexamples": the operation "create" ` +
      `is not one of CREATE, UPDATE, DELETE, CONNECT (upper case, as in the AdmissionReview)`,
  );
  fails(
    () =>
      untyped.validate("kopfexamples", { registry, operation: "CREATE", operations: [] }, check),
    `Cannot register the validate handler "check" for "kopfexamples": use either "operation" or "operations", not both`,
  );
  fails(
    () => untyped.mutate("kopfexamples", { registry, retries: 3 }, check),
    `Cannot register the mutate handler "check" for "kopfexamples": "retries" does not apply to webhook handlers: they answer once, no retries`,
  );
  fails(
    () => untyped.mutate("kopfexamples", { registry, persistent: "yes" }, check),
    `Cannot register the mutate handler "check" for "kopfexamples": "persistent" must be true or false, got string`,
  );
  fails(
    () => untyped.validate("kopfexamples", { registry, subresource: "Status!" }, check),
    `Cannot register the validate handler "check" for "kopfexamples": "subresource" must be a subresource name such as "status", got Status!`,
  );
  fails(
    () => untyped.validate("kopfexamples", { registry, sideEffect: true }, check),
    `Cannot register the validate handler "check" for "kopfexamples": unknown option "sideEffect"; the options are ` +
      `id, param, registry, labels, annotations, when, field, value, operation, operations, subresource, persistent, sideEffects, ignoreFailures`,
  );
});

Deno.test("admission ids name URL paths: a second handler with the same id is refused", () => {
  const registry = new registries.OperatorRegistry();
  on.on.validate("kopfexamples", { registry }, function check() {});
  fails(
    () => on.on.mutate("configmaps", { registry }, function check() {}),
    `Cannot register the mutate handler "check" for "configmaps": the id "check" names the webhook ` +
      `the validate handler "check" for "kopfexamples" already (ids are URL paths); give one of them a different { id }`,
  );
  on.on.mutate("configmaps", { registry, id: "check-configmaps" }, function check() {});
  deepEqual(registry.admission.webhooks().map((h) => h.id), ["check", "check-configmaps"]);
});

Deno.test("on.convert keeps the versions and refuses a second function for the same pair", () => {
  const registry = new registries.OperatorRegistry();
  function up() {}
  on.on.convert("kopfexamples.kopf.dev", { registry, from: "v1", to: "v2" }, up);
  on.on.convert("kopfexamples.kopf.dev", { registry, from: "v1", to: "v2" }, up); // the same: kept once
  deepEqual(registry.admission.conversions().map((h) => [h.id, h.from, h.to]), [[
    "up",
    "v1",
    "v2",
  ]]);
  fails(
    () =>
      on.on.convert(
        "kopfexamples.kopf.dev",
        { registry, from: "v1", to: "v2" },
        function other() {},
      ),
    `Cannot register the convert handler "other" for "kopfexamples.kopf.dev": the convert handler "up" ` +
      `for "kopfexamples.kopf.dev" converts v1 to v2 already; one function per pair of versions`,
  );
  fails(
    () => untyped.convert("kopfexamples.kopf.dev", { registry, from: "v1" }, up),
    `Cannot register the convert handler "up" for "kopfexamples.kopf.dev": "to" is required: on.convert(resource, { from: "v1", to: "v2" }, fn)`,
  );
  fails(
    () => untyped.convert("kopfexamples.kopf.dev", { registry, from: "1", to: "v2" }, up),
    `Cannot register the convert handler "up" for "kopfexamples.kopf.dev": "from" must be a version such as "v1" or "v2beta1", got "1"`,
  );
  fails(
    () => untyped.convert("kopfexamples.kopf.dev", { registry, from: "v2", to: "v2" }, up),
    `Cannot register the convert handler "up" for "kopfexamples.kopf.dev": "from" and "to" are both "v2"; a conversion needs two versions`,
  );
  fails(
    () =>
      untyped.convert("kopfexamples.kopf.dev", { registry, from: "v1", to: "v2", labels: {} }, up),
    `Cannot register the convert handler "up" for "kopfexamples.kopf.dev": unknown option "labels"; the options are id, param, registry, from, to`,
  );
});
