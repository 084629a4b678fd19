// examples/12-admission end to end, as `kopf run` with the --webhook-* options: the managed
// configurations appear with the self-signed CA, the API server mutates obj.yaml (label and
// default items stored) and rejects obj-invalid.yaml with the handler's message and code, dry
// runs reach the handlers, and after SIGTERM the configurations are gone.

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import * as yaml from "yaml";
import * as api from "../../../lib/k8s/api.ts";
import * as k8sErrors from "../../../lib/k8s/errors.ts";
import * as kubeconfig from "../../../lib/k8s/kubeconfig.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import * as configurations from "../../../lib/engines/configurations.ts";
import * as controlPlanes from "../../_fixtures/control_plane.ts";
import * as crdFixtures from "../../_fixtures/crds.ts";
import * as kopfProcess from "../../_fixtures/kopf_process.ts";
import { EXAMPLES, NAMESPACES } from "./_examples.ts";

const HANDLERS = new URL("../../../examples/12-admission/handlers.ts", import.meta.url).pathname;
const folder = new URL("../../../examples/12-admission/", import.meta.url);

Deno.test({
  name: "examples/12-admission: objects are mutated and validated by the operator's webhooks",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const plane = await controlPlanes.controlPlane();
    if (!plane) throw new Error("The control plane is not available");
    const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
    using transport = new transports.Transport(connection);
    const resource = await crdFixtures.installCrd(transport, EXAMPLES);
    const namespace = `example-12-${crypto.randomUUID().slice(0, 8)}`;
    const managed = `${namespace}.examples.kopf.dev`;
    await api.createObject(transport, NAMESPACES, { metadata: { name: namespace } });
    const load = async (file: string) =>
      yaml.parse(await Deno.readTextFile(new URL(file, folder))) as api.KubernetesObject;
    const operator = kopfProcess.kopfRun(plane.kubeconfigPath, [
      HANDLERS,
      "-n",
      namespace,
      "--webhook-address",
      "127.0.0.1",
      "--webhook-port",
      "0",
      "--webhook-managed",
      managed,
    ]);
    try {
      await operator.line(
        (l) => /^Serving webhooks at https:\/\/127\.0\.0\.1:\d+ \(self-signed\)$/.test(l),
        "the webhook server",
      );
      await operator.line(
        (l) => l === `Created the ValidatingWebhookConfiguration "${managed}" with 1 webhook(s)`,
        "the validating configuration",
      );
      const validating = await api.getObject<
        { webhooks: { name: string; clientConfig: configurations.ClientConfig }[] }
      >(
        transport,
        configurations.CONFIGURATION_RESOURCES.validating,
        managed,
      );
      deepEqual(validating.webhooks.map((w) => w.name), [`check-field.${managed}`]);
      ok(
        atob(validating.webhooks[0]!.clientConfig.caBundle!).startsWith(
          "-----BEGIN CERTIFICATE-----",
        ),
      );

      const invalid = await load("obj-invalid.yaml");
      // The API server takes new configurations up shortly: wait until it calls the webhook.
      const rejected = await crdFixtures.eventually(
        () =>
          api.createObject(transport, resource, invalid, { namespace }).then(
            async () => {
              await api.deleteObject(transport, resource, invalid.metadata!.name!, { namespace });
              return undefined;
            },
            (error: unknown) =>
              error instanceof k8sErrors.ApiError && error.code === 422 ? error : undefined,
          ),
        "the API server to call the validating webhook",
      );
      equal(
        rejected.status.message,
        `admission webhook "check-field.${managed}" denied the request: spec.field is required`,
      );

      const obj = await load("obj.yaml");
      await crdFixtures.eventually(async () => {
        // The mutating configuration may be taken up a moment after the validating one.
        await api.createObject(transport, resource, obj, { namespace });
        const stored = await api.getObject(transport, resource, obj.metadata!.name!, { namespace });
        if (stored.metadata?.labels?.["examples.kopf.dev/mutated"] === "yes") return true;
        await api.deleteObject(transport, resource, obj.metadata!.name!, { namespace });
        return undefined;
      }, "the API server to call the mutating webhook");
      const stored = await api.getObject(transport, resource, obj.metadata!.name!, { namespace });
      deepEqual(stored.metadata?.labels, {
        "examples.kopf.dev/admission": "checked",
        "examples.kopf.dev/mutated": "yes",
      });
      deepEqual(stored.spec, { field: "value", items: ["default"] });
      await operator.line(
        (l) => l === `[${namespace}/kopf-example-12] Checked spec.field=value for admin`,
        "the validation's log line",
      );

      await api.createObject(transport, resource, {
        ...obj,
        metadata: { ...obj.metadata, name: "dry" },
      }, {
        namespace,
        dryRun: true,
      });
      await operator.line(
        (l) => l === `[${namespace}/dry] Defaults set (dry run)`,
        "the dry run's log line",
      );
    } finally {
      const status = await operator.stop();
      await api.deleteObject(transport, NAMESPACES, namespace).catch(() => {});
      equal(status.code, 0, operator.lines.join("\n"));
    }
    for (const kind of ["validating", "mutating"] as const) {
      await rejects(
        api.getObject(transport, configurations.CONFIGURATION_RESOURCES[kind], managed),
        k8sErrors.ApiNotFoundError,
      );
    }
    ok(operator.lines.includes("Stopped serving webhooks"), operator.lines.join("\n"));
  },
});
