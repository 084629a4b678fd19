// A handler for a resource the cluster does not serve (a typo, or a CRD not applied yet): one
// line that says so and what the operator waits for; the served resources are handled.

import { deepEqual } from "node:assert/strict";
import * as logging from "../../../lib/engines/logging.ts";
import * as running from "../../../lib/reactor/running.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import { FakeApiServer } from "../../_fixtures/fake_apiserver.ts";
import { plainConnection, until } from "../../_fixtures/fake_operator.ts";

Deno.test({
  name: "a handler for a resource the cluster does not serve is one line; the others are served",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using server = await FakeApiServer.start({
      resources: [{
        group: "kopf.dev",
        version: "v1",
        plural: "kopfexamples",
        kind: "KopfExample",
        namespaced: true,
      }],
    });
    const logs: string[] = [];
    await logging.configureLogging({ level: "info", format: "plain", output: (l) => logs.push(l) });
    const registry = new registries.OperatorRegistry();
    const handled: string[] = [];
    on.create("nothings.v1.example.com", { registry }, function nothing() {});
    on.create("kopfexamples.v1.kopf.dev", { registry }, function created({ name }) {
      handled.push(name);
    });
    const stop = new AbortController();
    const done = running.operator({
      registry,
      namespaces: ["default"],
      signal: stop.signal,
      connection: plainConnection(server.url),
    });
    try {
      const created = await fetch(
        `${server.url}/apis/kopf.dev/v1/namespaces/default/kopfexamples`,
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ metadata: { name: "y" }, spec: {} }),
        },
      );
      await created.body?.cancel();
      await until(() => handled.includes("y"), "the served resource to be handled");
      deepEqual(logs.filter((l) => l.includes('"nothings.v1.example.com"')), [
        'Cannot serve "nothings.v1.example.com" yet: the cluster does not serve it; waiting for its CRD',
      ]);
    } finally {
      stop.abort();
      await done;
    }
  },
});
