// Installs CustomResourceDefinitions for tests and waits until they can be used: Established,
// and the resource visible in discovery (as envtest does). Works on the fake and the real
// API server alike, through our own client.

import * as api from "../../lib/k8s/api.ts";
import * as discovery from "../../lib/k8s/discovery.ts";
import * as errors from "../../lib/k8s/errors.ts";
import type * as transports from "../../lib/k8s/transport.ts";
import type * as references from "../../lib/structs/references.ts";

export const crds: references.Resource = {
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
};

/** Options of a test CRD. */
export interface CrdOptions {
  group: string;
  plural: string;
  kind: string;
  namespaced?: boolean;
  status?: boolean;
  shortNames?: string[];
}

/** A permissive CRD body (any spec and status fields are kept). */
export function crdBody(options: CrdOptions): api.KubernetesObject {
  const singular = options.kind.toLowerCase();
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${options.plural}.${options.group}` },
    spec: {
      group: options.group,
      scope: options.namespaced === false ? "Cluster" : "Namespaced",
      names: {
        plural: options.plural,
        singular,
        kind: options.kind,
        listKind: `${options.kind}List`,
        shortNames: options.shortNames ?? [],
      },
      versions: [{
        name: "v1",
        served: true,
        storage: true,
        ...(options.status === false ? {} : { subresources: { status: {} } }),
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
              status: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
            },
          },
        },
      }],
    },
  };
}

/** Waits for `condition` to hold, polling every 50 ms, or fails naming `what`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

/**
 * Creates the CRD (or keeps an existing one), waits until it is Established and its resource
 * is discoverable, and returns the resource.
 */
export async function installCrd(
  transport: transports.Transport,
  options: CrdOptions,
): Promise<references.Resource> {
  const body = crdBody(options);
  const name = body.metadata!.name!;
  try {
    await api.createObject(transport, crds, body);
  } catch (error) {
    if (!(error instanceof errors.ApiConflictError)) throw error;
  }
  await eventually(async () => {
    const crd = await api.getObject<
      { status?: { conditions?: { type: string; status: string }[] } }
    >(
      transport,
      crds,
      name,
    );
    return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
  }, `CRD ${name} to be Established`);
  const finder = new discovery.Discovery(transport);
  return await eventually(
    () => finder.resolve(`${options.plural}.v1.${options.group}`),
    `${name} in discovery`,
  );
}

/** Deletes the CRD and waits until it is gone (its objects go with it). */
export async function uninstallCrd(
  transport: transports.Transport,
  options: CrdOptions,
): Promise<void> {
  const name = `${options.plural}.${options.group}`;
  try {
    await api.deleteObject(transport, crds, name);
  } catch (error) {
    if (!(error instanceof errors.ApiNotFoundError)) throw error;
  }
  await eventually(async () => {
    try {
      await api.getObject(transport, crds, name);
      return undefined;
    } catch (error) {
      if (error instanceof errors.ApiNotFoundError) return true;
      throw error;
    }
  }, `CRD ${name} to be deleted`);
}
