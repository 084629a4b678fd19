// examples/13-conversion end to end, as `kopf run`: the operator points the example CRD's
// conversion at its server with its self-signed CA; obj.yaml, written as v2, is stored as v1
// and reads back in both versions with the fields converted; an object written as v1 reads as v2.

import { deepEqual, equal } from "node:assert/strict";
import * as yaml from "yaml";
import * as api from "../../../lib/k8s/api.ts";
import * as k8sErrors from "../../../lib/k8s/errors.ts";
import * as kubeconfig from "../../../lib/k8s/kubeconfig.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import type * as references from "../../../lib/structs/references.ts";
import * as controlPlanes from "../../_fixtures/control_plane.ts";
import * as crdFixtures from "../../_fixtures/crds.ts";
import * as kopfProcess from "../../_fixtures/kopf_process.ts";
import { NAMESPACES } from "./_examples.ts";

const folder = new URL("../../../examples/13-conversion/", import.meta.url);
const CRD_NAME = "kopfconvertibles.kopf.dev";

Deno.test({
  name: "examples/13-conversion: objects convert between v1 and v2 through the operator",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const plane = await controlPlanes.controlPlane();
    if (!plane) throw new Error("The control plane is not available");
    const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
    using transport = new transports.Transport(connection);
    const load = async (file: string) =>
      yaml.parse(await Deno.readTextFile(new URL(file, folder))) as api.KubernetesObject;
    const crd = await load("crd.yaml");
    try {
      await api.createObject(transport, crdFixtures.crds, crd);
    } catch (error) {
      if (!(error instanceof k8sErrors.ApiConflictError)) throw error;
    }
    const v1: references.Resource = {
      group: "kopf.dev",
      version: "v1",
      plural: "kopfconvertibles",
      kind: "KopfConvertible",
      namespaced: true,
    };
    const v2: references.Resource = { ...v1, version: "v2" };
    const namespace = `example-13-${crypto.randomUUID().slice(0, 8)}`;
    await api.createObject(transport, NAMESPACES, { metadata: { name: namespace } });
    await using operator = kopfProcess.kopfRun(plane.kubeconfigPath, [
      new URL("handlers.ts", folder).pathname,
      "-n",
      namespace,
      "--webhook-address",
      "127.0.0.1",
      "--webhook-port",
      "0",
    ]);
    try {
      await operator.line(
        (l) => l === `Pointed the conversion of the CRD "${CRD_NAME}" at this operator`,
        "the CRD's conversion to be patched",
      );
      const obj = await load("obj.yaml");
      // The API server takes the new conversion up shortly; until then, v2 writes are refused.
      await crdFixtures.eventually(
        () => api.createObject(transport, v2, obj, { namespace }),
        "a v2 object to be stored through the conversion webhook",
      );
      const name = obj.metadata!.name!;
      const asV1 = await api.getObject(transport, v1, name, { namespace });
      equal(asV1.apiVersion, "kopf.dev/v1");
      deepEqual(asV1.spec, { size: 3, field: "value" });
      const asV2 = await api.getObject(transport, v2, name, { namespace });
      equal(asV2.apiVersion, "kopf.dev/v2");
      deepEqual(asV2.spec, { replicas: 3, field: "value" });

      await api.createObject(transport, v1, {
        metadata: { name: "written-as-v1" },
        spec: { size: 7 },
      }, {
        namespace,
      });
      deepEqual((await api.getObject(transport, v2, "written-as-v1", { namespace })).spec, {
        replicas: 7,
      });
    } finally {
      equal((await operator.stop()).code, 0, operator.lines.join("\n"));
      await api.deleteObject(transport, NAMESPACES, namespace).catch(() => {});
      // The CRD still points at the stopped operator: it is this example's own, so it goes.
      await crdFixtures.uninstallCrd(transport, {
        group: "kopf.dev",
        plural: "kopfconvertibles",
        kind: "KopfConvertible",
      })
        .catch(() => {});
    }
  },
});
