// examples/05-field-handlers end to end: the field handler sees spec.field appear on creation
// and change on update; the update handler sees every essential change with its diff.

import { deepEqual, equal } from "node:assert/strict";
import * as api from "../../../lib/k8s/api.ts";
import "../../../examples/05-field-handlers/handlers.ts";
import { exampleTest, statusOf } from "./_examples.ts";

exampleTest("05-field-handlers", "old, new and diff of updates and of a field", async (world) => {
  const body = await world.load();
  const name = body.metadata!.name!;
  const patch = (spec: Record<string, unknown>) =>
    api.patchObject(world.transport, world.resource, name, { spec }, {
      namespace: world.namespace,
    });
  await world.create(body);
  const created = await world.until(name, (obj) => statusOf(obj, "field"), "status.field");
  deepEqual(created, { new: "value" }); // null in a merge patch removes the key
  equal(statusOf(await world.get(name), "update_fn"), undefined, "no update on creation");

  await patch({ field: "changed" });
  await world.until(
    name,
    (obj) => statusOf(obj, "field")?.new === "changed" && statusOf(obj, "update_fn"),
    "the handlers of the first update",
  );
  const first = await world.get(name);
  deepEqual(statusOf(first, "field"), { old: "value", new: "changed" });
  deepEqual(statusOf(first, "update_fn"), { changes: ["change spec.field"] });

  // Another field changes: the update handler runs, the field handler does not.
  await patch({ items: ["item1", "item2"] });
  const second = await world.until(
    name,
    (obj) => {
      const changes = statusOf(obj, "update_fn")?.changes as string[] | undefined;
      return changes?.[0] === "change spec.items" ? obj : undefined;
    },
    "the update handler to see spec.items",
  );
  deepEqual(statusOf(second, "field"), { old: "value", new: "changed" });
  const lines = world.logs.filter((line) => line.includes("spec.field: "));
  deepEqual(lines.map((line) => line.slice(line.indexOf("] ") + 2)), [
    'spec.field: undefined -> "value"',
    'spec.field: "value" -> "changed"',
  ]);
});
