import { deepEqual, equal, notEqual, throws } from "node:assert/strict";
import type * as causes from "../../../lib/causes/causes.ts";
import { EVERYTHING } from "../../../lib/registry/handlers.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as diffs from "../../../lib/structs/diffs.ts";
import type * as references from "../../../lib/structs/references.ts";

const examples: references.Resource = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfexamples",
  namespaced: true,
  kind: "KopfExample",
  singular: "kopfexample",
  shortNames: ["kex"],
  preferred: true,
};
const pods: references.Resource = {
  group: "",
  version: "v1",
  plural: "pods",
  namespaced: true,
  kind: "Pod",
  singular: "pod",
  preferred: true,
};

function update(
  old: Record<string, unknown>,
  current: Record<string, unknown>,
): causes.ChangingCause {
  return {
    reason: "update",
    initial: false,
    deleting: false,
    body: { metadata: { name: "a" }, ...current },
    old,
    new: current,
    diff: diffs.diff(old, current),
  };
}

Deno.test("registries are per instance; the default one is created once and can be replaced", () => {
  const a = new registries.OperatorRegistry();
  const b = new registries.OperatorRegistry();
  on.create("kopfexamples", { registry: a }, function onlyInA() {});
  deepEqual(a.allChangingHandlers().map((h) => h.id), ["onlyInA"]);
  deepEqual(b.allChangingHandlers(), []);
  const first = registries.defaultRegistry();
  equal(registries.defaultRegistry(), first);
  registries.setDefaultRegistry(b);
  equal(registries.defaultRegistry(), b);
  notEqual(registries.defaultRegistry(), first);
});

Deno.test("one function registered twice under one id is kept, and served once", () => {
  const registry = new registries.OperatorRegistry();
  function reconcile() {}
  on.create("kopfexamples", { registry }, reconcile);
  on.resume("kopfexamples", { registry }, reconcile);
  on.create("kopfexamples", { registry }, reconcile);
  equal(registry.allChangingHandlers().length, 3);
  deepEqual(registry.changingHandlers(examples).map((h) => [h.id, h.reason]), [
    ["reconcile", "create"],
  ]);
});

Deno.test("two functions with one id for one selector are rejected at registration", () => {
  const registry = new registries.OperatorRegistry();
  const first = function handler() {};
  const second = function handler() {};
  on.create("kopfexamples", { registry }, first);
  throws(
    () => on.update("kopfexamples", { registry }, second),
    /^RegistrationError: Cannot register the update handler "handler" for "kopfexamples": the id "handler" is taken by another function; give one of them a different explicit \{ id \}$/,
  );
  on.update("kopfexamples", { registry, id: "handler_update" }, second);
  on.update("pods", { registry }, second);
  on.event("kopfexamples", { registry }, second);
  deepEqual(registry.allChangingHandlers().map((h) => h.id), [
    "handler",
    "handler_update",
    "handler",
  ]);
});

Deno.test("two functions with one id for one resource under different names are caught when served", () => {
  const registry = new registries.OperatorRegistry();
  on.create("kopfexamples", { registry }, function handler() {});
  on.create("kex", { registry }, function handler() {});
  throws(
    () => registry.changingHandlers(examples),
    /^RegistrationError: Cannot serve "kopfexamples\.v1\.kopf\.dev": the create handler "handler" for "kopfexamples" and the create handler "handler" for "kex" share the id "handler"; give one of them an explicit \{ id \} or use a named function$/,
  );
  deepEqual(registry.changingHandlers(pods), []);
});

Deno.test("changingHandlers() and watchingHandlers() give the handlers that select the resource", () => {
  const registry = new registries.OperatorRegistry();
  on.create("kopfexamples", { registry }, function forExamples() {});
  on.create({ kind: "Pod" }, { registry }, function forPods() {});
  on.update(EVERYTHING, { registry }, function forAll() {});
  on.event("kex", { registry }, function spy() {});
  deepEqual(registry.changingHandlers(examples).map((h) => h.id), ["forExamples", "forAll"]);
  deepEqual(registry.changingHandlers(pods).map((h) => h.id), ["forPods", "forAll"]);
  deepEqual(registry.watchingHandlers(examples).map((h) => h.id), ["spy"]);
  deepEqual(registry.watchingHandlers(pods), []);
  equal(registry.hasHandlers(pods), true);
  equal(new registries.OperatorRegistry().hasHandlers(pods), false);
});

Deno.test("selectors() lists each selector once, for discovery and watching", () => {
  const registry = new registries.OperatorRegistry();
  on.create("kopfexamples", { registry }, function a() {});
  on.update("kopfexamples", { registry }, function b() {});
  on.event({ plural: "pods" }, { registry }, function c() {});
  on.delete({ plural: "pods" }, { registry }, function d() {});
  on.resume(EVERYTHING, { registry }, function e() {});
  deepEqual(registry.selectors(), ["kopfexamples", { plural: "pods" }, EVERYTHING]);
});

Deno.test("extraFields() lists the fields the resource's handlers filter on, once each", () => {
  const registry = new registries.OperatorRegistry();
  on.field("kopfexamples", { registry, field: "status.phase" }, function a() {});
  on.update("kopfexamples", { registry, field: ["status", "phase"] }, function b() {});
  on.event("kopfexamples", { registry, field: "spec.x" }, function c() {});
  on.field("pods", { registry, field: "spec.nodeName" }, function d() {});
  deepEqual(registry.extraFields(examples), [["status", "phase"], ["spec", "x"]]);
});

Deno.test("a registration after a lookup is seen by the next lookup", () => {
  const registry = new registries.OperatorRegistry();
  on.create("kopfexamples", { registry }, function a() {});
  equal(registry.changingHandlers(examples).length, 1);
  on.create("kopfexamples", { registry }, function b() {});
  equal(registry.changingHandlers(examples).length, 2);
});

Deno.test("the registry selects a resource's handlers for a cause, and tells finalizer needs", () => {
  const registry = new registries.OperatorRegistry();
  on.update("kopfexamples", { registry, labels: { app: "web" } }, function web() {});
  on.update("pods", { registry }, function pod() {});
  on.delete("kopfexamples", { registry, labels: { app: "web" } }, function cleanup() {});
  const web = update({ spec: { a: 1 } }, { metadata: { labels: { app: "web" } }, spec: { a: 2 } });
  const db = update({ spec: { a: 1 } }, { metadata: { labels: { app: "db" } }, spec: { a: 2 } });
  deepEqual(registry.selectChanging(examples, web, {}).map((h) => h.id), ["web"]);
  deepEqual(registry.selectChanging(examples, db, {}).map((h) => h.id), []);
  equal(registry.requiresFinalizer(examples, web, {}), true);
  equal(registry.requiresFinalizer(examples, db, {}), false);
  equal(registry.prematches(examples, web, {}), true);
  equal(registry.prematches(examples, db, {}), false);
  deepEqual(
    registry.selectWatching(examples, { body: { metadata: {} } }, {}),
    [],
  );
});
