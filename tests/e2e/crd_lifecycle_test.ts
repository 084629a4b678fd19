// A CRD that is deleted while served, and comes back: the operator stops its watcher, keeps
// serving everything else, and serves the resource again once its CRD reappears.

import { ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as transports from "../../lib/k8s/transport.ts";
import * as registering from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import type * as references from "../../lib/structs/references.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as operators from "../_fixtures/operators.ts";

const namespaces: references.Resource = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};
const configmaps: references.Resource = {
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};

Deno.test({
  name: "a CRD deleted while served stops its watcher only; when it comes back it is served again",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const plane = (await controlPlanes.controlPlane())!;
    using transport = new transports.Transport(
      await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath }),
    );
    const suffix = crypto.randomUUID().slice(0, 6).replace(/[^a-z]/g, "x");
    const crd: crdFixtures.CrdOptions = {
      group: "lifecycle.kopf.dev",
      plural: `vanish${suffix}s`,
      kind: `Vanish${suffix}`,
    };
    const resource = await crdFixtures.installCrd(transport, crd);
    const namespace = `crd-${crypto.randomUUID().slice(0, 8)}`;
    await api.createObject(transport, namespaces, { metadata: { name: namespace } });
    const registry = new registries.OperatorRegistry();
    const handled: string[] = [];
    registering.create(
      `${crd.plural}.v1.${crd.group}`,
      { registry },
      function vanishing_fn({ name }: { name: string }) {
        handled.push(`crd ${name}`);
      },
    );
    registering.create(
      "configmaps.v1",
      { registry, labels: { lifecycle: "test" } },
      function cm_fn({ name }: { name: string }) {
        handled.push(`cm ${name}`);
      },
    );
    const op = await operators.startOperator({
      kubeconfigPath: plane.kubeconfigPath,
      registry,
      namespace,
    });
    try {
      await api.createObject(transport, resource, { metadata: { name: "first" }, spec: {} }, {
        namespace,
      });
      await op.until(() => handled.includes("crd first"), "the custom resource to be handled");

      await crdFixtures.uninstallCrd(transport, crd);
      // Everything else is still served.
      await api.createObject(transport, configmaps, {
        metadata: { name: "after-crd-gone", labels: { lifecycle: "test" } },
      }, {
        namespace,
      });
      await op.until(
        () => handled.includes("cm after-crd-gone"),
        "a ConfigMap handled while the CRD is gone",
      );

      const again = await crdFixtures.installCrd(transport, crd);
      await crdFixtures.eventually(async () => {
        try {
          await api.createObject(transport, again, { metadata: { name: "second" }, spec: {} }, {
            namespace,
          });
          return true;
        } catch {
          return undefined; // the re-created CRD may need a moment before it accepts objects
        }
      }, "the re-created CRD to accept objects");
      await op.until(
        () => handled.includes("crd second"),
        "the custom resource to be served again",
        60_000,
      );
      ok(handled.includes("crd first") && handled.includes("cm after-crd-gone"));
    } finally {
      await op.stop();
      await crdFixtures.uninstallCrd(transport, crd).catch(() => {});
      await api.deleteObject(transport, namespaces, namespace).catch(() => {});
    }
  },
});
