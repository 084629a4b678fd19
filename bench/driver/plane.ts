// The benchmark's private control plane: etcd, kube-apiserver (with an audit log of every request
// at level Metadata) and kube-controller-manager (namespace deletion), the BenchObject CRD
// installed, and the driver's own client. Called once per run by bench/run.ts; it never touches
// the "current" control plane that `deno task cluster:up` and the e2e tests share.

import * as YAML from "yaml";
import * as cluster from "../../tools/control-plane/cluster.ts";
import * as api from "../../lib/k8s/api.ts";
import * as errors from "../../lib/k8s/errors.ts";
import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as transports from "../../lib/k8s/transport.ts";
import type * as references from "../../lib/structs/references.ts";

/** The User-Agent of the driver's requests, so the audit log tells them from the operators'. */
export const DRIVER_USER_AGENT = "kopf-bench-driver";

const CRD_FILE = new URL("../crd.yaml", import.meta.url);
const CRD_TIMEOUT_MS = 30_000;
const POLL_MS = 100;

/** benchobjects.v1.bench.kopf.dev. */
export const BENCH_OBJECTS: references.Resource = {
  group: "bench.kopf.dev",
  version: "v1",
  plural: "benchobjects",
  kind: "BenchObject",
  namespaced: true,
};

const CRDS: references.Resource = {
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
};

/**
 * Every request at level Metadata, once per request (ResponseComplete, or Panic), except
 * kube-apiserver's own loopback traffic. Metadata has the verb, the object reference, the
 * User-Agent and the time; the patch type and bodies are not needed and would cost more.
 */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    users: ["system:apiserver"]
  - level: Metadata
`;

/** A running private control plane with the driver's client. */
export interface Plane extends AsyncDisposable {
  readonly kubeconfigPath: string;
  readonly server: string;
  /** `<dir>/audit.log`, or undefined when started without an audit log. */
  readonly auditLogPath: string | undefined;
  readonly transport: transports.Transport;
  /**
   * The driver's client for its watch: a connection of its own, so the watch stream never waits
   * behind the driver's creates on one HTTP/2 connection (kube-apiserver closes a watch whose
   * reader falls behind, and the driver's times of "status visible" would lag).
   */
  readonly watchTransport: transports.Transport;
  /** `kube-apiserver --version`, e.g. `v1.37.2`. */
  readonly apiserverVersion: string;
  /** kube-apiserver and etcd, whose CPU time each run costs the server side. */
  readonly serverPids: readonly number[];
}

/** Starts the control plane, installs the CRD and waits until BenchObjects can be created. */
export async function startPlane(
  options: { audit: boolean; log: (line: string) => void },
): Promise<Plane> {
  const dir = await Deno.makeTempDir({ prefix: "kopf-bench-plane-" });
  const auditLogPath = options.audit ? `${dir}/audit.log` : undefined;
  // The clean-up deletes each run's objects with one collection delete: several workers make
  // that of 10,000 objects take seconds instead of ~20 s (the default is 1 worker).
  const args: string[] = ["--delete-collection-workers=16"];
  if (auditLogPath) {
    await Deno.writeTextFile(`${dir}/audit-policy.yaml`, AUDIT_POLICY);
    args.push(
      `--audit-policy-file=${dir}/audit-policy.yaml`,
      `--audit-log-path=${auditLogPath}`,
      "--audit-log-format=json",
      // Blocking: each event is written before the request's handling ends, in order.
      "--audit-log-mode=blocking",
      // No rotation: the reader follows one file by byte offset.
      "--audit-log-maxsize=0",
    );
  }
  const plane = await cluster.startControlPlane({ dir, apiserverArgs: args, log: options.log });
  try {
    const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
    const transport = new transports.Transport(connection, { userAgent: DRIVER_USER_AGENT });
    const watchTransport = new transports.Transport(connection, { userAgent: DRIVER_USER_AGENT });
    await installCrd(transport);
    const version = await transport.request<{ gitVersion?: string }>("GET", "/version");
    return {
      kubeconfigPath: plane.kubeconfigPath,
      server: plane.server,
      auditLogPath,
      transport,
      watchTransport,
      apiserverVersion: version.gitVersion ?? "unknown",
      serverPids: [plane.pids["kube-apiserver"], plane.pids.etcd].filter((pid) =>
        pid !== undefined
      ),
      async [Symbol.asyncDispose]() {
        transport.close();
        watchTransport.close();
        await plane.stop();
      },
    };
  } catch (error) {
    await plane.stop();
    throw error;
  }
}

async function installCrd(transport: transports.Transport): Promise<void> {
  const body = YAML.parse(await Deno.readTextFile(CRD_FILE)) as api.KubernetesObject;
  const name = body.metadata?.name ?? "";
  try {
    await api.createObject(transport, CRDS, body);
  } catch (error) {
    if (!(error instanceof errors.ApiConflictError)) throw error;
  }
  const deadline = Date.now() + CRD_TIMEOUT_MS;
  // Established is not enough: the resource must be served (discovery lags the condition).
  while (Date.now() < deadline) {
    const crd = await api.getObject<CrdStatus>(transport, CRDS, name);
    const established = crd.status?.conditions?.some((c) =>
      c.type === "Established" && c.status === "True"
    );
    if (established) {
      try {
        await api.listObjects(transport, BENCH_OBJECTS, { namespace: "default", limit: 1 });
        return;
      } catch (error) {
        if (!(error instanceof errors.ApiNotFoundError)) throw error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`The CRD "${name}" was not served within ${CRD_TIMEOUT_MS / 1000} s`);
}

interface CrdStatus extends api.KubernetesObject {
  status?: { conditions?: { type: string; status: string }[] };
}
