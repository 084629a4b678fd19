// examples/06-filters end to end: exactly the handlers whose filters match the object run,
// and the transition filter fires only for the change to "stopped".

import { deepEqual } from "node:assert/strict";
import * as api from "../../../lib/k8s/api.ts";
import "../../../examples/06-filters/handlers.ts";
import { exampleTest, statusOf } from "./_examples.ts";

// Handlers with a `field` get it in their ids, as in Kopf.
const MATCHING = [
  "annotation_fn",
  "field_value_fn/spec.field",
  "label_absent_fn",
  "label_predicate_fn",
  "label_present_fn",
  "label_value_fn",
  "when_fn",
];

exampleTest("06-filters", "only the matching handlers run", async (world) => {
  const body = await world.load();
  const name = body.metadata!.name!;
  await world.create(body);
  const handled = await world.until(
    name,
    (obj) => MATCHING.every((id) => statusOf(obj, id)) ? obj : undefined,
    "every matching handler's result",
  );
  deepEqual(Object.keys(handled.status as object).sort(), MATCHING);

  const patch = (field: string) =>
    api.patchObject(world.transport, world.resource, name, { spec: { field } }, {
      namespace: world.namespace,
    });
  await patch("running");
  // The diff-base follows each handled change; the transition filter has not matched yet.
  await world.until(
    name,
    (obj) =>
      obj.metadata?.annotations?.["kopf.zalando.org/last-handled-configuration"]
        ?.includes('"running"'),
    "the change to be handled",
  );
  deepEqual(statusOf(await world.get(name), "stopped_fn/spec.field"), undefined);
  await patch("stopped");
  const stopped = await world.until(
    name,
    (obj) => statusOf(obj, "stopped_fn/spec.field"),
    "stopped_fn",
  );
  deepEqual(stopped, { was: "running" });
});
