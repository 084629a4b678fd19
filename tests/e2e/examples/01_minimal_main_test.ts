// examples/01-minimal/main.ts end to end, as its own process under the narrow permissions the
// README documents: network access to the API server only, read access to the kubeconfig only,
// and the few environment variables the client reads.

import { deepEqual, ok } from "node:assert/strict";
import * as yaml from "yaml";
import * as api from "../../../lib/k8s/api.ts";
import * as kubeconfig from "../../../lib/k8s/kubeconfig.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import * as controlPlanes from "../../_fixtures/control_plane.ts";
import * as crdFixtures from "../../_fixtures/crds.ts";
import { EXAMPLES, NAMESPACES, statusOf } from "./_examples.ts";

const MAIN = new URL("../../../examples/01-minimal/main.ts", import.meta.url).pathname;
const OBJ = new URL("../../../examples/01-minimal/obj.yaml", import.meta.url);
const CONFIG = new URL("../../../deno.json", import.meta.url).pathname;
const STOP_TIMEOUT_MS = 5_000;

Deno.test({
  name: "examples/01-minimal: main.ts serves a namespace under narrow Deno permissions",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const plane = await controlPlanes.controlPlane();
    if (!plane) throw new Error("The control plane is not available");
    const connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
    using transport = new transports.Transport(connection);
    const resource = await crdFixtures.installCrd(transport, EXAMPLES);
    const namespace = `example-01-main-${crypto.randomUUID().slice(0, 8)}`;
    await api.createObject(transport, NAMESPACES, { metadata: { name: namespace } });
    const host = new URL(connection.server).host;
    const process = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--config",
        CONFIG,
        `--allow-net=${host}`,
        `--allow-read=${plane.kubeconfigPath}`,
        "--allow-env=KUBECONFIG,LOG_TOKENS,LOG_STREAM",
        MAIN,
        "-n",
        namespace,
      ],
      env: { KUBECONFIG: plane.kubeconfigPath, NO_COLOR: "1" },
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
    try {
      let exited: Deno.CommandStatus | undefined;
      process.status.then((status) => exited = status);
      await crdFixtures.eventually(
        () => exited || lines.some((line) => line.includes("Watching kopfexamples")),
        "the operator to watch kopfexamples",
      );
      if (exited) throw new Error(`main.ts exited with ${exited.code}:\n${lines.join("\n")}`);
      const body = yaml.parse(await Deno.readTextFile(OBJ)) as api.KubernetesObject;
      const name = body.metadata!.name!;
      await api.createObject(transport, resource, body, { namespace });
      const handled = await crdFixtures.eventually(async () => {
        const obj = await api.getObject(transport, resource, name, { namespace });
        return statusOf(obj, "create_fn");
      }, "status.create_fn");
      deepEqual(handled, { message: "hello world" });
      ok(
        lines.some((line) => line.includes(`[${namespace}/${name}] And here we are! Created`)),
        lines.join("\n"),
      );
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
      if (!stopped) {
        console.warn(`main.ts did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM: killed`);
        kill(process, "SIGKILL");
      }
      await process.status;
      await output;
      await api.deleteObject(transport, NAMESPACES, namespace).catch(() => {});
    }
    ok(!lines.some((line) => /NotCapable|Requires .* access/.test(line)), lines.join("\n"));
  },
});

function kill(process: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    process.kill(signal);
  } catch {
    // It has exited already.
  }
}
