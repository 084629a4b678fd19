// An object whose diff-base does not fit into an annotation (256 KiB): the write is refused,
// the operator logs one clear line with the way out, keeps retrying that object with growing
// delays, and keeps serving the other objects.

import { ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as registering from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import { KopfRunner } from "../../testing.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as e2e from "../_fixtures/e2e.ts";

Deno.test({
  name:
    "a diff-base over the annotation size limit gives a clear line with the fix; other objects are served",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("big");
    const { transport: admin, resource, namespace } = w;
    const registry = new registries.OperatorRegistry();
    const handled: string[] = [];
    registering.create(
      "kopfexamples.v1.kopf.dev",
      { registry },
      function create_fn({ name }: { name: string }) {
        handled.push(name);
      },
    );
    const runner = new KopfRunner({
      registry,
      namespaces: [namespace],
      kubeconfig: w.kubeconfigPath,
    });
    try {
      await runner.start();
      // 300 KB of spec: fine for the object (etcd takes 1.5 MB), too big for one annotation.
      await api.createObject(admin, resource, {
        metadata: { name: "huge" },
        spec: { blob: "x".repeat(300_000) },
      }, { namespace });
      await api.createObject(admin, resource, {
        metadata: { name: "small" },
        spec: { field: "ok" },
      }, { namespace });
      await runner.waitFor(() => handled.includes("small"), {
        timeoutSeconds: 30,
        what: "the small object",
      });
      await runner.waitFor(
        () => runner.logs.some((l) => l.includes("does not fit into annotations")),
        { timeoutSeconds: 30, what: "the line about the oversized diff-base" },
      );
      const line = runner.logs.find((l) => l.includes("does not fit into annotations"))!;
      ok(line.includes("[" + namespace + "/huge]"), line);
      ok(line.includes("AnnotationsDiffBaseStorage({ ignoredFields })"), line);
      ok(line.includes("retried in"), line);
    } finally {
      await runner.stop();
    }
  },
});
