// Admission reviews without a server: the JSONPatch computed from a handler's Patch, the
// review → response mapping (allowed, rejections and their priority, warnings, the context's
// dryrun/userInfo/operation), Kopf's handler selection rules, and bad reviews.

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import * as engine from "../../../lib/engines/admission.ts";
import * as handlingErrors from "../../../lib/handling/errors.ts";
import type * as admission from "../../../lib/registry/admission.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as patches from "../../../lib/structs/patches.ts";

const RESOURCE = { group: "kopf.dev", version: "v1", plural: "kopfexamples", namespaced: true };

function request(
  overrides: Record<string, unknown> = {},
): engine.AdmissionReview {
  return engine.parseReview({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "uid-1",
      operation: "CREATE",
      userInfo: { username: "alice", groups: ["devs"] },
      resource: { group: "kopf.dev", version: "v1", resource: "kopfexamples" },
      namespace: "default",
      object: { metadata: { name: "kex-1", namespace: "default", labels: { app: "web" } } },
      ...overrides,
    },
  });
}

function decode(patch: string | undefined): unknown {
  return patch === undefined ? undefined : JSON.parse(atob(patch));
}

async function answer(
  registry: registries.OperatorRegistry,
  review: engine.AdmissionReview = request(),
  webhook?: string,
) {
  return await engine.review(review, {
    handlers: registry.admission.webhooks(),
    resources: [RESOURCE],
    webhook,
  });
}

Deno.test("jsonPatch() adds a missing labels map, replaces values, removes with null, escapes keys", () => {
  const patch = new patches.Patch();
  patch.metadata.labels["kopf.dev/mutated"] = "yes";
  patch.spec.size = 2;
  patch.spec.obsolete = null;
  deepEqual(
    engine.jsonPatch(patch, { metadata: { name: "x" }, spec: { size: 1, obsolete: true } }),
    [
      { op: "add", path: "/metadata/labels", value: { "kopf.dev/mutated": "yes" } },
      { op: "remove", path: "/spec/obsolete" },
      { op: "replace", path: "/spec/size", value: 2 },
    ],
  );
  const escaped = new patches.Patch();
  escaped.metadata.annotations["a~b/c"] = "1";
  deepEqual(engine.jsonPatch(escaped, { metadata: { annotations: {} } }), [
    { op: "add", path: "/metadata/annotations/a~0b~1c", value: "1" },
  ]);
});

Deno.test("jsonPatch() applies the transformation functions after the merge document", () => {
  const patch = new patches.Patch();
  patch.spec.items = ["a"];
  patch.fns.push((body) => {
    ((body.spec as Record<string, unknown>).items as string[]).push("b");
  });
  deepEqual(engine.jsonPatch(patch, { spec: {} }), [
    { op: "add", path: "/spec/items", value: ["a", "b"] },
  ]);
  deepEqual(engine.jsonPatch(new patches.Patch(), { spec: {} }), []);
});

Deno.test("review() allows and answers the mutating handlers' patch as a base64 JSONPatch", async () => {
  const registry = new registries.OperatorRegistry();
  on.on.mutate(
    "kopfexamples",
    { registry },
    function add_label({ patch }: admission.AdmissionContext) {
      patch.metadata.labels.mutated = "yes";
    },
  );
  const result = await answer(registry);
  deepEqual(result, {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response: {
      uid: "uid-1",
      allowed: true,
      patch: result.response.patch,
      patchType: "JSONPatch",
    },
  });
  deepEqual(decode(result.response.patch), [
    { op: "add", path: "/metadata/labels/mutated", value: "yes" },
  ]);
});

Deno.test("review() rejects with the AdmissionError's message and code, and returns the warnings", async () => {
  const registry = new registries.OperatorRegistry();
  on.on.validate(
    "kopfexamples",
    { registry },
    function warn({ warnings }: admission.AdmissionContext) {
      warnings.push("spec.size is deprecated");
    },
  );
  on.on.validate("kopfexamples", { registry }, function reject() {
    throw new engine.AdmissionError("spec.size must be positive", { code: 422 });
  });
  const result = await answer(registry);
  deepEqual(result.response, {
    uid: "uid-1",
    allowed: false,
    warnings: ["spec.size is deprecated"],
    status: { code: 422, message: "spec.size must be positive" },
  });
});

Deno.test("review() prefers AdmissionError over PermanentError over TemporaryError, with code 500 otherwise", async () => {
  const registry = new registries.OperatorRegistry();
  on.on.validate("kopfexamples", { registry }, function temporary() {
    throw new handlingErrors.TemporaryError("later");
  });
  on.on.validate("kopfexamples", { registry }, function permanent() {
    throw new handlingErrors.PermanentError("never");
  });
  deepEqual((await answer(registry)).response.status, { code: 500, message: "never" });
  on.on.validate("kopfexamples", { registry }, function admission_error() {
    throw new engine.AdmissionError("denied");
  });
  deepEqual((await answer(registry)).response.status, { code: 500, message: "denied" });
});

Deno.test("review() fails the webhook call (500) when handlers throw only unexpected errors", async () => {
  const registry = new registries.OperatorRegistry();
  on.on.validate("kopfexamples", { registry }, function broken() {
    throw new TypeError("cannot read x of undefined");
  });
  await answer(registry).then(
    () => ok(false, "expected a failure"),
    (failure: engine.WebhookError) => {
      equal(failure.status, 500);
      equal(failure.message, "The admission handlers failed: cannot read x of undefined");
    },
  );
});

