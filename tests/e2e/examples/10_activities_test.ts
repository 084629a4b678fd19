// examples/10-activities end to end, as `kopf run` in a process of its own: the startup handlers
// (one of them retried twice) run before the operator connects through the login handler; the
// memo they fill is shared by the creation handler and the probes of the liveness endpoint;
// their settings turn info lines into Events; SIGTERM runs the cleanup handler, then exit 0.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as yaml from "yaml";
import * as api from "../../../lib/k8s/api.ts";
import * as kubeconfig from "../../../lib/k8s/kubeconfig.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import * as controlPlanes from "../../_fixtures/control_plane.ts";
import * as crdFixtures from "../../_fixtures/crds.ts";
import { EVENTS, EXAMPLES, type KubernetesEvent, NAMESPACES, statusOf } from "./_examples.ts";

const CLI = new URL("../../../cli.ts", import.meta.url).pathname;
const HANDLERS = new URL("../../../examples/10-activities/handlers.ts", import.meta.url).pathname;
const OBJ = new URL("../../../examples/10-activities/obj.yaml", import.meta.url);
const CONFIG = new URL("../../../deno.json", import.meta.url).pathname;
const STOP_TIMEOUT_MS = 10_000;

Deno.test({
  name: "examples/10-activities: startup, login, probes and cleanup around the served objects",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const plane = await controlPlanes.controlPlane();
    if (!plane) throw new Error("The control plane is not available");
    const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
    using transport = new transports.Transport(connection);
    const resource = await crdFixtures.installCrd(transport, EXAMPLES);
    const namespace = `example-10-${crypto.randomUUID().slice(0, 8)}`;
    await api.createObject(transport, NAMESPACES, { metadata: { name: namespace } });
    const process = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        CONFIG,
        CLI,
        "run",
        HANDLERS,
        "-n",
        namespace,
        "--log-format",
        "plain",
        "--liveness",
        "http://127.0.0.1:0/healthz",
      ],
      env: { KUBECONFIG: plane.kubeconfigPath, NO_COLOR: "1" },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines: string[] = [];
    const output = (async () => {
      let rest = "";
      for await (const text of process.stderr.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + text).split("\n");
        rest = parts.pop() ?? "";
        lines.push(...parts);
      }
      if (rest) lines.push(rest);
    })();
    let exited: Deno.CommandStatus | undefined;
    process.status.then((status) => exited = status);
    const name = "kopf-example-1";
    try {
      await crdFixtures.eventually(
        () => exited || lines.some((line) => line.includes("Watching kopfexamples")),
        "the operator to watch kopfexamples",
      );
      if (exited) throw new Error(`kopf run exited with ${exited.code}:\n${lines.join("\n")}`);

      // Startup first (retried), then the login, then the connection it gave.
      const at = (text: string) => lines.findIndex((line) => line.includes(text));
      const order = [
        "The dependencies are not ready (attempt 1)",
        "The dependencies are not ready (attempt 2)",
        "The dependencies are ready",
        `Logging in to ${connection.server}`,
        `Connecting to ${connection.server} (login handler "login_fn" (kubeconfig `,
        "Watching kopfexamples",
      ].map(at);
      ok(
        order.every((index, i) => index >= 0 && (i === 0 || index > order[i - 1]!)),
        lines.join("\n"),
      );

      const body = yaml.parse(await Deno.readTextFile(OBJ)) as api.KubernetesObject;
      await api.createObject(transport, resource, body, { namespace });
      const counted = await crdFixtures.eventually(async () => {
        const obj = await api.getObject(transport, resource, name, { namespace });
        return statusOf(obj, "count_fn");
      }, "status.count_fn");
      deepEqual(counted, { number: 1 });

      // The startup's settings: the object's info lines became Events.
      const logged = await crdFixtures.eventually(async () => {
        const { items } = await api.listObjects<KubernetesEvent>(transport, EVENTS, {
          namespace,
          fieldSelector: `involvedObject.name=${name}`,
        });
        return items.find((e) => e.message === "Counted as new example #1");
      }, "the Event of the info line");
      equal(`${logged.type} ${logged.reason}`, "Normal Logging");

      // The probes read the memo that the startup handler filled and the create handler changed.
      const liveness = lines.map((l) => /^Serving the liveness probe at (\S+)$/.exec(l)?.[1])
        .find((url) => url !== undefined);
      ok(liveness, lines.join("\n"));
      const report = await crdFixtures.eventually(
        async () => {
          const response = await fetch(liveness);
          const json = await response.json();
          return response.status === 200 && json.probes?.created === 1 ? json : undefined;
        },
        "a liveness report with created: 1",
        15_000,
      );
      ok(typeof report.probes.checked_at === "string", JSON.stringify(report));
      await api.deleteObject(transport, resource, name, { namespace });
    } finally {
      kill(process, "SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stopped = await Promise.race([
        process.status.then(() => true),
        new Promise<boolean>((resolve) =>
          timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS)
        ),
      ]);
      clearTimeout(timer);
      if (!stopped) kill(process, "SIGKILL");
      await output;
      await api.deleteObject(transport, NAMESPACES, namespace).catch(() => {});
    }
    const status = await process.status;
    equal(status.code, 0, lines.join("\n"));
    const farewell = lines.findIndex((line) => line === "Stopping after 1 new examples");
    ok(farewell > lines.findIndex((line) => line.startsWith("Signal received")), lines.join("\n"));
    equal(lines.at(-1), "The operator has stopped");
  },
});

function kill(process: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    process.kill(signal);
  } catch {
    // It has exited already.
  }
}
