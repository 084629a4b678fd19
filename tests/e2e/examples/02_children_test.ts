// examples/02-children end to end: the creation handler makes a ConfigMap owned by the
// KopfExample; when the KopfExample is deleted, the garbage collector removes the ConfigMap.

import { deepEqual, equal } from "node:assert/strict";
import * as api from "../../../lib/k8s/api.ts";
import * as errors from "../../../lib/k8s/errors.ts";
import * as kubeconfig from "../../../lib/k8s/kubeconfig.ts";
import { useConnection } from "../../../examples/02-children/handlers.ts";
import * as crdFixtures from "../../_fixtures/crds.ts";
import { CONFIGMAPS, exampleTest, statusOf } from "./_examples.ts";

exampleTest("02-children", "a child ConfigMap, collected with its parent", async (world) => {
  // The handlers create the child with a client of their own.
  useConnection(await kubeconfig.loadKubeconfig({ kubeconfig: world.kubeconfigPath }));
  const body = await world.load();
  const name = body.metadata!.name!;
  const created = await world.create(body);
  const result = await world.until(name, (obj) => statusOf(obj, "create_fn"), "create_fn");
  deepEqual(result, { children: [name] });

  const child = await api.getObject(world.transport, CONFIGMAPS, name, {
    namespace: world.namespace,
  });
  deepEqual(child.data, { field: "value", items: "item1,item2" });
  deepEqual(child.metadata?.labels, { somelabel: "somevalue" });
  deepEqual(child.metadata?.ownerReferences, [{
    apiVersion: "kopf.dev/v1",
    kind: "KopfExample",
    name,
    uid: created.metadata?.uid,
    controller: true,
    blockOwnerDeletion: true,
  }]);

  await api.deleteObject(world.transport, world.resource, name, { namespace: world.namespace });
  const gone = await crdFixtures.eventually(async () => {
    try {
      await api.getObject(world.transport, CONFIGMAPS, name, { namespace: world.namespace });
      return undefined;
    } catch (error) {
      if (error instanceof errors.ApiNotFoundError) return true;
      throw error;
    }
  }, "the garbage collector to delete the child ConfigMap");
  equal(gone, true);
});
