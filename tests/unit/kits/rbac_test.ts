// `kopf rbac`'s manifests from a registry: writers get patch (and the status subresource), readers
// only list and watch; cluster-wide or namespace globs make one ClusterRole, namespaces by name a
// Role each; Events, peering and the Lease as the settings say.

import { deepEqual } from "node:assert/strict";
import { parse } from "yaml";
import * as rbac from "../../../lib/kits/rbac.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";
import type * as references from "../../../lib/structs/references.ts";

const SERVED: references.Resource[] = [
  {
    group: "kopf.dev",
    version: "v1",
    plural: "kopfexamples",
    kind: "KopfExample",
    namespaced: true,
    subresources: ["status"],
  },
  { group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", namespaced: true },
  { group: "", version: "v1", plural: "nodes", kind: "Node", namespaced: false },
];

function manifests(
  options: Partial<rbac.RbacOptions> & { settings?: operatorSettings.OperatorSettings },
) {
  const registry = new registries.OperatorRegistry();
  on.create("kopfexamples.v1.kopf.dev", { registry }, function created() {});
  on.event("configmaps.v1", { registry }, function seen() {});
  on.event("nodes.v1", { registry }, function node() {});
  return rbac.rbacManifests({
    registry,
    settings: operatorSettings.defaultSettings(),
    served: SERVED,
    clusterwide: false,
    namespaces: [],
    serviceAccount: { name: "op", namespace: "ops" },
    ...options,
  });
}

type Role = { kind: string; metadata: { name: string; namespace?: string }; rules?: unknown[] };

Deno.test("cluster-wide: one ClusterRole: writers patch (and /status), readers list and watch", () => {
  const all = manifests({ clusterwide: true }) as unknown as Role[];
  deepEqual(all.map((m) => m.kind), ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]);
  deepEqual(all[1]!.rules, [
    { apiGroups: [""], resources: ["configmaps", "nodes"], verbs: ["list", "watch"] },
    {
      apiGroups: ["kopf.dev"],
      resources: ["kopfexamples", "clusterkopfpeerings"],
      verbs: ["list", "watch", "patch"],
    },
    { apiGroups: ["kopf.dev"], resources: ["kopfexamples/status"], verbs: ["patch"] },
    {
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      verbs: ["list", "watch"],
    },
    { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  ]);
});

Deno.test("namespaces by name get a Role each; the cluster-wide needs stay in the ClusterRole", () => {
  const all = manifests({ namespaces: ["a", "b"] }) as unknown as Role[];
  deepEqual(all.map((m) => `${m.kind} ${m.metadata.namespace ?? ""}`), [
    "ServiceAccount ops",
    "ClusterRole ",
    "ClusterRoleBinding ",
    "Role a",
    "RoleBinding a",
    "Role b",
    "RoleBinding b",
  ]);
  deepEqual(all[1]!.rules, [
    { apiGroups: [""], resources: ["nodes", "namespaces"], verbs: ["list", "watch"] },
    {
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      verbs: ["list", "watch"],
    },
  ]);
  deepEqual(all[3]!.rules, [
    { apiGroups: [""], resources: ["configmaps"], verbs: ["list", "watch"] },
    {
      apiGroups: ["kopf.dev"],
      resources: ["kopfexamples", "kopfpeerings"],
      verbs: ["list", "watch", "patch"],
    },
    { apiGroups: ["kopf.dev"], resources: ["kopfexamples/status"], verbs: ["patch"] },
    { apiGroups: [""], resources: ["events"], verbs: ["create"] },
  ]);
});

Deno.test("namespace globs cannot have Roles: everything goes to the ClusterRole", () => {
  const kinds = manifests({ namespaces: ["team-*"] }).map((m) => m.kind);
  deepEqual(kinds, ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]);
});

Deno.test("standalone, no Events, and the Lease mode change the rules as they change the needs", () => {
  const settings = operatorSettings.defaultSettings();
  settings.peering.standalone = true;
  settings.posting.enabled = false;
  const quiet = manifests({ clusterwide: true, settings }) as unknown as Role[];
  deepEqual(
    (quiet[1]!.rules as { resources: string[] }[]).flatMap((r) => r.resources),
    ["configmaps", "nodes", "kopfexamples", "kopfexamples/status", "customresourcedefinitions"],
  );
  const leased = operatorSettings.defaultSettings();
  leased.peering.mode = "lease";
  const withLease = manifests({ clusterwide: true, settings: leased }) as unknown as Role[];
  const role = withLease.find((m) =>
    m.metadata.name === "op-leader-election" && m.kind === "Role"
  )!;
  deepEqual([role.metadata.namespace, role.rules], ["ops", [
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      verbs: ["get", "create", "update"],
    },
  ]]);
});

Deno.test("the YAML parses back to the manifests, with lists of names inline", () => {
  const all = manifests({ clusterwide: true });
  const text = rbac.toYaml(all);
  deepEqual(text.split("\n---\n").map((doc) => parse(doc)), all);
  deepEqual(text.includes("verbs: [list, watch, patch]"), true, text);
});
