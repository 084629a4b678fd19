// The common start of an e2e test: the shared control plane, a transport to it, the
// KopfExample CRD installed, and a namespace of the test's own, deleted again on disposal.

import * as api from "../../lib/k8s/api.ts";
import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as transports from "../../lib/k8s/transport.ts";
import type * as references from "../../lib/structs/references.ts";
import * as controlPlanes from "./control_plane.ts";
import * as crdFixtures from "./crds.ts";

/** Core v1 namespaces, for creating and deleting the tests' own. */
export const namespaces: references.Resource = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

/** Kopf's example CRD: `kopfexamples.v1.kopf.dev`, namespaced, with a status subresource. */
export const KOPF_EXAMPLES: crdFixtures.CrdOptions = {
  group: "kopf.dev",
  plural: "kopfexamples",
  kind: "KopfExample",
  shortNames: ["kex"],
};

/** What one e2e test works in; `await using` deletes the namespace and closes the transport. */
export interface World extends AsyncDisposable {
  readonly kubeconfigPath: string;
  readonly transport: transports.Transport;
  /** The KopfExample resource, installed and discoverable. */
  readonly resource: references.Resource;
  /** A fresh namespace: `<prefix>-<random>`. */
  readonly namespace: string;
}

/** Sets up a world on the shared control plane (call only when `e2eEnabled`). */
export async function world(prefix: string): Promise<World> {
  const plane = await controlPlanes.controlPlane();
  if (!plane) {
    throw new Error("The control plane is not available: set KOPF_E2E_KUBECONFIG or KOPF_E2E=1");
  }
  const transport = new transports.Transport(
    await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath }),
  );
  const resource = await crdFixtures.installCrd(transport, KOPF_EXAMPLES);
  const namespace = `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
  await api.createObject(transport, namespaces, { metadata: { name: namespace } });
  return {
    kubeconfigPath: plane.kubeconfigPath,
    transport,
    resource,
    namespace,
    async [Symbol.asyncDispose]() {
      await api.deleteObject(transport, namespaces, namespace).catch(() => {});
      transport.close();
    },
  };
}
