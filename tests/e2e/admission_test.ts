// Admission and conversion webhooks through a real kube-apiserver, which calls the operator's
// HTTPS server on loopback with the self-signed CA it was given (no insecure flags anywhere):
// a create rejected with the handler's message and code, a create mutated, a warning in the
// client's `Warning:` header, dry runs, failure policies, the managed configurations' lifetime,
// and a CRD with two versions converted both ways.

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as k8sErrors from "../../lib/k8s/errors.ts";
import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as transports from "../../lib/k8s/transport.ts";
import * as engine from "../../lib/engines/admission.ts";
import * as configurations from "../../lib/engines/configurations.ts";
import type * as admission from "../../lib/registry/admission.ts";
import * as on from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import * as networking from "../../lib/settings/networking.ts";
import * as operatorSettings from "../../lib/settings/operator.ts";
import type * as references from "../../lib/structs/references.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as operators from "../_fixtures/operators.ts";

const NAMESPACES: references.Resource = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

/** A CRD of this file's own: webhooks of other tests' resources are never touched. */
const ADMITTED: crdFixtures.CrdOptions = {
  group: "e2e.kopf.dev",
  plural: "kopfadmissions",
  kind: "KopfAdmission",
};

function e2eTest(name: string, fn: (plane: controlPlanes.E2eControlPlane) => Promise<void>): void {
  Deno.test({
    name,
    ignore: !controlPlanes.e2eEnabled,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const plane = await controlPlanes.controlPlane();
      if (!plane) throw new Error("The control plane is not available");
      await fn(plane);
    },
  });
}

