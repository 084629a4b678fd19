// Scenarios A–L (but H, K) of Kopf's API-call profile (kopf-features.md §2.2) end to end: an operator
// in this process against the real control plane, counting the writes it sends per object and
// comparing them with docs/api-calls.md.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as transports from "../../lib/k8s/transport.ts";
import * as errors from "../../lib/handling/errors.ts";
import * as registering from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import * as operatorSettings from "../../lib/settings/operator.ts";
import * as posting from "../../lib/engines/posting.ts";
import type * as references from "../../lib/structs/references.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as operators from "../_fixtures/operators.ts";

const R = "kopfexamples.v1.kopf.dev";
const EXAMPLES: crdFixtures.CrdOptions = {
  group: "kopf.dev",
  plural: "kopfexamples",
  kind: "KopfExample",
  shortNames: ["kex"],
};
const namespaces: references.Resource = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

interface World {
  transport: transports.Transport;
  resource: references.Resource;
  namespace: string;
  kubeconfigPath: string;
}

function scenario(name: string, fn: (world: World) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !controlPlanes.e2eEnabled,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const plane = await controlPlanes.controlPlane();
      if (!plane) throw new Error("The control plane is not available");
      const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
      using transport = new transports.Transport(connection);
      const resource = await crdFixtures.installCrd(transport, EXAMPLES);
      const namespace = `scenario-${crypto.randomUUID().slice(0, 8)}`;
      await api.createObject(transport, namespaces, { metadata: { name: namespace } });
      try {
        await fn({ transport, resource, namespace, kubeconfigPath: plane.kubeconfigPath });
      } finally {
        await api.deleteObject(transport, namespaces, namespace).catch(() => {});
      }
    },
  });
}

function lastFor(op: operators.RunningOperator, name: string) {
  return op.processed.findLast((r) => r.event.object.metadata?.name === name);
}

/** Waits until the operator has processed the object's current state and had nothing to do. */
async function settled(
  op: operators.RunningOperator,
  world: World,
  name: string,
): Promise<api.KubernetesObject> {
  for (;;) {
    await op.until(() => {
      const last = lastFor(op, name);
      return last !== undefined && last.result.requests.length === 0 && !last.result.postponed &&
        last.result.delay === undefined;
    }, `${name} to settle`);
    // Counted before the read: a newer event processed while the read is on its way must not
    // be waited for again (that waited for an event that never came, seen once in 8 runs).
    const count = op.processed.length;
    const current = await api.getObject(world.transport, world.resource, name, {
      namespace: world.namespace,
    });
    const seen = lastFor(op, name)!.event.object.metadata?.resourceVersion;
    if (seen === current.metadata?.resourceVersion) return current;
    await op.until(() => op.processed.length > count, `a newer event of ${name}`);
  }
}

function writesFor(op: operators.RunningOperator, name: string): string[] {
  return op.writes((r) => r.path.includes(`/kopfexamples/${name}`));
}

async function createExample(
  world: World,
  name: string,
  spec: Record<string, unknown> = { field: "value" },
) {
  return await api.createObject(world.transport, world.resource, { metadata: { name }, spec }, {
    namespace: world.namespace,
  });
}

scenario(
  "A: one create handler costs a merge of the object and one of /status on a real server",
  async (world) => {
    const registry = new registries.OperatorRegistry();
    registering.create(R, { registry }, function create_fn() {
      return { message: "hello" };
    });
    const op = await operators.startOperator({ ...world, registry });
    try {
      await createExample(world, "a");
      const final = await settled(op, world, "a");
      deepEqual((final.status as Record<string, unknown>).create_fn, { message: "hello" });
      deepEqual(writesFor(op, "a"), ["patch merge /status", "patch merge"]);
    } finally {
      await op.stop();
    }
  },
);

scenario(
  "B: a delete handler: the finalizer first, then the handlers; deletion releases it",
  async (world) => {
    const registry = new registries.OperatorRegistry();
    const calls: string[] = [];
    registering.create(R, { registry }, function create_fn() {
      calls.push("create");
      return { created: true };
    });
    registering.delete(R, { registry }, function delete_fn() {
      calls.push("delete");
    });
    const op = await operators.startOperator({ ...world, registry });
    try {
      await createExample(world, "b");
      const final = await settled(op, world, "b");
      deepEqual(final.metadata?.finalizers, ["kopf.zalando.org/KopfFinalizerMarker"]);
      deepEqual(writesFor(op, "b"), ["patch json", "patch merge /status", "patch merge"]);
      const before = writesFor(op, "b").length;
      await api.deleteObject(world.transport, world.resource, "b", { namespace: world.namespace });
      await op.until(() => lastFor(op, "b")?.event.type === "DELETED", "the object to be gone");
      deepEqual(writesFor(op, "b").slice(before), ["patch json"]);
      deepEqual(calls, ["create", "delete"]);
    } finally {
      await op.stop();
    }
  },
);

