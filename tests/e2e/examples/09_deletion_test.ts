// examples/09-deletion end to end: the finalizer is on the object before anything else; a
// deletion waits for the delete handler (which retries once), then the object is gone.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as api from "../../../lib/k8s/api.ts";
import * as errors from "../../../lib/k8s/errors.ts";
import "../../../examples/09-deletion/handlers.ts";
import * as crdFixtures from "../../_fixtures/crds.ts";
import { eventsAbout, exampleTest, statusOf } from "./_examples.ts";

const FINALIZER = "kopf.zalando.org/KopfFinalizerMarker";

exampleTest(
  "09-deletion",
  "the finalizer holds the object until delete_fn is done",
  async (world) => {
    const body = await world.load();
    const name = body.metadata!.name!;
    await world.create(body);
    const created = await world.until(
      name,
      (obj) => statusOf(obj, "create_fn") && obj,
      "create_fn",
    );
    deepEqual(created.metadata?.finalizers, [FINALIZER]);

    const deleting = await api.deleteObject(world.transport, world.resource, name, {
      namespace: world.namespace,
    });
    // The finalizer keeps the object: the API server only marks it for deletion.
    ok(deleting.metadata?.deletionTimestamp, "the object is marked for deletion");
    deepEqual(deleting.metadata?.finalizers, [FINALIZER]);

    const gone = await crdFixtures.eventually(async () => {
      try {
        await world.get(name);
        return undefined;
      } catch (error) {
        if (error instanceof errors.ApiNotFoundError) return true;
        throw error;
      }
    }, "the object to be deleted");
    equal(gone, true);
    const lines = world.logs.filter((line) => line.startsWith(`[${world.namespace}/${name}] `));
    ok(lines.some((line) => line.endsWith("failed temporarily: Releasing the external resources")));
    ok(lines.some((line) => line.endsWith("The external resources are released")));
    await crdFixtures.eventually(
      async () => (await eventsAbout(world, name)).some((e) => e.reason === "Released"),
      "the Released Event",
    );
  },
);
