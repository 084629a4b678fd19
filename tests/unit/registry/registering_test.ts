import { deepEqual, equal, throws } from "node:assert/strict";
import { ABSENT, PRESENT } from "../../../lib/registry/handlers.ts";
import * as errors from "../../../lib/registry/errors.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";

interface KopfExampleSpec {
  field?: string;
  items?: string[];
}

function fresh() {
  return new registries.OperatorRegistry();
}

// JavaScript callers (and `as any`) get past the types; the checks must hold at runtime.
// deno-lint-ignore no-explicit-any
const untyped = on as any;

Deno.test("on.* return the function itself, so it can be registered for several resources", () => {
  const registry = fresh();
  function reconcile() {}
  equal(on.create("kopfexamples", { registry }, reconcile), reconcile);
  equal(on.create("kopfexamples.v1.kopf.dev", { registry }, reconcile), reconcile);
  equal(on.update("pods", { registry }, reconcile), reconcile);
  equal(on.delete("pods", { registry }, reconcile), reconcile);
  equal(on.resume("pods", { registry }, reconcile), reconcile);
  equal(on.field("pods", { registry, field: "spec.x" }, reconcile), reconcile);
  equal(on.event("pods", { registry }, reconcile), reconcile);
  equal(registry.allChangingHandlers().length, 6);
  equal(registry.allWatchingHandlers().length, 1);
});

Deno.test("on.* are typed by the spec and status the handler reads", () => {
  const registry = fresh();
  const fn = on.create<KopfExampleSpec>("kopfexamples", { registry }, ({ spec }) => spec.field);
  on.update<KopfExampleSpec, { phase?: string }>(
    "kopfexamples",
    { registry, when: ({ spec, status }) => spec.items !== undefined && status.phase !== "Done" },
    function grow({ spec }) {
      return spec.items?.length;
    },
  );
  // Never called: the type checker is the test.
  const _typeErrors = () => {
    // @ts-expect-error: the spec has no such field
    on.create<KopfExampleSpec>("kopfexamples", { registry, id: "x" }, ({ spec }) => spec.nope);
    // @ts-expect-error: "feild" is not an option
    on.create("kopfexamples", { registry, id: "y", feild: "spec.x" }, function typo() {});
    // @ts-expect-error: old/new are not options of creation handlers
    on.create("kopfexamples", { registry, id: "z", field: "spec.x", old: 1 }, function oldNew() {});
    // @ts-expect-error: field handlers need a field
    on.field("kopfexamples", { registry }, function noField() {});
  };
  equal(typeof fn, "function");
  deepEqual(registry.allChangingHandlers().map((h) => h.id), ["on.create", "grow"]);
});

Deno.test("on.create/update/delete/resume/field/event declare the handler Kopf would", () => {
  const registry = fresh();
  function h() {}
  on.create("kopfexamples", { registry, id: "c", param: 7, retries: 3, timeout: 60 }, h);
  on.update("kopfexamples", { registry, id: "u", field: "spec.a", new: PRESENT }, h);
  on.delete("kopfexamples", { registry, id: "d", optional: true }, h);
  on.delete("kopfexamples", { registry, id: "d2" }, h);
  on.resume("kopfexamples", { registry, id: "r", deleted: true }, h);
  on.field(
    "kopfexamples",
    { registry, field: ["metadata", "labels", "app.kubernetes.io/name"] },
    h,
  );
  on.event("kopfexamples", { registry, field: "spec.b", value: ABSENT }, h);
  const [c, u, d, d2, r, f] = registry.allChangingHandlers();
  const [e] = registry.allWatchingHandlers();
  deepEqual(
    [c?.reason, c?.param, c?.retries, c?.timeout, c?.initial, c?.fieldNeedsChange],
    ["create", 7, 3, 60, false, false],
  );
  deepEqual([u?.id, u?.reason, u?.fieldNeedsChange, u?.hasNew, u?.hasOld, u?.field], [
    "u/spec.a",
    "update",
    true,
    true,
    false,
    ["spec", "a"],
  ]);
  deepEqual([d?.reason, d?.requiresFinalizer, d2?.requiresFinalizer], ["delete", false, true]);
  deepEqual([r?.reason, r?.initial, r?.deleted], ["resume", true, true]);
  deepEqual([f?.id, f?.reason, f?.fieldNeedsChange], [
    "h/metadata.labels.app.kubernetes.io/name",
    undefined,
    true,
  ]);
  deepEqual([e?.kind, e?.id, e?.hasValue, e?.value], ["watching", "h/spec.b", true, ABSENT]);
  equal(Object.isFrozen(c), true);
});

Deno.test("on.* use the default registry unless given one", () => {
  const registry = fresh();
  registries.setDefaultRegistry(registry);
  on.create("kopfexamples", function inDefault() {});
  const own = fresh();
  on.create("kopfexamples", { registry: own }, function inOwn() {});
  deepEqual(registries.defaultRegistry().allChangingHandlers().map((h) => h.id), ["inDefault"]);
  deepEqual(own.allChangingHandlers().map((h) => h.id), ["inOwn"]);
  equal(registries.defaultRegistry(), registry);
});

