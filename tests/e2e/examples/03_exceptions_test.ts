// examples/03-exceptions end to end: a TemporaryError and an arbitrary error are retried
// until the handler succeeds; a PermanentError is logged, posted as a Warning Event, and
// never retried.

import { deepEqual, equal, ok } from "node:assert/strict";
import "../../../examples/03-exceptions/handlers.ts";
import { eventsAbout, exampleTest, statusOf } from "./_examples.ts";
import * as crdFixtures from "../../_fixtures/crds.ts";

exampleTest("03-exceptions", "retries until success; a permanent error", async (world) => {
  const valid = await world.load();
  const invalid = await world.load("obj-invalid.yaml");
  await world.create(valid);
  await world.create(invalid);
  const validName = valid.metadata!.name!;
  const invalidName = invalid.metadata!.name!;
  for (const name of [validName, invalidName]) {
    const result = await world.until(name, (obj) => statusOf(obj, "create_fn"), "create_fn");
    deepEqual(result, { message: "succeeded on attempt 3" });
  }
  const linesOf = (name: string) =>
    world.logs.filter((line) => line.startsWith(`[${world.namespace}/${name}] `))
      .map((line) => line.slice(`[${world.namespace}/${name}] `.length));
  const lines = linesOf(validName);
  ok(
    lines.includes("Handler 'create_fn' failed temporarily: The external service is not ready yet"),
  );
  ok(lines.some((line) => line.startsWith("Handler 'create_fn' failed with an exception")));
  ok(lines.includes("Creation is processed: 2 succeeded; 0 failed"), lines.join("\n"));
  deepEqual(statusOf(await world.get(validName), "validate_fn"), { duration: "1m" });

  const permanent =
    `Handler 'validate_fn' failed permanently: spec.duration must be a number with s, m or h, got "soon"`;
  const failures = linesOf(invalidName);
  equal(failures.filter((line) => line === permanent).length, 1, failures.join("\n"));
  ok(failures.includes("Creation is processed: 1 succeeded; 1 failed"), failures.join("\n"));
  equal(statusOf(await world.get(invalidName), "validate_fn"), undefined);
  // Error log lines of an object become Warning Events about it.
  await crdFixtures.eventually(
    async () =>
      (await eventsAbout(world, invalidName)).some((e) =>
        e.type === "Warning" && e.reason === "Logging" && e.message === permanent
      ),
    "a Warning Event about the permanent failure",
  );
});
