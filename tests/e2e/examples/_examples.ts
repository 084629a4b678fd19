// The shared frame of the examples' e2e tests: each test file imports one example's handlers
// (they register into that file's default registry, as `cli.ts run` would), and this frame
// installs the KopfExample CRD, makes a namespace, runs the default registry in-process
// against the real control plane with the log lines captured, and cleans up afterwards.

import * as yaml from "yaml";
import * as api from "../../../lib/k8s/api.ts";
import * as kubeconfig from "../../../lib/k8s/kubeconfig.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import * as logging from "../../../lib/engines/logging.ts";
import * as running from "../../../lib/reactor/running.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";
import type * as references from "../../../lib/structs/references.ts";
import * as controlPlanes from "../../_fixtures/control_plane.ts";
import * as crdFixtures from "../../_fixtures/crds.ts";
import * as operators from "../../_fixtures/operators.ts";

/** The KopfExample CRD of `examples/crd.yaml`, as the test fixture installs it. */
export const EXAMPLES: crdFixtures.CrdOptions = {
  group: "kopf.dev",
  plural: "kopfexamples",
  kind: "KopfExample",
  shortNames: ["kex"],
};

export const NAMESPACES: references.Resource = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

export const CONFIGMAPS: references.Resource = {
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};

export const EVENTS: references.Resource = {
  group: "",
  version: "v1",
  plural: "events",
  kind: "Event",
  namespaced: true,
};

const CLEANUP_TIMEOUT_MS = 30_000;
/** Handlers of the examples are quick: stopping gets a short grace period. */
const EXIT_TIMEOUT_SECONDS = 2;
/** How long a stop may take before the test goes on without it (see `stopWithin`). */
const STOP_TIMEOUT_MS = 5_000;

/** One example running against the real control plane, in a namespace of its own. */
export interface ExampleWorld {
  readonly transport: transports.Transport;
  readonly resource: references.Resource;
  readonly namespace: string;
  readonly kubeconfigPath: string;
  /** The running operator (a new one after `restart()`). */
  readonly operator: operators.RunningOperator;
  /** The operator's log lines so far, in the plain format with the `[ns/name]` prefix. */
  readonly logs: readonly string[];
  /** The example's `obj.yaml` (or another file of its folder), parsed. */
  load(file?: string): Promise<api.KubernetesObject>;
  /** Creates a KopfExample in the namespace. */
  create(body: api.KubernetesObject): Promise<api.KubernetesObject>;
  /** Reads a KopfExample of the namespace. */
  get(name: string): Promise<api.KubernetesObject>;
  /** Polls a KopfExample until `probe` returns something other than undefined or false. */
  until<T>(
    name: string,
    probe: (obj: api.KubernetesObject) => T | undefined,
    what: string,
  ): Promise<T>;
  /** Stops the operator and starts a new one with the same registry (a process restart). */
  restart(): Promise<void>;
}

/**
 * Declares the e2e test of an example: skipped unless e2e tests are enabled.
 *
 * @param folder the example's folder under `examples/`, e.g. `01-minimal`
 */