Deno.test("a value filter of undefined is no filter, as None is in Kopf", () => {
  const registry = fresh();
  on.update("kopfexamples", { registry, field: "spec.a", value: undefined }, function h() {});
  equal(registry.allChangingHandlers()[0]?.hasValue, false);
});

const mistakes: [string, () => unknown, RegExp][] = [
  [
    "an unknown option",
    () => untyped.create("kopfexamples", { feild: "spec.x" }, function fn() {}),
    /^RegistrationError: Cannot register the create handler "fn" for "kopfexamples": unknown option "feild"; the options are id, param, registry, errors, timeout, retries, backoff, labels, annotations, when, field, value$/,
  ],
  [
    "an empty field segment",
    () => on.update("kopfexamples", { field: "spec..x" }, function fn() {}),
    /Cannot register the update handler "fn" for "kopfexamples": the field "spec\.\.x" has an empty segment; write it as "spec\.x" or \["spec", "x"\]/,
  ],
  [
    "an empty field",
    () => on.field("kopfexamples", { field: "" }, function fn() {}),
    /the field "" has an empty segment/,
  ],
  [
    "an empty field path",
    () => on.field("kopfexamples", { field: [] }, function fn() {}),
    /the field \[\] is empty; write it as "spec\.x"/,
  ],
  [
    "a field segment that is not a string",
    () => untyped.field("kopfexamples", { field: ["spec", 1] }, function fn() {}),
    /the field \["spec",1\] has a segment that is not a string/,
  ],
  [
    "a field of the wrong type",
    () => untyped.update("kopfexamples", { field: 42 }, function fn() {}),
    /the field 42 must be a string or an array of strings/,
  ],
  [
    "value together with old",
    () => on.update("kopfexamples", { field: "spec.x", value: 1, old: 2 }, function fn() {}),
    /Cannot register the update handler "fn" for "kopfexamples": use either "value" or "old"\/"new", not both/,
  ],
  [
    "value together with new on a field handler",
    () => on.field("kopfexamples", { field: "spec.x", value: 1, new: 2 }, function fn() {}),
    /use either "value" or "old"\/"new", not both/,
  ],
  [
    "old on a creation handler",
    () => untyped.create("kopfexamples", { field: "spec.x", old: 1 }, function fn() {}),
    /Cannot register the create handler "fn" for "kopfexamples": "old" filters are only for update and field handlers; use "value"/,
  ],
  [
    "new on a deletion handler",
    () => untyped.delete("kopfexamples", { field: "spec.x", new: 1 }, function fn() {}),
    /the delete handler "fn" for "kopfexamples": "new" filters are only for update and field handlers/,
  ],
  [
    "old on a resume handler",
    () => untyped.resume("kopfexamples", { field: "spec.x", old: 1 }, function fn() {}),
    /the resume handler "fn".*"old" filters are only for update and field handlers/,
  ],
  [
    "new on an event handler",
    () => untyped.event("kopfexamples", { field: "spec.x", new: 1 }, function fn() {}),
    /the event handler "fn".*"new" filters are only for update and field handlers/,
  ],
  [
    "value without a field",
    () => on.update("kopfexamples", { value: 1 }, function fn() {}),
    /"value" filters a field: add \{ field: "spec\.x" \}/,
  ],
  [
    "old without a field",
    () => on.update("kopfexamples", { old: 1 }, function fn() {}),
    /"old" and "new" filter a field: add \{ field: "spec\.x" \}/,
  ],
  [
    "a field handler without a field",
    () => untyped.field("kopfexamples", {}, function fn() {}),
    /field handlers need a field: on\.field\(resource, \{ field: "spec\.x" \}, fn\)/,
  ],
  [
    "an undefined label",
    () =>
      on.create(
        "kopfexamples",
        { labels: { app: undefined as unknown as string } },
        function fn() {},
      ),
    /Cannot register the create handler "fn" for "kopfexamples": the label "app" is undefined; use PRESENT or ABSENT/,
  ],
  [
    "a null annotation",
    () => untyped.create("kopfexamples", { annotations: { "a/b": null } }, function fn() {}),
    /the annotation "a\/b" is null; use PRESENT or ABSENT/,
  ],
  [
    "a label that is not a string",
    () => untyped.create("kopfexamples", { labels: { replicas: 3 } }, function fn() {}),
    /the label "replicas" must be a string, PRESENT, ABSENT or a predicate, got 3/,
  ],
  [
    "a negative timeout",
    () => on.create("kopfexamples", { timeout: -1 }, function fn() {}),
    /"timeout" must be a non-negative number of seconds, got -1/,
  ],
  [
    "a timeout that is not a number",
    () => untyped.create("kopfexamples", { timeout: "60" }, function fn() {}),
    /"timeout" must be a non-negative number of seconds, got "60"/,
  ],
  [
    "negative retries",
    () => on.update("kopfexamples", { retries: -3 }, function fn() {}),
    /"retries" must be a non-negative integer, got -3/,
  ],
  [
    "fractional retries",
    () => on.update("kopfexamples", { retries: 1.5 }, function fn() {}),
    /"retries" must be a non-negative integer, got 1\.5/,
  ],
  [
    "a negative backoff",
    () => on.delete("kopfexamples", { backoff: -0.5 }, function fn() {}),
    /"backoff" must be a non-negative number of seconds, got -0\.5/,
  ],
  [
    "a NaN backoff",
    () => on.delete("kopfexamples", { backoff: NaN }, function fn() {}),
    /"backoff" must be a non-negative number of seconds, got null/,
  ],
  [
    "optional on a creation handler",
    () => untyped.create("kopfexamples", { optional: true }, function fn() {}),
    /the create handler "fn" for "kopfexamples": "optional" is only for delete handlers/,
  ],
  [
    "deleted on an update handler",
    () => untyped.update("kopfexamples", { deleted: true }, function fn() {}),
    /the update handler "fn" for "kopfexamples": "deleted" is only for resume handlers/,
  ],
  [
    "optional that is not a boolean",
    () => untyped.delete("kopfexamples", { optional: "yes" }, function fn() {}),
    /"optional" must be true or false, got string/,
  ],
  [
    "retries on an event handler",
    () => untyped.event("kopfexamples", { retries: 3 }, function fn() {}),
    /the event handler "fn" for "kopfexamples": "retries" does not apply to event handlers/,
  ],
  [
    "a handler that is not a function",
    () => untyped.create("kopfexamples", "handler"),
    /^RegistrationError: Cannot register a create handler for "kopfexamples": the handler must be a function, got string$/,
  ],
  [
    "options without a handler",
    () => untyped.update("kopfexamples", { id: "x" }),
    /Cannot register an update handler for "kopfexamples": the handler must be a function, got an object/,
  ],
  [
    "options that are not an object",
    () => untyped.create("kopfexamples", "spec.x", function fn() {}),
    /the options must be an object, got string/,
  ],
  [
    "too many arguments",
    () => untyped.create("kopfexamples", {}, function fn() {}, {}),
    /pass \(resource, fn\) or \(resource, options, fn\); got 4 arguments/,
  ],
  [
    "an invalid errors mode",
    () => untyped.create("kopfexamples", { errors: "fatal" }, function fn() {}),
    /"errors" must be one of "temporary", "permanent", "ignored"/,
  ],
  [
    "a when that is not a function",
    () => untyped.create("kopfexamples", { when: true }, function fn() {}),
    /"when" must be a function, got boolean/,
  ],
  [
    "an empty id",
    () => on.create("kopfexamples", { id: "" }, function fn() {}),
    /"id" must be a non-empty string, got string/,
  ],
  [
    "a registry that is not a registry",
    () => untyped.create("kopfexamples", { registry: {} }, function fn() {}),
    /"registry" must be an OperatorRegistry, got an object/,
  ],
  [
    "a malformed resource",
    () => on.create("kopfexamples..dev", function fn() {}),
    /Cannot register the create handler "fn" for "kopfexamples\.\.dev": cannot select the resource "kopfexamples\.\.dev": use plural, plural\.group/,
  ],
];

