// examples/04-events end to end: kopf.info/warn/exception/event and the object's warning log
// line each become a Kubernetes Event about the KopfExample.

import { deepEqual } from "node:assert/strict";
import "../../../examples/04-events/handlers.ts";
import * as crdFixtures from "../../_fixtures/crds.ts";
import { eventsAbout, exampleTest } from "./_examples.ts";

exampleTest("04-events", "every kind of Event is posted about the object", async (world) => {
  const body = await world.load();
  const name = body.metadata!.name!;
  const created = await world.create(body);
  const expected = [
    "Normal SomeReason: Some message",
    "Warning SomeReason: Some warning",
    "Warning SyntaxError: The configuration could not be read: " +
    syntaxErrorMessage("{not json"),
    "Normal Created: Handled by create_fn",
    "Warning Logging: A warning from the object's logger",
  ].sort();
  const events = await crdFixtures.eventually(async () => {
    const found = await eventsAbout(world, name);
    return found.length >= expected.length ? found : undefined;
  }, `${expected.length} Events about ${name}`);
  deepEqual(events.map((e) => `${e.type} ${e.reason}: ${e.message}`).sort(), expected);
  for (const event of events) {
    const { resourceVersion: _, ...involved } = event.involvedObject ?? {};
    deepEqual(involved, {
      apiVersion: "kopf.dev/v1",
      kind: "KopfExample",
      name,
      namespace: world.namespace,
      uid: created.metadata?.uid,
    });
  }
});

function syntaxErrorMessage(text: string): string {
  try {
    JSON.parse(text);
  } catch (error) {
    return (error as Error).message;
  }
  return "";
}
