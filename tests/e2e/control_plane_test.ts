// Smoke test of the shared e2e control plane: it is Kubernetes v1.37.2, ready, has namespace
// `default`, and stores and deletes objects. Talks plain HTTPS with the kubeconfig's admin
// certificate, so that it tests the fixture, not our client. Skipped unless e2e is enabled.

import * as assert from "@std/assert";
import { parse } from "yaml";
import { controlPlane, e2eEnabled } from "../_fixtures/control_plane.ts";

interface Api {
  request(method: string, path: string, body?: unknown): Promise<Response>;
  close(): void;
}

/** The part of a kubeconfig that the fixture's kubeconfig uses. */
interface Kubeconfig {
  "current-context": string;
  contexts: { name: string; context: { cluster: string; user: string } }[];
  clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
  users: { name: string; user: { "client-certificate-data": string; "client-key-data": string } }[];
}

/** An admin connection built from the kubeconfig text alone (its data fields are embedded). */
async function connect(): Promise<Api> {
  const plane = await controlPlane();
  if (!plane) throw new Error("E2e tests are enabled, but there is no control plane");
  const config = parse(plane.kubeconfig) as Kubeconfig;
  const context = config.contexts.find((c) => c.name === config["current-context"])!.context;
  const cluster = config.clusters.find((c) => c.name === context.cluster)!.cluster;
  const user = config.users.find((u) => u.name === context.user)!.user;
  const client = Deno.createHttpClient({
    caCerts: [atob(cluster["certificate-authority-data"])],
    cert: atob(user["client-certificate-data"]),
    key: atob(user["client-key-data"]),
  });
  const server = cluster.server;
  return {
    request: (method, path, body) =>
      fetch(`${server}${path}`, {
        method,
        client,
        headers: { "content-type": "application/json", accept: "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    close: () => client.close(),
  };
}

Deno.test({
  name: "the control plane serves Kubernetes v1.37.2 and is ready",
  ignore: !e2eEnabled,
  async fn() {
    const api = await connect();
    try {
      const version = await api.request("GET", "/version");
      assert.equal(version.status, 200);
      assert.equal((await version.json()).gitVersion, "v1.37.2");
      const readyz = await api.request("GET", "/readyz");
      assert.equal(readyz.status, 200);
      assert.equal(await readyz.text(), "ok");
    } finally {
      api.close();
    }
  },
});

Deno.test({
  name: "the control plane has namespace default",
  ignore: !e2eEnabled,
  async fn() {
    const api = await connect();
    try {
      const response = await api.request("GET", "/api/v1/namespaces/default");
      assert.equal(response.status, 200);
      assert.equal((await response.json()).status.phase, "Active");
    } finally {
      api.close();
    }
  },
});

Deno.test({
  name: "the control plane creates and deletes a ConfigMap",
  ignore: !e2eEnabled,
  async fn() {
    const api = await connect();
    const path = "/api/v1/namespaces/default/configmaps";
    const name = `kopf-e2e-smoke-${crypto.randomUUID().slice(0, 8)}`;
    try {
      const created = await api.request("POST", path, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name },
        data: { greeting: "hello" },
      });
      assert.equal(created.status, 201);
      assert.ok((await created.json()).metadata.resourceVersion);

      const read = await api.request("GET", `${path}/${name}`);
      assert.equal(read.status, 200);
      assert.deepEqual((await read.json()).data, { greeting: "hello" });

      const deleted = await api.request("DELETE", `${path}/${name}`);
      assert.equal(deleted.status, 200);
      await deleted.body?.cancel();

      const gone = await api.request("GET", `${path}/${name}`);
      assert.equal(gone.status, 404);
      await gone.body?.cancel();
    } finally {
      await api.request("DELETE", `${path}/${name}`).then((r) => r.body?.cancel(), () => {});
      api.close();
    }
  },
});