for (const [what, register, message] of mistakes) {
  Deno.test(`registration rejects ${what} with a message that names the handler and the fix`, () => {
    registries.setDefaultRegistry(fresh());
    throws(register, (error: unknown) => {
      equal(error instanceof errors.RegistrationError, true);
      throws(() => {
        throw error;
      }, message);
      return true;
    });
    deepEqual(registries.defaultRegistry().allChangingHandlers(), []);
  });
}

Deno.test("registration rejects a second anonymous handler with the same id, saying how to fix it", () => {
  const registry = fresh();
  on.create("kopfexamples", { registry }, () => {});
  throws(
    () => on.create("kopfexamples", { registry }, () => {}),
    /^RegistrationError: Cannot register an anonymous create handler for "kopfexamples": another handler already has the id "on\.create"; give one of them an explicit \{ id \} or use a named function$/,
  );
  on.create("kopfexamples", { registry, id: "second" }, () => {});
  on.update("kopfexamples", { registry }, () => {});
  on.field("kopfexamples", { registry, field: "spec.a" }, () => {});
  on.field("kopfexamples", { registry, field: "spec.b" }, () => {});
  on.create("other", { registry }, () => {});
  deepEqual(registry.allChangingHandlers().map((h) => h.id), [
    "on.create",
    "second",
    "on.update",
    "on.field/spec.a",
    "on.field/spec.b",
    "on.create",
  ]);
});

Deno.test("the on object offers the same functions, delete included", () => {
  equal(on.on.create, on.create);
  equal(on.on.delete, on.delete);
  equal(on.on.field, on.field);
});
