// examples/14-indexes end to end: an index of ConfigMaps by their label `app` is seen by a
// KopfExample's create handler (the app's ConfigMaps at creation) and by its timer, which
// follows a deletion of one of them.

import { deepEqual } from "node:assert/strict";
import * as yaml from "yaml";
import * as api from "../../../lib/k8s/api.ts";
import "../../../examples/14-indexes/handlers.ts";
import { CONFIGMAPS, exampleTest, statusOf } from "./_examples.ts";

exampleTest(
  "14-indexes",
  "an index of ConfigMaps by app, read by a create handler and a timer",
  async (world) => {
    const text = await Deno.readTextFile(
      new URL("../../../examples/14-indexes/configmaps.yaml", import.meta.url),
    );
    for (const configmap of yaml.parseAllDocuments(text).map((d) => d.toJS())) {
      await api.createObject(world.transport, CONFIGMAPS, configmap, {
        namespace: world.namespace,
      });
    }
    const body = await world.load();
    const name = body.metadata!.name!;
    await world.create(body);
    const listed = await world.until(
      name,
      (obj) => statusOf(obj, "listConfigs")?.configs,
      "status.listConfigs",
    );
    deepEqual(listed, ["web-a", "web-b"], "the app's ConfigMaps, not db's");
    await world.until(name, (obj) => statusOf(obj, "countConfigs")?.count === 2, "a count of 2");

    await api.deleteObject(world.transport, CONFIGMAPS, "web-a", { namespace: world.namespace });
    await world.until(
      name,
      (obj) => statusOf(obj, "countConfigs")?.count === 1,
      "the count to follow the deletion",
    );
  },
);