Deno.test("review() gives handlers dryrun, userInfo, operation, old/new, the webhook id and the headers", async () => {
  const registry = new registries.OperatorRegistry();
  const seen: Record<string, unknown>[] = [];
  on.on.validate(
    "kopfexamples",
    { registry },
    function inspect(context: admission.AdmissionContext) {
      const { dryrun, userInfo, operation, old, new: after, webhook, reason, headers, name } =
        context;
      seen.push({ dryrun, userInfo, operation, old, new: after, webhook, reason, headers, name });
    },
  );
  await engine.review(
    request({
      dryRun: true,
      operation: "UPDATE",
      oldObject: { metadata: { name: "kex-1" }, spec: { size: 1 } },
      object: { metadata: { name: "kex-1" }, spec: { size: 2 } },
    }),
    {
      handlers: registry.admission.webhooks(),
      resources: [RESOURCE],
      webhook: "inspect",
      headers: { "user-agent": "kube-apiserver" },
    },
  );
  deepEqual(seen, [{
    dryrun: true,
    userInfo: { username: "alice", groups: ["devs"] },
    operation: "UPDATE",
    old: { metadata: { name: "kex-1" }, spec: { size: 1 } },
    new: { metadata: { name: "kex-1" }, spec: { size: 2 } },
    webhook: "inspect",
    reason: "validating",
    headers: { "user-agent": "kube-apiserver" },
    name: "kex-1",
  }]);
});

Deno.test("review() runs only the handler of the id in the path; an unknown id is a 404", async () => {
  const registry = new registries.OperatorRegistry();
  const called: string[] = [];
  on.on.validate("kopfexamples", { registry }, function first() {
    called.push("first");
  });
  on.on.validate("kopfexamples", { registry }, function second() {
    called.push("second");
  });
  await answer(registry, request(), "second");
  deepEqual(called, ["second"]);
  await answer(registry);
  deepEqual(called, ["second", "first", "second"]);
  await answer(registry, request(), "third").then(
    () => ok(false, "expected a 404"),
    (error: engine.WebhookError) => {
      equal(error.status, 404);
      equal(error.message, `No admission handler has the id "third"`);
    },
  );
});

Deno.test("review() skips handlers by operations, subresource, filters, and mutations of deletions", async () => {
  const registry = new registries.OperatorRegistry();
  const called: string[] = [];
  const record = (name: string) => () => void called.push(name);
  on.on.validate(
    "kopfexamples",
    { registry, id: "updates", operations: ["UPDATE"] },
    record("updates"),
  );
  on.on.validate(
    "kopfexamples",
    { registry, id: "status", subresource: "status" },
    record("status"),
  );
  on.on.validate("kopfexamples", { registry, id: "db", labels: { app: "db" } }, record("db"));
  on.on.validate("kopfexamples", { registry, id: "web", labels: { app: "web" } }, record("web"));
  on.on.mutate("kopfexamples", { registry, id: "mutate-all" }, record("mutate-all"));
  on.on.mutate(
    "kopfexamples",
    { registry, id: "mutate-deletes", operations: ["DELETE"] },
    record("mutate-deletes"),
  );
  await answer(registry);
  deepEqual(called, ["web", "mutate-all"]);
  called.length = 0;
  await answer(
    registry,
    request({ operation: "DELETE", object: null, oldObject: { metadata: { name: "kex-1" } } }),
  );
  deepEqual(called, ["mutate-deletes"]);
});

Deno.test("review() ignores the patch of validating handlers and answers no patch on a rejection", async () => {
  const registry = new registries.OperatorRegistry();
  on.on.validate(
    "kopfexamples",
    { registry },
    function sneaky({ patch }: admission.AdmissionContext) {
      patch.spec.size = 1;
    },
  );
  equal((await answer(registry)).response.patch, undefined);
  on.on.mutate(
    "kopfexamples",
    { registry },
    function change({ patch }: admission.AdmissionContext) {
      patch.spec.size = 2;
      throw new engine.AdmissionError("no");
    },
  );
  const result = await answer(registry);
  equal(result.response.patch, undefined);
  equal(result.response.allowed, false);
});

Deno.test("review() answers 404 for a resource no admission handler serves", async () => {
  const registry = new registries.OperatorRegistry();
  on.on.validate("configmaps", { registry }, function cm() {});
  await answer(registry).then(
    () => ok(false, "expected a 404"),
    (error: engine.WebhookError) => {
      equal(error.status, 404);
      equal(error.message, `No admission handler serves "kopfexamples.v1.kopf.dev"`);
    },
  );
});

Deno.test("parseReview() names the first thing that makes a body not an AdmissionReview", () => {
  const bad = (data: unknown, message: string) =>
    throws(() => engine.parseReview(data), (error: engine.WebhookError) => {
      equal(error.status, 400);
      equal(error.message, `The body is not an AdmissionReview: ${message}`);
      return true;
    });
  bad([], "it is not a JSON object");
  bad({ kind: "ConversionReview" }, `"kind" is "ConversionReview"`);
  bad({ kind: "AdmissionReview" }, `"request" is missing`);
  bad({ kind: "AdmissionReview", request: { uid: "" } }, `"request.uid" is missing`);
  bad(
    { kind: "AdmissionReview", request: { uid: "1", resource: { group: "" } } },
    `"request.resource" needs group, version and resource`,
  );
  const base = { uid: "1", resource: { group: "", version: "v1", resource: "pods" } };
  bad(
    { kind: "AdmissionReview", request: { ...base, operation: "PATCH" } },
    `"request.operation" is "PATCH"`,
  );
  bad(
    { kind: "AdmissionReview", request: { ...base, operation: "CREATE" } },
    `"request.userInfo" is missing`,
  );
  bad(
    { kind: "AdmissionReview", request: { ...base, operation: "CREATE", userInfo: {} } },
    `neither "request.object" nor "request.oldObject" is an object`,
  );
});