scenario(
  "C: three create handlers cost one cycle and two writes on a real server",
  async (world) => {
    const registry = new registries.OperatorRegistry();
    for (const id of ["one", "two", "three"]) {
      registering.create(
        R,
        { registry, id },
        () => ({ id }),
      );
    }
    const op = await operators.startOperator({ ...world, registry });
    try {
      await createExample(world, "c");
      const final = await settled(op, world, "c");
      deepEqual(Object.keys(final.status as Record<string, unknown>).sort(), [
        "one",
        "three",
        "two",
      ]);
      deepEqual(writesFor(op, "c"), ["patch merge /status", "patch merge"]);
    } finally {
      await op.stop();
    }
  },
);

scenario(
  "D: a temporary error is retried after its delay with one progress write, no touch",
  async (world) => {
    const registry = new registries.OperatorRegistry();
    let attempts = 0;
    registering.create(R, { registry }, function create_fn({ retry }: { retry: number }) {
      attempts++;
      if (retry === 0) throw new errors.TemporaryError("not yet", { delay: 1 });
      return { attempts };
    });
    const op = await operators.startOperator({ ...world, registry });
    try {
      await createExample(world, "d");
      const final = await settled(op, world, "d");
      equal(attempts, 2);
      deepEqual((final.status as Record<string, unknown>).create_fn, { attempts: 2 });
      deepEqual(writesFor(op, "d"), ["patch merge", "patch merge /status", "patch merge"]);
    } finally {
      await op.stop();
    }
  },
);

scenario(
  "E, E2, F: an update handler, an unhandled essential change, a status-only change",
  async (world) => {
    const registry = new registries.OperatorRegistry();
    const updates: unknown[] = [];
    registering.create(R, { registry }, function create_fn() {});
    registering.update(
      R,
      { registry, field: "spec.field" },
      function update_fn({ old, new: now }: { old: unknown; new: unknown }) {
        updates.push([old, now]);
      },
    );
    const op = await operators.startOperator({ ...world, registry });
    const patch = (body: Record<string, unknown>, subresource?: string) =>
      api.patchObject(world.transport, world.resource, "e", body, {
        namespace: world.namespace,
        ...(subresource ? { subresource } : {}),
      });
    try {
      await createExample(world, "e");
      await settled(op, world, "e");
      let before = writesFor(op, "e").length;
      await patch({ spec: { field: "changed" } });
      await settled(op, world, "e");
      deepEqual(updates, [["value", "changed"]]);
      deepEqual(writesFor(op, "e").slice(before), ["patch merge"], "E: the new diff-base");
      before = writesFor(op, "e").length;
      await patch({ spec: { other: 1 } });
      await settled(op, world, "e");
      deepEqual(writesFor(op, "e").slice(before), ["patch merge"], "E2: only the diff-base");
      before = writesFor(op, "e").length;
      await patch({ status: { phase: "Running" } }, "status");
      await settled(op, world, "e");
      deepEqual(writesFor(op, "e").slice(before), [], "F: nothing");
      equal(updates.length, 1);
    } finally {
      await op.stop();
    }
  },
);

scenario(
  "G: on.event handlers alone see every event and write nothing",
  async (world) => {
    const registry = new registries.OperatorRegistry();
    const seen: string[] = [];
    registering.event(R, { registry }, function event_fn({ type, name }) {
      seen.push(`${type} ${name}`);
    });
    const op = await operators.startOperator({ ...world, registry });
    try {
      // Created after the initial listing, so that it comes as ADDED (a listed one has no type).
      await op.until(
        () => [...op.health.values()].some((h) => h.phase === "watching"),
        "the operator to watch",
      );
      await createExample(world, "g");
      await op.until(() => seen.includes("ADDED g"), "the creation to be seen");
      await api.patchObject(world.transport, world.resource, "g", { spec: { field: "new" } }, {
        namespace: world.namespace,
      });
      await op.until(() => seen.includes("MODIFIED g"), "the change to be seen");
      await api.deleteObject(world.transport, world.resource, "g", {
        namespace: world.namespace,
      });
      await op.until(() => seen.includes("DELETED g"), "the deletion to be seen");
      deepEqual(seen, ["ADDED g", "MODIFIED g", "DELETED g"]);
      deepEqual(op.writes(), [], "no writes at all");
    } finally {
      await op.stop();
    }
  },
);

scenario(
  "I: a restarted operator writes nothing for handled objects and resumes them once",
  async (world) => {
    const registry = new registries.OperatorRegistry();
    const calls: string[] = [];
    registering.create(R, { registry }, function create_fn() {
      calls.push("create");
    });
    registering.resume(R, { registry }, function resume_fn() {
      calls.push("resume");
    });
    const first = await operators.startOperator({ ...world, registry });
    try {
      await createExample(world, "i");
      await settled(first, world, "i");
    } finally {
      await first.stop();
    }
    const second = await operators.startOperator({ ...world, registry });
    try {
      await settled(second, world, "i");
      deepEqual(writesFor(second, "i"), []);
      deepEqual(calls, ["create", "resume"]);
      ok(second.requests.some((r) => r.verb === "list"), "the restart lists the objects");
    } finally {
      await second.stop();
    }
  },
);

