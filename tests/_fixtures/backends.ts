// The two API servers the contract suite runs against: the in-process fake and the real
// control plane. Each gives a transport of our own client and a way to expire history
// (the fake forgets it; the real one compacts etcd through its HTTP gateway).

import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as connections from "../../lib/k8s/connections.ts";
import * as transports from "../../lib/k8s/transport.ts";
import type * as references from "../../lib/structs/references.ts";
import { FakeApiServer } from "./fake_apiserver.ts";
import * as controlPlanes from "./control_plane.ts";

/** An API server under test. */
export interface Backend {
  readonly name: "fake" | "real";
  readonly transport: transports.Transport;
  /** Expires every resourceVersion older than the current one (where history is not cached). */
  compact(): Promise<void>;
  /**
   * A resource whose lists and watches reach storage directly, so compaction yields 410s:
   * kube-apiserver serves everything else from its watch cache, which keeps its own history.
   */
  readonly uncached: references.Resource;
  close(): Promise<void>;
}

export const podtemplates: references.Resource = {
  group: "",
  version: "v1",
  plural: "podtemplates",
  kind: "PodTemplate",
  namespaced: true,
};

/** A valid PodTemplate body (the real server insists on a container). */
export function podTemplate(name: string): Record<string, unknown> {
  return {
    metadata: { name },
    template: { spec: { containers: [{ name: "c", image: "busybox" }] } },
  };
}

/** The fake API server, started for one test. */
export async function fakeBackend(): Promise<Backend> {
  const fake = await FakeApiServer.start({ bookmarkIntervalMs: 0 });
  fake.addResource({ ...podtemplates, kind: "PodTemplate" });
  const transport = new transports.Transport({
    server: fake.url,
    caCerts: [],
    insecureSkipTlsVerify: false,
    namespace: "default",
    source: "fake API server",
    authenticator: connections.fixedCredentials({ authorization: "Bearer fake-token" }),
  });
  return {
    name: "fake",
    transport,
    uncached: podtemplates,
    compact: () => Promise.resolve(fake.compact()),
    close: async () => {
      transport.close();
      await fake.close();
    },
  };
}

/** The shared real control plane, or null when e2e tests are off. */
export async function realBackend(): Promise<Backend | null> {
  const plane = await controlPlanes.controlPlane();
  if (!plane) return null;
  const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
  const transport = new transports.Transport(connection);
  const statePath = plane.kubeconfigPath.replace(/kubeconfig$/, "state.json");
  return {
    name: "real",
    transport,
    uncached: podtemplates,
    compact: () => controlPlanes.compactEtcd(statePath.replace(/\/state\.json$/, "")),
    close: () => Promise.resolve(transport.close()),
  };
}
