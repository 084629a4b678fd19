// Discovery against the fake API server (legacy per-group discovery; the real server's
// aggregated discovery is covered by the contract suite).

import { equal, rejects } from "node:assert/strict";
import * as connections from "../../../lib/k8s/connections.ts";
import * as discovery from "../../../lib/k8s/discovery.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import { FakeApiServer } from "../../_fixtures/fake_apiserver.ts";

function transportFor(fake: FakeApiServer): transports.Transport {
  return new transports.Transport({
    server: fake.url,
    caCerts: [],
    insecureSkipTlsVerify: false,
    namespace: "default",
    source: "fake API server",
    authenticator: connections.anonymous,
  });
}

const example = (version: string) => ({
  group: "kopf.dev",
  version,
  plural: "kopfexamples",
  kind: "KopfExample",
  singular: "kopfexample",
  shortNames: ["kex"],
  namespaced: true,
  subresources: ["status"],
});

Deno.test("resolve() accepts plural, kind, singular and short names, with or without group and version", async () => {
  await using fake = await FakeApiServer.start({ resources: [example("v1")] });
  using transport = transportFor(fake);
  const finder = new discovery.Discovery(transport);
  for (
    const spec of [
      "kopfexamples",
      "KopfExample",
      "kopfexample",
      "kex",
      "kopfexamples.kopf.dev",
      "kopfexamples.v1.kopf.dev",
    ]
  ) {
    const found = await finder.resolve(spec);
    equal(found.plural, "kopfexamples", spec);
    equal(found.group, "kopf.dev");
    equal(found.namespaced, true);
    equal(found.subresources?.includes("status"), true);
  }
  equal((await finder.resolve("cm")).plural, "configmaps");
  equal((await finder.resolve("namespaces")).namespaced, false);
});

Deno.test("resolve() uses the cache, and refreshes it once when a name is not found", async () => {
  await using fake = await FakeApiServer.start();
  using transport = transportFor(fake);
  const finder = new discovery.Discovery(transport);
  await finder.resolve("configmaps");
  const before = fake.requests.length;
  await finder.resolve("namespaces");
  equal(fake.requests.length, before, "a hit needs no request");
  fake.addResource(example("v1"));
  equal((await finder.resolve("kopfexamples")).kind, "KopfExample");
  await rejects(
    finder.resolve("nothings"),
    /Cannot find the resource "nothings": the cluster does not serve it/,
  );
});

Deno.test("resolve() prefers the group's preferred version and refuses names ambiguous between groups", async () => {
  await using fake = await FakeApiServer.start({
    resources: [
      example("v1"),
      example("v1beta1"),
      {
        group: "other.dev",
        version: "v1",
        plural: "kopfexamples",
        kind: "KopfExample",
        namespaced: true,
      },
    ],
  });
  using transport = transportFor(fake);
  const finder = new discovery.Discovery(transport);
  equal((await finder.resolve("kopfexamples.kopf.dev")).version, "v1");
  equal((await finder.resolve("kopfexamples.v1beta1.kopf.dev")).version, "v1beta1");
  await rejects(
    finder.resolve("kopfexamples"),
    /Cannot choose the resource "kopfexamples": it is ambiguous, name one of "kopfexamples.kopf.dev", "kopfexamples.other.dev"/,
  );
});