e2eTest(
  "admission webhooks reject, mutate, warn, see dry runs and follow their failure policy; the managed configurations live as long as the operator",
  async (plane) => {
    const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
    // No retries: a failed webhook call is a 500 that must be seen, not retried.
    using transport = new transports.Transport(connection, {
      settings: { ...networking.defaultNetworking(), retries: 0 },
    });
    const resource = await crdFixtures.installCrd(transport, ADMITTED);
    const run = `adm-${crypto.randomUUID().slice(0, 8)}`;
    const namespace = run;
    await api.createObject(transport, NAMESPACES, { metadata: { name: namespace } });
    const managed = `${run}.e2e.kopf.dev`;
    // Only this run's objects go to its webhooks (the labels become the objectSelector).
    const labels = { "e2e.kopf.dev/run": run };

    const registry = new registries.OperatorRegistry();
    const seen: { name: string; dryrun: boolean; user: string | undefined }[] = [];
    on.on.validate(
      "kopfadmissions",
      { registry, labels, operations: ["CREATE", "UPDATE"] },
      function check_field({ spec, name, dryrun, userInfo, warnings }: admission.AdmissionContext) {
        seen.push({ name, dryrun, user: userInfo.username });
        if (spec.field === undefined) {
          throw new engine.AdmissionError("spec.field is required", { code: 422 });
        }
        if (spec.field === "legacy") warnings.push("spec.field=legacy is deprecated");
      },
    );
    on.on.mutate(
      "kopfadmissions",
      { registry, labels, operations: ["CREATE"] },
      function add_label({ patch }: admission.AdmissionContext) {
        patch.metadata.labels["e2e.kopf.dev/mutated"] = "yes";
      },
    );
    on.on.validate(
      "kopfadmissions",
      { registry, labels: { ...labels, crash: "ignored" }, ignoreFailures: true },
      function crash_ignored() {
        throw new Error("a bug, ignored by the failure policy");
      },
    );
    on.on.validate(
      "kopfadmissions",
      { registry, labels: { ...labels, crash: "strict" } },
      function crash_strict() {
        throw new Error("a bug, failing the request");
      },
    );

    const settings = operatorSettings.defaultSettings();
    settings.admission.address = "127.0.0.1";
    settings.admission.port = 0;
    settings.admission.managed = managed;
    settings.queueing.exitTimeoutSeconds = 2;
    const operator = await operators.startOperator({
      kubeconfigPath: plane.kubeconfigPath,
      registry,
      namespace,
      settings,
    });
    const body = (
      name: string,
      spec: Record<string, unknown>,
      extra: Record<string, string> = {},
    ) => ({
      metadata: { name, labels: { ...labels, ...extra } },
      spec,
    });
    let stopped = false;
    try {
      // The API server picks new configurations up through its informer: wait until it calls us.
      await crdFixtures.eventually(async () => {
        try {
          await api.createObject(transport, resource, body("probe", {}), {
            namespace,
            dryRun: true,
          });
          return undefined;
        } catch (error) {
          return error instanceof k8sErrors.ApiError && error.code === 422 ? true : undefined;
        }
      }, "the API server to call the validating webhook");

      const validating = await api.getObject<{ webhooks: Record<string, unknown>[] }>(
        transport,
        configurations.CONFIGURATION_RESOURCES.validating,
        managed,
      );
      deepEqual(validating.webhooks.map((w) => w.name), [
        `check-field.${managed}`,
        `crash-ignored.${managed}`,
        `crash-strict.${managed}`,
      ]);
      const clientConfig = validating.webhooks[0]!.clientConfig as configurations.ClientConfig;
      ok(clientConfig.url?.match(/^https:\/\/127\.0\.0\.1:\d+\/check_field$/), clientConfig.url);
      ok(atob(clientConfig.caBundle!).startsWith("-----BEGIN CERTIFICATE-----"));
      await api.getObject(transport, configurations.CONFIGURATION_RESOURCES.mutating, managed);

      // Rejected with the handler's message and code.
      const rejected = await api.createObject(transport, resource, body("no-field", {}), {
        namespace,
      })
        .then(() => undefined, (error: unknown) => error);
      ok(rejected instanceof k8sErrors.ApiError, String(rejected));
      equal(rejected.code, 422);
      equal(
        rejected.status.message,
        `admission webhook "check-field.${managed}" denied the request: spec.field is required`,
      );

      // Mutated: the stored object has the label.
      await api.createObject(transport, resource, body("mutated", { field: "x" }), { namespace });
      const stored = await api.getObject(transport, resource, "mutated", { namespace });
      equal(stored.metadata?.labels?.["e2e.kopf.dev/mutated"], "yes");

      // Warned: the client's response carries the handler's warning.
      const warning = await rawCreate(
        connection,
        collectionPath(resource, namespace),
        body("warned", { field: "legacy" }),
      );
      equal(warning.status, 201);
      equal(warning.headers.get("warning"), `299 - "spec.field=legacy is deprecated"`);

      // Dry runs reach the handlers with dryrun true, and store nothing.
      const before = seen.length;
      await api.createObject(transport, resource, body("dry", { field: "x" }), {
        namespace,
        dryRun: true,
      });
      deepEqual(seen.slice(before), [{ name: "dry", dryrun: true, user: "admin" }]);
      await rejects(
        api.getObject(transport, resource, "dry", { namespace }),
        k8sErrors.ApiNotFoundError,
      );
      ok(seen.some((s) => s.name === "mutated" && !s.dryrun));

      // An unexpected error: let through with ignoreFailures, rejected otherwise.
      await api.createObject(
        transport,
        resource,
        body("ignored", { field: "x" }, { crash: "ignored" }),
        { namespace },
      );
      await api.getObject(transport, resource, "ignored", { namespace });
      const strict = await api.createObject(
        transport,
        resource,
        body("strict", { field: "x" }, { crash: "strict" }),
        { namespace },
      ).then(() => undefined, (error: unknown) => error);
      ok(strict instanceof k8sErrors.ApiError, String(strict));
      equal(strict.code, 500);
      ok(
        strict.status.message?.includes(`failed calling webhook "crash-strict.${managed}"`),
        strict.status.message,
      );
      await rejects(
        api.getObject(transport, resource, "strict", { namespace }),
        k8sErrors.ApiNotFoundError,
      );

      await operator.stop();
      stopped = true;
      for (const kind of ["validating", "mutating"] as const) {
        await rejects(
          api.getObject(transport, configurations.CONFIGURATION_RESOURCES[kind], managed),
          k8sErrors.ApiNotFoundError,
          `the ${kind} configuration is removed after a graceful stop`,
        );
      }
    } finally {
      if (!stopped) await operator.stop();
      for (const kind of ["validating", "mutating"] as const) {
        await api.deleteObject(transport, configurations.CONFIGURATION_RESOURCES[kind], managed)
          .catch(() => {});
      }
      await api.deleteObject(transport, NAMESPACES, namespace).catch(() => {});
    }
  },
);

/** A CRD with v1 (stored) and v2 (served), to be converted by the operator. */
function versionedCrd(group: string, plural: string, kind: string): api.KubernetesObject {
  const base = crdFixtures.crdBody({ group, plural, kind });
  const spec = base.spec as { versions: Record<string, unknown>[] };
  const v1 = spec.versions[0]!;
  spec.versions = [v1, { ...v1, name: "v2", storage: false }];
  return base;
}

