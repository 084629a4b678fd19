// RBAC that forbids watching one resource (and the peering objects): the operator logs one clear
// line naming the resource and the fix, and keeps serving what it may watch. The operator runs
// as a user of its own (a client certificate signed by the control plane's CA) with a narrow
// ClusterRole.

import { equal, ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as transports from "../../lib/k8s/transport.ts";
import * as registering from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import type * as references from "../../lib/structs/references.ts";
import { KopfRunner } from "../../testing.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as peers from "../_fixtures/peers.ts";
import * as users from "../_fixtures/users.ts";

const resource = (
  group: string,
  plural: string,
  kind: string,
  namespaced: boolean,
): references.Resource => ({
  group,
  version: "v1",
  plural,
  kind,
  namespaced,
});
const namespaces = resource("", "namespaces", "Namespace", false);
const configmaps = resource("", "configmaps", "ConfigMap", true);
const clusterRoles = resource("rbac.authorization.k8s.io", "clusterroles", "ClusterRole", false);
const bindings = resource(
  "rbac.authorization.k8s.io",
  "clusterrolebindings",
  "ClusterRoleBinding",
  false,
);

Deno.test({
  name: "RBAC forbidding a watch gives one clear log line, and everything else is still served",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const plane = (await controlPlanes.controlPlane())!;
    using admin = new transports.Transport(
      await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath }),
    );
    await crdFixtures.installCrd(admin, {
      group: "kopf.dev",
      plural: "kopfexamples",
      kind: "KopfExample",
      shortNames: ["kex"],
    });
    const id = crypto.randomUUID().slice(0, 8);
    const user = `limited-${id}`;
    const namespace = `rbac-${id}`;
    const dir = await Deno.makeTempDir();
    await api.createObject(admin, namespaces, { metadata: { name: namespace } });
    // Peering is served and set up in the namespace, but this user may not use it.
    await peers.installPeeringCrds(admin);
    await peers.createPeering(admin, namespace);
    await api.createObject(admin, clusterRoles, {
      metadata: { name: user },
      rules: [
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch", "patch"] },
        { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["events"], verbs: ["create"] },
        {
          apiGroups: ["apiextensions.k8s.io"],
          resources: ["customresourcedefinitions"],
          verbs: ["list", "watch"],
        },
      ],
    });
    await api.createObject(admin, bindings, {
      metadata: { name: user },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: user },
      subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: user }],
    });
    const registry = new registries.OperatorRegistry();
    const handled: string[] = [];
    registering.create("kopfexamples.v1.kopf.dev", { registry }, function example_fn() {});
    registering.create(
      "configmaps.v1",
      { registry, labels: { rbac: "test" } },
      function cm_fn({ name }: { name: string }) {
        handled.push(name);
      },
    );
    const runner = new KopfRunner({
      registry,
      namespaces: [namespace],
      kubeconfig: await users.userKubeconfig(plane.kubeconfigPath, user, dir),
    });
    try {
      await runner.start();
      await runner.waitFor(
        () =>
          runner.logs.some((line) =>
            line.includes("Cannot watch kopfexamples.v1.kopf.dev") &&
            line.includes("forbidden by RBAC")
          ),
        { timeoutSeconds: 30, what: "the RBAC error line" },
      );
      await api.createObject(admin, configmaps, {
        metadata: { name: "allowed", labels: { rbac: "test" } },
      }, { namespace });
      await runner.waitFor(() => handled.includes("allowed"), {
        timeoutSeconds: 30,
        what: "the ConfigMap to be handled",
      });
      const line = runner.logs.find((l) => l.includes("Cannot watch kopfexamples.v1.kopf.dev"))!;
      ok(line.includes("grant list and watch"), line);
      // Peering it may not use: one line saying so, and the operator runs without it.
      const peering = runner.logs.filter((l) => l.includes("Cannot watch the peering"));
      equal(peering.length, 1, peering.join("\n"));
      ok(peering[0]!.includes("running without peering") && peering[0]!.includes("grant get"));
    } finally {
      await runner.stop();
      await api.deleteObject(admin, bindings, user).catch(() => {});
      await api.deleteObject(admin, clusterRoles, user).catch(() => {});
      await api.deleteObject(admin, namespaces, namespace).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
