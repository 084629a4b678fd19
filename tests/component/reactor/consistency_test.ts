// The consistency wait against a lagging watch (fake API server holding events back): a state
// between two of our own writes must never run a handler again, not even after the timeout.

import { deepEqual, equal } from "node:assert/strict";
import * as running from "../../../lib/reactor/running.ts";
import type * as serving from "../../../lib/reactor/serving.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";
import { FakeApiServer } from "../../_fixtures/fake_apiserver.ts";
import { plainConnection, until } from "../../_fixtures/fake_operator.ts";

const EXAMPLES = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfexamples",
  kind: "KopfExample",
  namespaced: true,
  subresources: ["status"],
};

Deno.test("a lagging watch: the state between our status and object writes runs nothing, even after the consistency timeout", async () => {
  await using server = await FakeApiServer.start({ resources: [EXAMPLES] });
  const registry = new registries.OperatorRegistry();
  const calls: string[] = [];
  on.create("kopfexamples.v1.kopf.dev", { registry }, function create_fn({ name }) {
    calls.push(name);
    server.holdWatches(); // from now on the watch lags behind our writes
    return { done: true };
  });
  const settings = operatorSettings.defaultSettings();
  // The expectation of our write times out at once, as when a watch lags by seconds.
  settings.persistence.consistencyTimeoutSeconds = 0;
  const processed: serving.ProcessedReport[] = [];
  const stop = new AbortController();
  const done = running.operator({
    registry,
    settings,
    namespaces: ["default"],
    signal: stop.signal,
    connection: plainConnection(server.url),
    onProcessed: (report) => processed.push(report),
  });
  try {
    await until(() => server.openWatches > 0, "the operator to watch");
    const created = await fetch(`${server.url}/apis/kopf.dev/v1/namespaces/default/kopfexamples`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ metadata: { name: "lagged" }, spec: { field: 1 } }),
    });
    await created.body?.cancel();
    type Stored = { metadata: { resourceVersion: string; annotations?: Record<string, string> } };
    const stored = () => server.objects("kopfexamples", "default")[0] as Stored | undefined;
    await until(
      () =>
        stored()?.metadata.annotations?.["kopf.zalando.org/last-handled-configuration"] !==
          undefined && server.heldEvents >= 2,
      "both writes to be stored and their events held back",
    );
    // The status write's echo alone: the object then has results but no diff-base yet.
    server.releaseWatches(1);
    await until(() => processed.length >= 2, "the intermediate state to be processed");
    server.releaseWatches();
    const finalRv = stored()!.metadata.resourceVersion;
    await until(
      () => processed.some((r) => r.event.object.metadata?.resourceVersion === finalRv),
      "the final state to be processed",
    );
    deepEqual(calls, ["lagged"], "the handler ran once");
    const writes = processed.flatMap((r) => r.result.requests);
    equal(writes.length, 2, "the status and object writes of the one run, nothing more");
  } finally {
    stop.abort();
    await done;
  }
});
