// Object operations against the fake API server: what the fake alone can show (restarts of an
// expired paginated list, dry runs, delete preconditions).

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import * as api from "../../../lib/k8s/api.ts";
import * as connections from "../../../lib/k8s/connections.ts";
import * as errors from "../../../lib/k8s/errors.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import type * as references from "../../../lib/structs/references.ts";
import { FakeApiServer } from "../../_fixtures/fake_apiserver.ts";

const configmaps: references.Resource = {
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};

function connectionTo(fake: FakeApiServer): connections.Connection {
  return {
    server: fake.url,
    caCerts: [],
    insecureSkipTlsVerify: false,
    namespace: "default",
    source: "fake API server",
    authenticator: connections.fixedCredentials({ authorization: "Bearer fake-token" }),
  };
}

/** A transport that lets history expire after the first page of a list, as a slow reader sees it. */
class ExpiringTransport extends transports.Transport {
  expireAfterPages = 0;
  pages = 0;
  constructor(readonly fake: FakeApiServer) {
    super(connectionTo(fake));
  }
  override async request<T>(
    method: string,
    path: string,
    options: transports.RequestOptions = {},
  ): Promise<T> {
    const result = await super.request<T>(method, path, options);
    if (method === "GET" && options.query?.limit !== undefined) {
      this.pages++;
      if (this.pages <= this.expireAfterPages) {
        // History moves on elsewhere, then is compacted: the token's snapshot is gone.
        await super.request("POST", "/api/v1/namespaces/kube-system/configmaps", {
          body: { metadata: { generateName: "elsewhere-" } },
        });
        this.fake.compact();
      }
    }
    return result;
  }
}

async function fill(transport: transports.Transport, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await api.createObject(transport, configmaps, { metadata: { name: `cm-${i}` } }, {
      namespace: "default",
    });
  }
}

Deno.test("listObjects() starts over when its continue token expires, and returns a consistent snapshot", async () => {
  await using fake = await FakeApiServer.start();
  using transport = new ExpiringTransport(fake);
  await fill(transport, 25);
  transport.expireAfterPages = 1; // the token of the first page dies before the second is read
  const listing = await api.listObjects(transport, configmaps, { namespace: "default", limit: 10 });
  equal(listing.items.length, 25);
  equal(new Set(listing.items.map((o) => o.metadata!.name)).size, 25);
  const lists = fake.requests.filter((r) => r.verb === "list");
  deepEqual(lists.map((r) => r.status), [200, 410, 200, 200, 200]);
});

Deno.test("listObjects() gives up after listRestarts expiries with the 410", async () => {
  await using fake = await FakeApiServer.start();
  using transport = new ExpiringTransport(fake);
  await fill(transport, 5);
  transport.expireAfterPages = 100;
  await rejects(
    api.listObjects(transport, configmaps, { namespace: "default", limit: 2 }),
    (e: unknown) => e instanceof errors.ApiGoneError && e.reason === "Expired",
  );
  equal(
    fake.requests.filter((r) => r.verb === "list" && r.status === 410).length,
    transport.settings.listRestarts + 1,
  );
});

Deno.test("createObject() with dryRun persists nothing", async () => {
  await using fake = await FakeApiServer.start();
  using transport = new transports.Transport(connectionTo(fake));
  const answer = await api.createObject(transport, configmaps, { metadata: { name: "dry" } }, {
    namespace: "default",
    dryRun: true,
  });
  equal(answer.metadata!.name, "dry");
  await rejects(
    api.getObject(transport, configmaps, "dry", { namespace: "default" }),
    errors.ApiNotFoundError,
  );
  equal(fake.requests.find((r) => r.verb === "create")!.query.dryRun, "All");
});

Deno.test("deleteObject() with a stale uid precondition is refused with 409 and deletes nothing", async () => {
  await using fake = await FakeApiServer.start();
  using transport = new transports.Transport(connectionTo(fake));
  await api.createObject(transport, configmaps, { metadata: { name: "a" } }, {
    namespace: "default",
  });
  await rejects(
    api.deleteObject(transport, configmaps, "a", {
      namespace: "default",
      preconditions: { uid: "not-this-one" },
    }),
    errors.ApiConflictError,
  );
  ok(await api.getObject(transport, configmaps, "a", { namespace: "default" }));
});
