// examples/11-daemons-timers end to end: the daemon starts with the object and sees its spec
// live; the sharp timer writes a heartbeat every 2 s; the idle timer settles 3 s after a change
// of spec (not of status); on deletion the daemon stops first, then the object goes.

import { equal, ok } from "node:assert/strict";
import * as api from "../../../lib/k8s/api.ts";
import * as errors from "../../../lib/k8s/errors.ts";
import * as crdFixtures from "../../_fixtures/crds.ts";
import "../../../examples/11-daemons-timers/handlers.ts";
import { exampleTest, statusOf } from "./_examples.ts";

exampleTest(
  "11-daemons-timers",
  "a daemon, a sharp timer and an idle timer per object",
  async (world) => {
    const body = await world.load();
    const name = body.metadata!.name!;
    await world.create(body);
    const logged = (text: string) =>
      world.logs.some((l) => l.includes(`[${world.namespace}/${name}] ${text}`));
    await crdFixtures.eventually(
      () => logged(`Monitoring ${name}: check #1, spec.field is value`),
      "the daemon's first check",
    );
    const beating = await world.until(
      name,
      (obj) => Number(statusOf(obj, "heartbeat")?.beats) >= 2 ? obj : undefined,
      "two heartbeats",
    );
    ok(beating.metadata?.finalizers?.includes("kopf.zalando.org/KopfFinalizerMarker"));
    const settled = await world.until(name, (obj) => statusOf(obj, "settled"), "status.settled");
    equal(settled.field, "value");

    const changed = Date.now();
    await api.patchObject(world.transport, world.resource, name, { spec: { field: "changed" } }, {
      namespace: world.namespace,
    });
    await world.until(
      name,
      (obj) => statusOf(obj, "settled")?.field === "changed",
      "the idle timer to settle on the change",
    );
    ok(Date.now() - changed >= 3000, "not before 3 s of quiet");

    await api.deleteObject(world.transport, world.resource, name, { namespace: world.namespace });
    await crdFixtures.eventually(async () => {
      try {
        await world.get(name);
        return false;
      } catch (error) {
        if (error instanceof errors.ApiNotFoundError) return true;
        throw error;
      }
    }, "the object to be gone");
    ok(logged(`Stopped monitoring ${name}: deleted`), "the daemon stopped for the deletion");
  },
);