const podtemplates: references.Resource = {
  group: "",
  version: "v1",
  plural: "podtemplates",
  kind: "PodTemplate",
  namespaced: true,
};

scenario(
  "J: a 410 on the watch relists; unchanged objects are not processed again and nothing is written",
  async (world) => {
    const registry = new registries.OperatorRegistry();
    const calls: string[] = [];
    registering.create("podtemplates.v1", { registry }, function create_fn({ name }) {
      calls.push(name);
    });
    // Watches end after a second, so the watcher soon resumes from a compacted revision.
    // PodTemplates bypass the watch cache of the test control plane: resuming gives a real 410.
    const settings = operatorSettings.defaultSettings();
    settings.watching.serverTimeoutMinSeconds = 1;
    settings.watching.serverTimeoutMaxSeconds = 1;
    const op = await operators.startOperator({ ...world, registry, settings });
    const template = (name: string) => ({
      metadata: { name },
      template: { spec: { containers: [{ name: "c", image: "example.invalid/none" }] } },
    });
    const create = (name: string, namespace = world.namespace) =>
      api.createObject(world.transport, podtemplates, template(name), { namespace });
    const elsewhere: string[] = [];
    try {
      await Promise.all(["j-0", "j-1", "j-2"].map((name) => create(name)));
      await op.until(() => calls.length === 3, "the templates to be handled");
      await op.until(
        () => ["j-0", "j-1", "j-2"].every((n) => op.writes((r) => r.path.endsWith(`/${n}`)).length),
        "their diff-bases to be written",
      );
      await op.until(() => op.processed.length >= 6, "the operator's own writes to come back");
      const processed = op.processed.length;
      const writes = op.writes().length;
      // History moves on elsewhere and is compacted, until the watcher resumes from a revision
      // that is gone (bookmarks may have moved it forward in the meantime).
      for (let round = 0; ![...op.health.values()].some((h) => h.relists > 0); round++) {
        if (round >= 100) throw new Error("The watcher never relisted after 100 compactions");
        const name = `j-elsewhere-${crypto.randomUUID().slice(0, 6)}`;
        elsewhere.push(name);
        await create(name, "default");
        await controlPlanes.compactEtcd(world.kubeconfigPath.replace(/\/kubeconfig$/, ""));
        await op.until(
          () => [...op.health.values()].some((h) => h.relists > 0),
          "the watcher to relist after a 410",
          300,
        ).catch(() => {});
      }
      await create("j-3");
      await op.until(
        () => op.writes((r) => r.path.endsWith("/j-3")).length > 0,
        "a new template to be handled after the relist",
      );
      deepEqual(calls.sort(), ["j-0", "j-1", "j-2", "j-3"], "no handler ran again");
      deepEqual(
        op.processed.slice(processed).map((r) => r.event.object.metadata?.name)
          .filter((n) => n !== "j-3"),
        [],
        "unchanged objects were not processed again",
      );
      deepEqual(
        op.writes().slice(writes),
        ["patch merge"],
        "the only write after the relist is j-3's diff-base",
      );
      ok(op.requests.filter((r) => r.verb === "list").length >= 2, "the 410 made a new LIST");
    } finally {
      await op.stop();
      for (const name of elsewhere) {
        await api.deleteObject(world.transport, podtemplates, name, { namespace: "default" })
          .catch(() => {});
      }
    }
  },
);

scenario(
  "L: kopf.info/warn/event post one Event each, about the object, and nothing else is posted",
  async (world) => {
    const registry = new registries.OperatorRegistry();
    registering.create(R, { registry }, function create_fn({ body }) {
      posting.info(body, { reason: "Step", message: "one" });
      posting.info(body, { reason: "Step", message: "two" });
      posting.warn(body, { reason: "Careful", message: "three" });
      posting.event(body, { type: "Normal", reason: "Custom", message: "four" });
    });
    const op = await operators.startOperator({ ...world, registry });
    const events: references.Resource = {
      group: "",
      version: "v1",
      plural: "events",
      kind: "Event",
      namespaced: true,
    };
    try {
      await createExample(world, "l");
      await settled(op, world, "l");
      const posted = () => op.requests.filter((r) => r.path.endsWith("/events"));
      await op.until(() => posted().length >= 4, "four Events to be posted");
      const { items } = await api.listObjects<api.KubernetesObject & { message?: string }>(
        world.transport,
        events,
        { namespace: world.namespace },
      );
      deepEqual(items.map((e) => e.message).sort(), ["four", "one", "three", "two"]);
      deepEqual(posted().map((r) => `${r.verb} ${r.status}`), Array(4).fill("create 201"));
      ok(
        items.every((e) =>
          (e as { involvedObject?: { name?: string } }).involvedObject?.name === "l"
        ),
      );
    } finally {
      await op.stop();
    }
  },
);
