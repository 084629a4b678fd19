// Indexes on the real control plane: an index of pods by their `app` label, filled from the
// listing before any handler runs, read by the create handlers of KopfExamples, and updated
// when pods come and go. Pods are created directly (no scheduler or kubelet: they stay Pending).

import { deepEqual } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import type * as contexts from "../../lib/registry/contexts.ts";
import * as handlers from "../../lib/registry/handlers.ts";
import * as on from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import type * as indexes from "../../lib/structs/indexes.ts";
import type * as references from "../../lib/structs/references.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as operators from "../_fixtures/operators.ts";

const PODS: references.Resource = {
  group: "",
  version: "v1",
  plural: "pods",
  kind: "Pod",
  namespaced: true,
};

type PodsByApp = indexes.Index<string, string>;

/** What a create handler found in the index, sorted. */
function found(index: PodsByApp): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const [app, store] of index) result[app] = [...store].sort();
  return result;
}

Deno.test({
  name: "an index of pods by label is visible to a create handler of another resource and is " +
    "updated on deletion",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using world = await e2e.world("indexes");
    const { transport, namespace } = world;
    const createPod = (name: string, labels: Record<string, string>) =>
      api.createObject(transport, PODS, {
        metadata: { name, labels },
        spec: { containers: [{ name: "main", image: "busybox" }] },
      }, { namespace });
    const createExample = (name: string) =>
      api.createObject(transport, world.resource, { metadata: { name }, spec: {} }, { namespace });
    const statusOf = async (name: string) =>
      (await api.getObject(transport, world.resource, name, { namespace })).status as
        | Record<string, unknown>
        | undefined;

    // Before the operator starts: its first handler must see these, as the index is complete.
    await createPod("web-1", { app: "web" });
    await createPod("db-1", { app: "db" });
    await createPod("unlabelled", {});
    await createExample("before");

    const registry = new registries.OperatorRegistry();
    on.index(
      "pods",
      { registry, labels: { app: handlers.PRESENT } },
      function podsByApp({ labels, name }) {
        return { [labels.app!]: name };
      },
    );
    let live: PodsByApp | undefined;
    on.startup(
      { registry },
      function keep({ podsByApp }: contexts.ActivityContext & { podsByApp: PodsByApp }) {
        live = podsByApp;
      },
    );
    const results = new Map<string, unknown>();
    on.create(
      "kopfexamples",
      { registry },
      function seen({ name, podsByApp }: contexts.ChangingContext & { podsByApp: PodsByApp }) {
        results.set(name, found(podsByApp));
        return found(podsByApp);
      },
    );
    /** What the create handler of an example found, once it is in the example's status. */
    const resultOf = async (name: string) => {
      await op.until(() => results.has(name), `the create handler of ${name}`);
      const stored = await crdFixtures.eventually(
        async () => (await statusOf(name))?.seen,
        `status.seen of ${name}`,
      );
      deepEqual(stored, results.get(name));
      return stored;
    };

    const op = await operators.startOperator({
      kubeconfigPath: world.kubeconfigPath,
      registry,
      namespace,
    });
    try {
      deepEqual(
        await resultOf("before"),
        { web: ["web-1"], db: ["db-1"] },
        "the pods that existed before the start",
      );

      await createPod("web-2", { app: "web" });
      await op.until(() => live?.get("web")?.size === 2, "the new pod in the index");
      await createExample("after-create");
      deepEqual(await resultOf("after-create"), {
        web: ["web-1", "web-2"],
        db: ["db-1"],
      });

      await api.deleteObject(transport, PODS, "web-1", { namespace, gracePeriodSeconds: 0 });
      await api.deleteObject(transport, PODS, "db-1", { namespace, gracePeriodSeconds: 0 });
      await op.until(() => live?.has("db") === false, "the deleted pods to leave the index");
      await createExample("after-delete");
      deepEqual(await resultOf("after-delete"), { web: ["web-2"] });

      deepEqual(op.writes((r) => r.path.includes("/pods")), [], "indexing writes nothing");
    } finally {
      await op.stop();
    }
  },
});
