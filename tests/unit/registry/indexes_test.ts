import { deepEqual, equal, throws } from "node:assert/strict";
import type * as contexts from "../../../lib/registry/contexts.ts";
import * as handlers from "../../../lib/registry/handlers.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import type * as indexes from "../../../lib/structs/indexes.ts";
import type * as references from "../../../lib/structs/references.ts";

const pods: references.Resource = {
  group: "",
  version: "v1",
  plural: "pods",
  kind: "Pod",
  namespaced: true,
};

// JavaScript callers (and `as any`) get past the types; the checks must hold at runtime.
// deno-lint-ignore no-explicit-any
const untyped = on as any;

Deno.test("on.index registers an index handler named after the function, without a field suffix", () => {
  const registry = new registries.OperatorRegistry();
  function podsByApp() {}
  equal(on.index("pods", { registry }, podsByApp), podsByApp);
  on.index("pods", { registry, id: "byPhase", field: "status.phase" }, function anything() {});
  on.index("pods", { registry, field: "status.phase" }, function phases() {});
  const all = registry.allIndexingHandlers();
  deepEqual(all.map((h) => [h.kind, h.id]), [
    ["indexing", "podsByApp"],
    ["indexing", "byPhase"],
    ["indexing", "phases"],
  ]);
  deepEqual(all[1]?.field, ["status", "phase"]);
  equal(on.on.index, on.index);
  deepEqual(registry.selectors(), ["pods"], "an index's resource is served");
  equal(registry.allChangingHandlers().length + registry.allWatchingHandlers().length, 0);
  equal(registry.hasHandlers(pods), false, "no other handlers than indexes");
  deepEqual(registry.indexingHandlers(pods).map((h) => h.id), ["podsByApp", "byPhase", "phases"]);
});

Deno.test("on.index takes the filters and retry options, checked as for other handlers", () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", {
    registry,
    labels: { app: handlers.PRESENT },
    annotations: { skip: handlers.ABSENT },
    when: ({ name }) => name !== "",
    field: "spec.nodeName",
    value: handlers.PRESENT,
    errors: "permanent",
    retries: 3,
    timeout: 10,
    backoff: 1,
    param: "p",
  }, function filtered() {});
  const [handler] = registry.allIndexingHandlers();
  equal(handler?.errors, "permanent");
  equal(handler?.retries, 3);
  equal(handler?.param, "p");
  equal(handler?.hasValue, true);
});

Deno.test("on.index is typed: the function gets the object, the retry counters and no patch", () => {
  const registry = new registries.OperatorRegistry();
  on.index<{ replicas?: number }>("deployments", { registry }, function replicas(context) {
    const typed: contexts.IndexingContext<{ replicas?: number }> = context;
    // @ts-expect-error: indexing writes nothing, so its context has no patch
    void context.patch;
    return { [typed.name]: (typed.spec.replicas ?? 0) + typed.retry };
  });
  // Handlers declare the indexes they read in their parameter's type.
  on.create(
    "kopfexamples",
    { registry },
    function reads(
      { replicas }: contexts.ChangingContext & { replicas: indexes.Index<string, number> },
    ) {
      return [...replicas.get("web") ?? []];
    },
  );
  equal(registry.allIndexingHandlers().length, 1);
});

const mistakes: [string, () => unknown, RegExp][] = [
  [
    "an anonymous function",
    () => on.index("pods", () => ({})),
    /^RegistrationError: Cannot register an anonymous index handler for "pods": handlers get the index as a context field named by its id; use a named function or give \{ id: "podsByLabel" \}$/,
  ],
  [
    "an unknown option",
    () => untyped.index("pods", { feild: "spec.x" }, function fn() {}),
    /^RegistrationError: Cannot register the index handler "fn" for "pods": unknown option "feild"; the options are id, param, registry, errors, timeout, retries, backoff, labels, annotations, when, field, value$/,
  ],
  [
    "old/new filters",
    () => untyped.index("pods", { field: "spec.x", old: 1 }, function fn() {}),
    /^RegistrationError: Cannot register the index handler "fn" for "pods": "old" filters are only for update and field handlers; use "value"$/,
  ],
  [
    "optional",
    () => untyped.index("pods", { optional: true }, function fn() {}),
    /^RegistrationError: Cannot register the index handler "fn" for "pods": "optional" is only for delete handlers$/,
  ],
  [
    "a wrong errors mode",
    () => untyped.index("pods", { errors: "IGNORED" }, function fn() {}),
    /^RegistrationError: Cannot register the index handler "fn" for "pods": "errors" must be one of "temporary", "permanent", "ignored"$/,
  ],
  [
    "a value without a field",
    () => on.index("pods", { value: 1 }, function fn() {}),
    /^RegistrationError: Cannot register the index handler "fn" for "pods": "value" filters a field: add \{ field: "spec.x" \}$/,
  ],
  [
    "no function",
    () => untyped.index("pods", {}),
    /^RegistrationError: Cannot register an index handler for "pods": the handler must be a function, got an object$/,
  ],
];

for (const [what, register, message] of mistakes) {
  Deno.test(`on.index refuses ${what} with a message that says how to fix it`, () => {
    throws(register, message);
  });
}

Deno.test("on.index: an anonymous function with an explicit id is fine", () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry, id: "podsByLabel" }, () => ({}));
  equal(registry.allIndexingHandlers()[0]?.id, "podsByLabel");
});

Deno.test("on.index: two functions with one id for one resource clash; for two resources they share the index", () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry, id: "owners" }, function first() {});
  throws(
    () => on.index("pods", { registry, id: "owners" }, function second() {}),
    /^RegistrationError: Cannot register the index handler "second" for "pods": the id "owners" is taken by another function; give one of them a different explicit \{ id \}$/,
  );
  on.index("deployments", { registry, id: "owners" }, function third() {});
  deepEqual(registry.allIndexingHandlers().map((h) => h.id), ["owners", "owners"]);
});

Deno.test("on.index: selectors naming one resource twice clash when the resource is served", () => {
  const registry = new registries.OperatorRegistry();
  on.index("pods", { registry, id: "x" }, function first() {});
  on.index("pods.v1", { registry, id: "x" }, function second() {});
  throws(
    () => registry.indexingHandlers(pods),
    /^RegistrationError: Cannot serve "pods.v1": the index handler "first" for "pods" and the index handler "second" for "pods.v1" share the id "x"/,
  );
});
