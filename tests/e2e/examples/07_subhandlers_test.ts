// examples/07-subhandlers end to end: one sub-handler per spec item, each with its own id,
// result and retries; the item that fails once is retried alone.

import { deepEqual, ok } from "node:assert/strict";
import "../../../examples/07-subhandlers/handlers.ts";
import { exampleTest, statusOf } from "./_examples.ts";

exampleTest("07-subhandlers", "a sub-handler per item, retried on its own", async (world) => {
  const body = await world.load();
  const name = body.metadata!.name!;
  await world.create(body);
  const done = await world.until(
    name,
    (obj) => statusOf(obj, "create_fn/item1") && statusOf(obj, "create_fn/item2") ? obj : undefined,
    "both sub-handlers' results",
  );
  deepEqual(statusOf(done, "create_fn/item1"), { item: "item1", attempt: 1 });
  deepEqual(statusOf(done, "create_fn/item2"), { item: "item2", attempt: 2 });
  const handling = world.logs.filter((line) => line.includes("] Handling item"));
  deepEqual(handling.map((line) => line.slice(line.indexOf("] ") + 2)), [
    "Handling item1 (attempt 1)",
    "Handling item2 (attempt 2)",
  ]);
  ok(world.logs.some((line) => line.endsWith("item2 is not ready yet")), world.logs.join("\n"));
});
