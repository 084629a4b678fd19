// examples/08-resume end to end: a new object gets its creation handler only; after an
// operator restart, the resume handler runs for it and the creation handler does not.

import { deepEqual, equal, ok } from "node:assert/strict";
import "../../../examples/08-resume/handlers.ts";
import { exampleTest, statusOf } from "./_examples.ts";

exampleTest("08-resume", "resume handlers run after a restart, not on creation", async (world) => {
  const body = await world.load();
  const name = body.metadata!.name!;
  await world.create(body);
  const created = await world.until(name, (obj) => statusOf(obj, "create_fn") && obj, "create_fn");
  deepEqual(statusOf(created, "create_fn"), { message: "created" });
  equal(statusOf(created, "resume_fn"), undefined);

  await world.restart();
  const resumed = await world.until(name, (obj) => statusOf(obj, "resume_fn"), "resume_fn");
  ok(typeof resumed.resumedAt === "string");
  const created_lines = world.logs.filter((line) => line.endsWith("] Created"));
  equal(created_lines.length, 1, "the creation handler ran once");
  equal(
    world.logs.filter((line) => line.endsWith("] Resumed after an operator start")).length,
    1,
  );
});
