// The chaos run's private control plane: etcd and kube-apiserver (no kube-controller-manager:
// nothing here needs it), by default without the watch cache (docs/chaos.md says why), the
// KopfExample CRD, the namespace, and the operator's own user — a client certificate bound to
// cluster-admin, so that API Priority and Fairness can single it out — with one kubeconfig per
// replica that points at that replica's TCP proxy. Called once by bench/chaos/run.ts.

import { parse, stringify } from "yaml";
import * as cluster from "../../tools/control-plane/cluster.ts";
import * as api from "../../lib/k8s/api.ts";
import * as errors from "../../lib/k8s/errors.ts";
import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as transports from "../../lib/k8s/transport.ts";
import type * as references from "../../lib/structs/references.ts";
import * as crdFixtures from "../../tests/_fixtures/crds.ts";
import * as e2e from "../../tests/_fixtures/e2e.ts";
import * as users from "../../tests/_fixtures/users.ts";
import * as proxies from "./proxy.ts";

/** The User-Agent of the driver's requests. */
export const DRIVER_USER_AGENT = "kopf-chaos-driver";
/** The operator's user (the CN of its client certificate). */
export const OPERATOR_USER = "kopf-chaos-operator";
/** The namespace the operator serves and the load works in. */
export const NAMESPACE = "chaos";

/** kopfexamples.v1.kopf.dev, as the fixtures install it. */
export const CRD_OPTIONS = e2e.KOPF_EXAMPLES;
export const CRD_NAME = `${CRD_OPTIONS.plural}.${CRD_OPTIONS.group}`;

/** The load's requests give up after this long (its outcome is then unknown). */
const LOAD_REQUEST_TIMEOUT_SECONDS = 20;

const CLUSTER_ROLE_BINDINGS: references.Resource = {
  group: "rbac.authorization.k8s.io",
  version: "v1",
  plural: "clusterrolebindings",
  kind: "ClusterRoleBinding",
  namespaced: false,
};

/** A running plane with the driver's clients and the operator's proxies and kubeconfigs. */
export interface Plane extends AsyncDisposable {
  readonly dir: string;
  readonly adminKubeconfigPath: string;
  /** The driver's requests (faults, checks), straight to kube-apiserver. */
  readonly transport: transports.Transport;
  /** The load's requests: no retries, so every outcome is known or marked unknown. */
  readonly loadTransport: transports.Transport;
  /** The driver's watch, on a connection of its own. */
  readonly watchTransport: transports.Transport;
  /** The KopfExample resource. */
  readonly resource: references.Resource;
  /** One proxy per replica, in front of kube-apiserver. */
  readonly proxies: readonly proxies.Proxy[];
  /** One kubeconfig per replica: the operator's user, its proxy, the namespace. */
  readonly operatorKubeconfigs: readonly string[];
  readonly apiserverVersion: string;
  /** kube-apiserver's PID now (it changes with each restart). */
  apiserverPid(): Promise<number | undefined>;
  /** GETs a path with the admin certificate and returns the body as text (e.g. /metrics). */
  fetchText(path: string): Promise<string>;
}

/** Starts the plane; `replicas` proxies and kubeconfigs. */
export async function startPlane(
  options: { replicas: number; watchCache: boolean; log: (line: string) => void },
): Promise<Plane> {
  const dir = await Deno.makeTempDir({ prefix: "kopf-chaos-plane-" });
  const plane = await cluster.startControlPlane({
    dir,
    controllerManager: false,
    apiserverArgs: options.watchCache ? [] : ["--watch-cache=false"],
    log: options.log,
  });
  const opened: { close(): void }[] = [];
  const proxyList: proxies.Proxy[] = [];
  try {
    const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
    const transport = new transports.Transport(connection, { userAgent: DRIVER_USER_AGENT });
    const watchTransport = new transports.Transport(connection, {
      userAgent: DRIVER_USER_AGENT,
    });
    const loadTransport = new transports.Transport(connection, {
      userAgent: DRIVER_USER_AGENT,
      settings: { retries: 0, requestTimeoutSeconds: LOAD_REQUEST_TIMEOUT_SECONDS },
    });
    opened.push(transport, watchTransport, loadTransport);
    const resource = await crdFixtures.installCrd(transport, CRD_OPTIONS);
    await api.createObject(transport, e2e.namespaces, { metadata: { name: NAMESPACE } });
    await api.createObject(transport, CLUSTER_ROLE_BINDINGS, {
      metadata: { name: OPERATOR_USER },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "cluster-admin",
      },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: OPERATOR_USER }],
    } as api.KubernetesObject);
    const userDir = `${dir}/operator-user`;
    await Deno.mkdir(userDir);
    const userConfig = parse(
      await Deno.readTextFile(
        await users.userKubeconfig(plane.kubeconfigPath, OPERATOR_USER, userDir, {
          namespace: NAMESPACE,
        }),
      ),
    ) as { clusters: { cluster: { server: string } }[] };
    const port = Number(new URL(plane.server).port);
    const operatorKubeconfigs: string[] = [];
    for (let i = 0; i < options.replicas; i++) {
      const proxy = new proxies.Proxy({ hostname: "127.0.0.1", port });
      proxyList.push(proxy);
      userConfig.clusters[0]!.cluster.server = `https://127.0.0.1:${proxy.port}`;
      const path = `${userDir}/kubeconfig-${i}`;
      await Deno.writeTextFile(path, stringify(userConfig), { mode: 0o600 });
      operatorKubeconfigs.push(path);
    }
    const version = await transport.request<{ gitVersion?: string }>("GET", "/version");
    const pki = `${dir}/pki`;
    const client = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(`${pki}/ca.crt`)],
      cert: await Deno.readTextFile(`${pki}/admin.crt`),
      key: await Deno.readTextFile(`${pki}/admin.key`),
    });
    opened.push(client);
    return {
      dir,
      adminKubeconfigPath: plane.kubeconfigPath,
      transport,
      loadTransport,
      watchTransport,
      resource,
      proxies: proxyList,
      operatorKubeconfigs,
      apiserverVersion: version.gitVersion ?? "unknown",
      async apiserverPid() {
        const pids = JSON.parse(await Deno.readTextFile(`${dir}/pids.json`)) as cluster.Pids;
        return pids["kube-apiserver"];
      },
      async fetchText(path) {
        const response = await fetch(`${plane.server}${path}`, {
          client,
          signal: AbortSignal.timeout(30_000),
        });
        const text = await response.text();
        if (!response.ok) throw new Error(`GET ${path} answered ${response.status}: ${text}`);
        return text;
      },
      async [Symbol.asyncDispose]() {
        for (const proxy of proxyList) await proxy[Symbol.asyncDispose]();
        for (const resource of opened) resource.close();
        await plane.stop();
      },
    };
  } catch (error) {
    for (const proxy of proxyList) await proxy[Symbol.asyncDispose]();
    for (const resource of opened) resource.close();
    await plane.stop();
    throw error;
  }
}

/** Whether an error means the CRD is not served (gone, terminating, not yet established). */
export function isCrdMissing(error: unknown): boolean {
  return error instanceof errors.ApiNotFoundError ||
    (error instanceof errors.ApiError && error.code === 405);
}
