// examples/01-minimal end to end: the creation handler runs once, logs its line, and its
// result lands in status.create_fn.

import { deepEqual, ok } from "node:assert/strict";
import "../../../examples/01-minimal/handlers.ts";
import { exampleTest, statusOf } from "./_examples.ts";

exampleTest("01-minimal", "the creation handler logs and returns its message", async (world) => {
  const body = await world.load();
  await world.create(body);
  const name = body.metadata!.name!;
  const result = await world.until(
    name,
    (obj) => statusOf(obj, "create_fn"),
    "status.create_fn",
  );
  deepEqual(result, { message: "hello world" });
  const prefix = `[${world.namespace}/${name}] `;
  ok(
    world.logs.some((line) => line.startsWith(`${prefix}And here we are! Created`)),
    `no "And here we are!" line in:\n${world.logs.join("\n")}`,
  );
});
