// The managed webhook configurations and CRD conversions as data: one webhook per handler with
// Kopf's conventions, labels as objectSelector, names Kubernetes accepts, the handler id in the
// client config, and the CRD's `spec.conversion` patch.

import { deepEqual, equal } from "node:assert/strict";
import * as configurations from "../../../lib/engines/configurations.ts";
import { ABSENT, PRESENT } from "../../../lib/registry/handlers.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";

const V1 = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfexamples",
  namespaced: true,
  preferred: true,
};
const V2 = { ...V1, version: "v2", preferred: false };

Deno.test("buildWebhooks() makes one webhook per handler with Kopf's fields", () => {
  const registry = new registries.OperatorRegistry();
  on.on.validate("kopfexamples", {
    registry,
    labels: { app: "web", env: PRESENT, legacy: ABSENT, x: () => true },
  }, function check_size() {});
  on.on.validate("kopfexamples", {
    registry,
    id: "status_check",
    operations: ["UPDATE"],
    subresource: "status",
    sideEffects: true,
    ignoreFailures: true,
    persistent: true,
  }, () => {});
  const webhooks = configurations.buildWebhooks(registry.admission.webhooks(), {
    resources: [V1, V2],
    name: "kopfexamples.kopf.dev",
    clientConfig: { url: "https://127.0.0.1:9443/", caBundle: "Q0E=" },
    timeoutSeconds: 10,
  });
  deepEqual(webhooks, [
    {
      name: "check-size.kopfexamples.kopf.dev",
      sideEffects: "None",
      failurePolicy: "Fail",
      matchPolicy: "Equivalent",
      rules: [{
        apiGroups: ["kopf.dev"],
        apiVersions: ["v1"],
        resources: ["kopfexamples"],
        operations: ["*"],
        scope: "*",
      }],
      objectSelector: {
        matchExpressions: [
          { key: "app", operator: "In", values: ["web"] },
          { key: "env", operator: "Exists" },
          { key: "legacy", operator: "DoesNotExist" },
        ],
      },
      clientConfig: { url: "https://127.0.0.1:9443/check_size", caBundle: "Q0E=" },
      timeoutSeconds: 10,
      admissionReviewVersions: ["v1"],
    },
    {
      name: "status-check.kopfexamples.kopf.dev",
      sideEffects: "NoneOnDryRun",
      failurePolicy: "Ignore",
      matchPolicy: "Equivalent",
      rules: [{
        apiGroups: ["kopf.dev"],
        apiVersions: ["v1"],
        resources: ["kopfexamples/status"],
        operations: ["UPDATE"],
        scope: "*",
      }],
      clientConfig: { url: "https://127.0.0.1:9443/status_check", caBundle: "Q0E=" },
      timeoutSeconds: 10,
      admissionReviewVersions: ["v1"],
    },
  ]);
  const persistent = configurations.buildWebhooks(registry.admission.webhooks(), {
    resources: [V1],
    name: "kopfexamples.kopf.dev",
    clientConfig: { url: "https://127.0.0.1:9443" },
    timeoutSeconds: 10,
    persistentOnly: true,
  });
  deepEqual(persistent.map((w) => w.name), ["status-check.kopfexamples.kopf.dev"]);
});

Deno.test("buildWebhooks() appends the handler id to a Service's path, URL-encoded per segment", () => {
  const registry = new registries.OperatorRegistry();
  on.on.mutate("kopfexamples", { registry, field: "spec.size" }, function fix() {});
  const [webhook] = configurations.buildWebhooks(registry.admission.webhooks(), {
    resources: [V1],
    name: "op.example.com",
    clientConfig: { service: { namespace: "ops", name: "op", path: "/hooks/" } },
    timeoutSeconds: 30,
  });
  deepEqual(webhook?.clientConfig, {
    service: { namespace: "ops", name: "op", path: "/hooks/fix/spec.size" },
  });
});

Deno.test("webhookName() lower-cases, maps / and _, and hex-encodes anything else", () => {
  equal(configurations.webhookName("checkSize", "a.b.c"), "checksize.a.b.c");
  equal(configurations.webhookName("fn/spec.x", "a.b.c"), "fn.spec.x.a.b.c");
  equal(configurations.webhookName("on.validate", "a.b.c"), "on.validate.a.b.c");
  equal(configurations.webhookName("a b:c", ""), "a20b3ac");
});

Deno.test("crdConversionPatch() points the CRD at /convert/<crd> and drops the other way of reaching", () => {
  deepEqual(
    configurations.crdConversionPatch("kopfexamples.kopf.dev", {
      service: { namespace: "ops", name: "op", port: 443, path: "" },
      caBundle: "Q0E=",
    }),
    {
      spec: {
        conversion: {
          strategy: "Webhook",
          webhook: {
            conversionReviewVersions: ["v1"],
            clientConfig: {
              service: {
                namespace: "ops",
                name: "op",
                port: 443,
                path: "/convert/kopfexamples.kopf.dev",
              },
              url: null,
              caBundle: "Q0E=",
            },
          },
        },
      },
    },
  );
});
