import { deepEqual, equal, throws } from "node:assert/strict";
import type * as causes from "../../../lib/causes/causes.ts";
import type * as handlers from "../../../lib/registry/handlers.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as diffs from "../../../lib/structs/diffs.ts";

// deno-lint-ignore no-explicit-any
type AnyFn = (context: any) => unknown;

/** Registers a parent as the user would, then runs it as the handling layer does. */
async function runParent(
  kind: "create" | "update",
  options: Record<string, unknown>,
  parentFn: AnyFn,
): Promise<{ parent: handlers.ChangingHandler; subregistry: registries.SubRegistry }> {
  const registry = new registries.OperatorRegistry();
  if (kind === "create") on.create("kopfexamples", { ...options, registry }, parentFn);
  else on.update("kopfexamples", { ...options, registry }, parentFn);
  const parent = registry.allChangingHandlers()[0] as handlers.ChangingHandler;
  const subregistry = new on.SubRegistry();
  await on.currentHandler.run({ handler: parent, subregistry }, () => parent.fn({}));
  return { parent, subregistry };
}

Deno.test("subhandler() declares children of the running changing handler, with parent/child ids", async () => {
  const { subregistry } = await runParent("create", {}, function create_tasks() {
    for (const task of ["a", "b"]) on.subhandler(function step() {}, { id: `task_${task}` });
    on.subhandler(function finish() {});
  });
  const children = subregistry.handlers();
  deepEqual(children.map((h) => h.id), [
    "create_tasks/task_a",
    "create_tasks/task_b",
    "create_tasks/finish",
  ]);
  deepEqual(
    children.map((h) => [h.parent, h.selector, h.reason, h.initial, h.requiresFinalizer]),
    Array(3).fill(["create_tasks", undefined, undefined, false, false]),
  );
});

Deno.test("subhandler() finds its parent across awaits in an async handler", async () => {
  const { subregistry } = await runParent("create", {}, async function slow() {
    await new Promise((resolve) => setTimeout(resolve, 1));
    on.subhandler(function later() {});
  });
  deepEqual(subregistry.handlers().map((h) => h.id), ["slow/later"]);
});

Deno.test("sub-handlers inherit the parent's need for a field change", async () => {
  const { subregistry } = await runParent("update", { field: "spec.a" }, function parent() {
    on.subhandler(function child() {}, { field: "spec.a.b" });
  });
  const [child] = subregistry.handlers();
  deepEqual([child?.id, child?.fieldNeedsChange, child?.field], [
    "parent/spec.a/child",
    true,
    ["spec", "a", "b"],
  ]);
});

Deno.test("sub-handlers of sub-handlers get both prefixes", async () => {
  const { subregistry } = await runParent("create", {}, function top() {
    on.subhandler(function middle() {});
  });
  const middle = subregistry.handlers()[0] as handlers.ChangingHandler;
  const nested = new on.SubRegistry();
  on.currentHandler.run({ handler: middle, subregistry: nested }, () => {
    on.subhandler(function leaf() {});
  });
  deepEqual(nested.handlers().map((h) => h.id), ["top/middle/leaf"]);
});

Deno.test("a function declared twice under one id is one sub-handler", async () => {
  function repeat() {}
  const { subregistry } = await runParent("create", {}, function parent() {
    on.subhandler(repeat);
    on.subhandler(repeat);
  });
  deepEqual(subregistry.handlers().map((h) => h.id), ["parent/repeat"]);
});

Deno.test("a second anonymous sub-handler without an id is rejected with the fix", async () => {
  let failure: unknown;
  await runParent("create", {}, function parent() {
    on.subhandler(() => {});
    try {
      on.subhandler(() => {});
    } catch (error) {
      failure = error;
    }
  });
  throws(
    () => {
      throw failure;
    },
    /^RegistrationError: Cannot register an anonymous sub-handler of "parent": another handler already has the id "parent\/subhandler"; give one of them an explicit \{ id \} or use a named function$/,
  );
});

Deno.test("subhandler() outside of a changing handler throws", () => {
  throws(
    () => on.subhandler(function orphan() {}),
    /^RegistrationError: Sub-handlers can only be declared inside a changing handler$/,
  );
});

Deno.test("old/new in sub-handlers need an update or field parent", async () => {
  let failure: unknown;
  await runParent("create", {}, function parent() {
    try {
      on.subhandler(function child() {}, { field: "spec.x", new: 1 });
    } catch (error) {
      failure = error;
    }
  });
  throws(
    () => {
      throw failure;
    },
    /Cannot register the sub-handler "child" of "parent": "old" and "new" need an update or field parent; use "value"/,
  );
  const { subregistry } = await runParent("update", {}, function parent() {
    on.subhandler(function child() {}, { field: "spec.x", new: 1 });
  });
  equal(subregistry.handlers()[0]?.hasNew, true);
});

Deno.test("sub-handlers reject a registry, options of other kinds and non-object options", async () => {
  const failures: unknown[] = [];
  await runParent("create", {}, function parent() {
    const given = [{ registry: new registries.OperatorRegistry() }, { optional: true }, "spec.x"];
    for (const options of given) {
      try {
        on.subhandler(function child() {}, options as on.SubhandlerOptions);
      } catch (error) {
        failures.push(String(error));
      }
    }
  });
  deepEqual(failures, [
    'RegistrationError: Cannot register the sub-handler "child" of "parent": "registry" does not apply to sub-handlers: they belong to their parent',
    'RegistrationError: Cannot register the sub-handler "child" of "parent": "optional" is only for delete handlers',
    'RegistrationError: Cannot register the sub-handler "child" of "parent": the options must be an object, got string',
  ]);
});

Deno.test("a sub-registry selects the sub-handlers that the parent's cause runs", async () => {
  const { subregistry } = await runParent("update", {}, function parent() {
    on.subhandler(function always() {});
    on.subhandler(function onlyWeb() {}, { labels: { app: "web" } });
    on.subhandler(function onA() {}, { field: "spec.a" });
  });
  const old = { spec: { a: 1, b: 1 } };
  const current = { spec: { a: 1, b: 2 } };
  const cause: causes.ChangingCause = {
    reason: "update",
    initial: false,
    deleting: false,
    body: { metadata: { labels: { app: "web" } }, ...current },
    old,
    new: current,
    diff: diffs.diff(old, current),
  };
  deepEqual(subregistry.selectChanging(cause, {}).map((h) => h.id), [
    "parent/always",
    "parent/onlyWeb",
  ]);
});
