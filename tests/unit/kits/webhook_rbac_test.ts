// `kopf rbac` for webhook handlers: the managed configurations need create/patch/delete on the
// kinds that have handlers, and conversions need to patch CRDs; nothing when unmanaged.

import { deepEqual } from "node:assert/strict";
import * as rbac from "../../../lib/kits/rbac.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";

function clusterRules(registry: registries.OperatorRegistry, managed: string | undefined) {
  const settings = operatorSettings.defaultSettings();
  settings.admission.managed = managed;
  settings.peering.standalone = true;
  settings.posting.enabled = false;
  const manifests = rbac.rbacManifests({
    registry,
    settings,
    served: [],
    clusterwide: true,
    namespaces: [],
    serviceAccount: { name: "op", namespace: "ops" },
  });
  return manifests.find((m) => m.kind === "ClusterRole")?.rules;
}

Deno.test("kopf rbac lets a webhook operator manage its configurations and patch converted CRDs", () => {
  const registry = new registries.OperatorRegistry();
  on.on.validate("kopfexamples", { registry }, function check() {});
  on.on.convert("kopfexamples.kopf.dev", { registry, from: "v1", to: "v2" }, function up() {});
  deepEqual(clusterRules(registry, "op.example.com"), [
    {
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      verbs: ["list", "watch"],
    },
    {
      apiGroups: ["admissionregistration.k8s.io"],
      resources: ["validatingwebhookconfigurations"],
      verbs: ["create", "patch", "delete"],
    },
    {
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      verbs: ["patch"],
    },
  ]);
  deepEqual(clusterRules(registry, undefined), [
    {
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      verbs: ["list", "watch"],
    },
    {
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      verbs: ["patch"],
    },
  ]);
});
