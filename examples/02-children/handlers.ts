// Children: for each KopfExample, a ConfigMap that belongs to it. `kopf.adopt()` gives the
// ConfigMap an owner reference to the KopfExample (and its namespace and labels), so
// Kubernetes' garbage collector deletes the ConfigMap when the KopfExample is deleted: the
// operator needs no deletion handler and no finalizer for it.
//
// Run: deno run -A cli.ts run examples/02-children/handlers.ts -n default

import * as kopf from "../../mod.ts";
// Kopf for Deno has no public API client yet: the example borrows the framework's own.
import * as api from "../../lib/k8s/api.ts";
import type * as connections from "../../lib/k8s/connections.ts";
import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as transports from "../../lib/k8s/transport.ts";

/** What a KopfExample's spec holds. */
export interface KopfExampleSpec {
  field?: string;
  items?: string[];
}

const CONFIGMAPS: kopf.Resource = {
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};

// One client for all handlers, made on first use where the operator connects by default:
// KUBECONFIG, in-cluster, ~/.kube/config.
let client: Promise<transports.Transport> | undefined;
function connect(): Promise<transports.Transport> {
  client ??= kubeconfig.loadConnection().then((c) => new transports.Transport(c));
  return client;
}

/** Makes the handlers' client use this connection instead (a program or test that chose one). */
export function useConnection(connection: connections.Connection): void {
  client = Promise.resolve(new transports.Transport(connection));
}

kopf.on.create<KopfExampleSpec>(
  "kopfexamples.kopf.dev",
  async function create_fn({ spec, name, namespace, uid, logger, signal }) {
    const child: api.KubernetesObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      data: { field: spec.field ?? "", items: (spec.items ?? []).join(",") },
    };
    // The owner is the object being handled. Named exactly as the owner (`strict`), so that a
    // retry after a failure finds the child it created before instead of making another one.
    kopf.adopt(child, undefined, { strict: true });
    const transport = await connect();
    let created: api.KubernetesObject;
    try {
      created = await api.createObject(transport, CONFIGMAPS, child, { signal });
      logger.info(`Created the child ConfigMap ${namespace}/${created.metadata?.name}`);
    } catch (error) {
      if (!(error instanceof kopf.ApiConflictError)) throw error;
      created = await api.getObject(transport, CONFIGMAPS, name, { namespace, signal });
      const ours = created.metadata?.ownerReferences?.some((ref) => ref.uid === uid);
      if (!ours) {
        throw new kopf.PermanentError(`The ConfigMap ${namespace}/${name} exists and is not ours`);
      }
      logger.info(`The child ConfigMap ${namespace}/${name} exists already`);
    }
    return { children: [created.metadata?.name] };
  },
);