e2eTest(
  "a CRD served as v1 and v2, stored as v1, converts both ways through the operator's on.convert",
  async (plane) => {
    const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
    using transport = new transports.Transport(connection);
    const suffix = crypto.randomUUID().slice(0, 6).replace(/[^a-z]/g, "x");
    const group = "e2e.kopf.dev";
    const plural = `converts${suffix}`;
    const crdName = `${plural}.${group}`;
    const kind = `Convert${suffix}`;
    await api.createObject(transport, crdFixtures.crds, versionedCrd(group, plural, kind));
    const v1: references.Resource = { group, version: "v1", plural, kind, namespaced: true };
    const v2: references.Resource = { ...v1, version: "v2" };
    const namespace = `conv-${crypto.randomUUID().slice(0, 8)}`;
    await api.createObject(transport, NAMESPACES, { metadata: { name: namespace } });

    const registry = new registries.OperatorRegistry();
    on.on.convert(
      crdName,
      { registry, from: "v1", to: "v2" },
      function size_to_replicas({ body }: admission.ConversionContext) {
        const { size, ...rest } = body.spec as Record<string, unknown>;
        return { ...body, spec: { ...rest, replicas: size } };
      },
    );
    on.on.convert(
      crdName,
      { registry, from: "v2", to: "v1" },
      function replicas_to_size({ body }: admission.ConversionContext) {
        const { replicas, ...rest } = body.spec as Record<string, unknown>;
        return { ...body, spec: { ...rest, size: replicas } };
      },
    );
    const settings = operatorSettings.defaultSettings();
    settings.admission.address = "127.0.0.1";
    settings.admission.port = 0;
    settings.queueing.exitTimeoutSeconds = 2;
    let operator: operators.RunningOperator | undefined;
    try {
      await crdFixtures.eventually(async () => {
        const crd = await api.getObject<
          { status?: { conditions?: { type: string; status: string }[] } }
        >(
          transport,
          crdFixtures.crds,
          crdName,
        );
        return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
      }, `the CRD ${crdName} to be established`);
      operator = await operators.startOperator({
        kubeconfigPath: plane.kubeconfigPath,
        registry,
        namespace,
        settings,
      });
      await crdFixtures.eventually(async () => {
        const crd = await api.getObject<{ spec: { conversion?: { strategy?: string } } }>(
          transport,
          crdFixtures.crds,
          crdName,
        );
        return crd.spec.conversion?.strategy === "Webhook" ? true : undefined;
      }, "the operator to point the CRD's conversion at itself");

      // Created as v2 (converted to v1 for storage), read back in both versions.
      await crdFixtures.eventually(
        () =>
          api.createObject(transport, v2, {
            metadata: { name: "from-v2" },
            spec: { replicas: 3, field: "kept" },
          }, { namespace }),
        "a v2 object to be stored through the conversion webhook",
      );
      const asV1 = await api.getObject(transport, v1, "from-v2", { namespace });
      equal(asV1.apiVersion, `${group}/v1`);
      deepEqual(asV1.spec, { size: 3, field: "kept" });
      const asV2 = await api.getObject(transport, v2, "from-v2", { namespace });
      equal(asV2.apiVersion, `${group}/v2`);
      deepEqual(asV2.spec, { replicas: 3, field: "kept" });

      // Created as v1, read as v2.
      await api.createObject(transport, v1, { metadata: { name: "from-v1" }, spec: { size: 5 } }, {
        namespace,
      });
      deepEqual((await api.getObject(transport, v2, "from-v1", { namespace })).spec, {
        replicas: 5,
      });
      const listed = await api.listObjects(transport, v2, { namespace });
      deepEqual(listed.items.map((i) => [i.metadata?.name, i.spec]).sort(), [
        ["from-v1", { replicas: 5 }],
        ["from-v2", { replicas: 3, field: "kept" }],
      ]);
    } finally {
      await operator?.stop();
      await api.deleteObject(transport, NAMESPACES, namespace).catch(() => {});
      await api.deleteObject(transport, crdFixtures.crds, crdName).catch(() => {});
    }
  },
);

function collectionPath(resource: references.Resource, namespace: string): string {
  return `/apis/${resource.group}/${resource.version}/namespaces/${namespace}/${resource.plural}`;
}

/** A create with our own fetch, to see the response headers (the transport keeps only bodies). */
async function rawCreate(
  connection: Awaited<ReturnType<typeof kubeconfig.loadKubeconfig>>,
  path: string,
  body: Record<string, unknown>,
): Promise<Response> {
  const credentials = await connection.authenticator.credentials();
  const certificate = credentials.clientCertificate;
  const client = Deno.createHttpClient({
    caCerts: [...connection.caCerts],
    ...(certificate ? { cert: certificate.cert, key: certificate.key } : {}),
  });
  try {
    const response = await fetch(`${connection.server}${path}`, {
      method: "POST",
      client,
      headers: {
        "content-type": "application/json",
        ...(credentials.authorization ? { authorization: credentials.authorization } : {}),
      },
      body: JSON.stringify({ apiVersion: `${ADMITTED.group}/v1`, kind: ADMITTED.kind, ...body }),
    });
    await response.body?.cancel();
    return response;
  } finally {
    client.close();
  }
}