export function exampleTest(
  folder: string,
  name: string,
  fn: (world: ExampleWorld) => Promise<void>,
): void {
  Deno.test({
    name: `examples/${folder}: ${name}`,
    ignore: !controlPlanes.e2eEnabled,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const plane = await controlPlanes.controlPlane();
      if (!plane) throw new Error("The control plane is not available");
      const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
      using transport = new transports.Transport(connection);
      const resource = await crdFixtures.installCrd(transport, EXAMPLES);
      const namespace = `example-${folder.slice(0, 2)}-${crypto.randomUUID().slice(0, 8)}`;
      await api.createObject(transport, NAMESPACES, { metadata: { name: namespace } });
      const logs: string[] = [];
      const settings = operatorSettings.defaultSettings();
      settings.queueing.exitTimeoutSeconds = EXIT_TIMEOUT_SECONDS;
      const start = async () => {
        const op = await operators.startOperator({
          kubeconfigPath: plane.kubeconfigPath,
          registry: registries.defaultRegistry(),
          namespace,
          settings,
        });
        // Objects created before the watch starts would come in the initial listing instead.
        await op.until(
          () =>
            op.requests.some((r) =>
              r.verb === "watch" && r.status === 200 &&
              r.path.endsWith(`/namespaces/${namespace}/kopfexamples`)
            ),
          "the operator's watch of kopfexamples",
        );
        return op;
      };
      let operator: operators.RunningOperator | undefined;
      const world: ExampleWorld = {
        transport,
        resource,
        namespace,
        kubeconfigPath: plane.kubeconfigPath,
        get operator() {
          if (!operator) throw new Error("The operator is not running");
          return operator;
        },
        logs,
        async load(file = "obj.yaml") {
          const url = new URL(`../../../examples/${folder}/${file}`, import.meta.url);
          return yaml.parse(await Deno.readTextFile(url)) as api.KubernetesObject;
        },
        create: (body) => api.createObject(transport, resource, body, { namespace }),
        get: (name) => api.getObject(transport, resource, name, { namespace }),
        until: (name, probe, what) =>
          crdFixtures.eventually(async () => probe(await world.get(name)), what),
        async restart() {
          if (operator) await stopWithin(operator, STOP_TIMEOUT_MS);
          operator = undefined;
          operator = await start();
        },
      };
      try {
        // As run() does, minus the console: object log lines also become Events.
        await logging.configureLogging({
          level: "info",
          format: "plain",
          output: (line) => logs.push(line),
          posting: settings.posting,
          postingSink: running.eventSink,
        });
        operator = await start();
        await fn(world);
      } finally {
        try {
          // With the operator still running, so that delete handlers release finalizers.
          if (operator) await deleteExamples(world);
        } finally {
          if (operator) await stopWithin(operator, STOP_TIMEOUT_MS);
          await logging.resetLogging();
          await api.deleteObject(transport, NAMESPACES, namespace).catch(() => {});
        }
      }
    },
  });
}

/**
 * Stops the operator, or gives up waiting after `ms` with a warning. Deno 2.9.6 does not
 * cancel a response body when the fetch's signal aborts after the Response object was
 * garbage-collected, so a watch may outlive its operator's stop until the server ends it.
 */
async function stopWithin(operator: operators.RunningOperator, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stopped = await Promise.race([
    operator.stop().then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
  ]);
  clearTimeout(timer);
  if (!stopped) {
    console.warn(`The operator did not stop within ${ms} ms (a watch was not aborted); going on`);
  }
}

/**
 * Deletes the namespace's KopfExamples while the operator still runs, so that finalizers are
 * released by their delete handlers, and waits until they are gone.
 */
async function deleteExamples(world: ExampleWorld): Promise<void> {
  const { transport, resource, namespace } = world;
  const { items } = await api.listObjects(transport, resource, { namespace });
  for (const item of items) {
    await api.deleteObject(transport, resource, item.metadata?.name ?? "", { namespace })
      .catch(() => {});
  }
  await crdFixtures.eventually(
    async () => (await api.listObjects(transport, resource, { namespace })).items.length === 0,
    `the KopfExamples of ${namespace} to be deleted`,
    CLEANUP_TIMEOUT_MS,
  );
}

/** The fields of a core/v1 Event that the tests look at. */
export interface KubernetesEvent {
  type?: string;
  reason?: string;
  message?: string;
  involvedObject?: Record<string, unknown>;
}

/** The Events about one object, oldest first. */
export async function eventsAbout(
  world: ExampleWorld,
  name: string,
): Promise<KubernetesEvent[]> {
  const { items } = await api.listObjects<KubernetesEvent>(world.transport, EVENTS, {
    namespace: world.namespace,
    fieldSelector: `involvedObject.name=${name}`,
  });
  return items;
}

/** `status[key]` of an object, if it is there. */
export function statusOf(
  obj: api.KubernetesObject,
  key: string,
): Record<string, unknown> | undefined {
  const status = obj.status as Record<string, unknown> | undefined;
  const value = status?.[key];
  return typeof value === "object" && value !== null ? value as Record<string, unknown> : undefined;
}
