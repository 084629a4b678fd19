// `deno task demo`: Kopf for Deno doing its main job on a real API server, end to end. It uses
// the cluster of KUBECONFIG (or ~/.kube/config) when one answers, else starts the local control
// plane (tools/control-plane/); applies the KopfExample CRD; runs the minimal example as an
// operator process (examples/01-minimal/main.ts, the entry point the Dockerfile compiles);
// creates examples/01-minimal/obj.yaml in a fresh namespace; shows the handler's log line and
// the object's status; then cleans up. Ctrl-C at any point cleans up too.

import * as yaml from "yaml";
import type * as kopf from "../mod.ts";
import * as api from "../lib/k8s/api.ts";
import type * as connections from "../lib/k8s/connections.ts";
import * as errors from "../lib/k8s/errors.ts";
import * as kubeconfig from "../lib/k8s/kubeconfig.ts";
import * as transports from "../lib/k8s/transport.ts";
import * as cluster from "./control-plane/cluster.ts";

const EXAMPLES = new URL("../examples/", import.meta.url);
const OPERATOR_MAIN = new URL("../examples/01-minimal/main.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const CRDS: kopf.Resource = {
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
};
const NAMESPACES: kopf.Resource = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};
const KOPFEXAMPLES: kopf.Resource = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfexamples",
  kind: "KopfExample",
  namespaced: true,
};
const PROBE_TIMEOUT_SECONDS = 3;
const WAIT_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 100;
/** After SIGTERM, how long the operator may take to stop before it is killed. */
const OPERATOR_STOP_TIMEOUT_MS = 3_000;

const say = (line: string) => console.log(`demo: ${line}`);
const elapsed = () => `${(performance.now() / 1000).toFixed(1)} s`;

async function main(): Promise<number> {
  const interrupted = new AbortController();
  const onSignal = () => {
    if (interrupted.signal.aborted) {
      say("still cleaning up; it stops by itself in a few seconds");
      return;
    }
    say("interrupted: cleaning up");
    interrupted.abort(new Error("Interrupted"));
  };
  for (const name of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(name, onSignal);
  const signal = interrupted.signal;

  let plane: cluster.ControlPlane | undefined;
  let transport: transports.Transport | undefined;
  let namespace: string | undefined;
  let operator: Operator | undefined;
  try {
    let connection = await reachableCluster(signal);
    if (connection) {
      say(`using the cluster at ${connection.server} (${connection.source})`);
    } else {
      say("no cluster answers at KUBECONFIG or ~/.kube/config: starting a local control plane");
      plane = await startLocalControlPlane(signal);
      connection = await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath });
    }
    transport = new transports.Transport(connection);

    await applyCrd(transport, signal);
    const ns = `kopf-demo-${crypto.randomUUID().slice(0, 8)}`;
    namespace = ns;
    await api.createObject(transport, NAMESPACES, { metadata: { name: ns } }, { signal });
    say(`namespace ${ns} created`);

    say(`starting examples/01-minimal/main.ts for namespace ${ns}`);
    const running = startOperator(ns, plane?.kubeconfigPath);
    operator = running;
    await until(() => running.watching, "the operator to watch kopfexamples", signal, running);

    const body = yaml.parse(
      await Deno.readTextFile(new URL("01-minimal/obj.yaml", EXAMPLES)),
    ) as api.KubernetesObject;
    const name = body.metadata?.name ?? "";
    await api.createObject(transport, KOPFEXAMPLES, body, { namespace, signal });
    say(`created KopfExample ${namespace}/${name} from examples/01-minimal/obj.yaml`);
    const client = transport;
    const handled = await until(
      async () => {
        const obj = await api.getObject(client, KOPFEXAMPLES, name, { namespace, signal });
        return (obj.status as Record<string, unknown> | undefined)?.create_fn ? obj : undefined;
      },
      "the handler's result in the status",
      signal,
      running,
    );
    say(`handled ${elapsed()} after the start; its status is now:`);
    console.log(indent(yaml.stringify({ status: handled.status })));

    await api.deleteObject(transport, KOPFEXAMPLES, name, { namespace, signal });
    await until(() => isGone(client, name, ns, signal), "the deletion", signal);
    say(`deleted KopfExample ${namespace}/${name}`);
    return 0;
  } catch (error) {
    if (signal.aborted) return 130;
    console.error(`demo: failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await cleanUp({ operator, transport, namespace, plane });
    for (const name of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(name, onSignal);
    say(`done in ${elapsed()}`);
  }
}

/** The connection of KUBECONFIG or ~/.kube/config if its API server answers `/version`. */
async function reachableCluster(signal: AbortSignal): Promise<connections.Connection | null> {
  let connection: connections.Connection;
  try {
    connection = await kubeconfig.loadConnection();
  } catch {
    return null; // no kubeconfig at all
  }
  using probe = new transports.Transport(connection);
  try {
    await probe.request("GET", "/version", {
      signal,
      retries: 0,
      timeoutSeconds: PROBE_TIMEOUT_SECONDS,
    });
    return connection;
  } catch (error) {
    if (signal.aborted) throw error;
    say(`the cluster at ${connection.server} does not answer: ${errorText(error)}`);
    return null;
  }
}

/**
 * Starts the local control plane. If Ctrl-C interrupts the start, its run directory goes too
 * (after a failure, it stays: it holds the logs).
 */
async function startLocalControlPlane(signal: AbortSignal): Promise<cluster.ControlPlane> {
  const dir = await Deno.makeTempDir({ prefix: "kopf-control-plane-" });
  try {
    return await cluster.startControlPlane({ dir, log: (line) => console.error(line), signal });
  } catch (error) {
    if (signal.aborted) await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** Creates the KopfExample CRD unless it exists, and waits until it is served. */
async function applyCrd(transport: transports.Transport, signal: AbortSignal): Promise<void> {
  const crd = yaml.parse(
    await Deno.readTextFile(new URL("crd.yaml", EXAMPLES)),
  ) as api.KubernetesObject;
  const name = crd.metadata?.name ?? "";
  try {
    await api.createObject(transport, CRDS, crd, { signal });
    say(`CRD ${name} created from examples/crd.yaml`);
  } catch (error) {
    if (!(error instanceof errors.ApiConflictError)) throw error;
    say(`CRD ${name} exists already: using it`);
  }
  await until(
    async () => {
      const found = await api.getObject<{ status?: { conditions?: Condition[] } }>(
        transport,
        CRDS,
        name,
        { signal },
      );
      return found.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
    },
    `CRD ${name} to be Established`,
    signal,
  );
}

interface Condition {
  type: string;
  status: string;
}

/** The operator process: its exit, and whether it has said that it watches. */
interface Operator {
  readonly process: Deno.ChildProcess;
  output: Promise<void>;
  watching: boolean;
  exited: number | undefined;
}

/**
 * Starts the minimal example's operator as `deno run -A examples/01-minimal/main.ts -n NS`
 * (`cli.ts run` with the handlers imported statically), passing its log lines through.
 */
function startOperator(namespace: string, kubeconfigPath: string | undefined): Operator {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      CONFIG,
      OPERATOR_MAIN,
      "-n",
      namespace,
      "--log-format",
      "plain",
    ],
    env: kubeconfigPath ? { KUBECONFIG: kubeconfigPath } : {},
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  const operator: Operator = {
    process,
    output: Promise.resolve(),
    watching: false,
    exited: undefined,
  };
  process.status.then((status) => operator.exited = status.code);
  operator.output = (async () => {
    let rest = "";
    for await (const text of process.stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + text).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        console.error(line);
        if (line.includes("Watching kopfexamples")) operator.watching = true;
      }
    }
    if (rest) console.error(rest);
  })();
  return operator;
}

/** Stops what was started, in reverse order, each step bounded in time; never throws. */
async function cleanUp(started: {
  operator: Operator | undefined;
  transport: transports.Transport | undefined;
  namespace: string | undefined;
  plane: cluster.ControlPlane | undefined;
}): Promise<void> {
  const { operator, transport, namespace, plane } = started;
  if (operator) {
    signalProcess(operator.process, "SIGTERM");
    const stopped = await Promise.race([
      operator.process.status.then(() => true),
      sleep(OPERATOR_STOP_TIMEOUT_MS).then(() => false),
    ]);
    if (!stopped) signalProcess(operator.process, "SIGKILL");
    await operator.process.status;
    await operator.output.catch(() => {});
    say(stopped ? "operator stopped" : `operator killed after ${OPERATOR_STOP_TIMEOUT_MS} ms`);
  }
  if (transport && namespace) {
    try {
      // The namespace controller deletes what is left in it (on a cluster that has one).
      await api.deleteObject(transport, NAMESPACES, namespace, {
        signal: AbortSignal.timeout(PROBE_TIMEOUT_SECONDS * 1000),
      });
      say(`namespace ${namespace} deleted`);
    } catch (error) {
      say(`could not delete namespace ${namespace}: ${errorText(error)}`);
    }
  }
  transport?.close();
  if (plane) {
    try {
      await plane.stop();
      say("local control plane stopped");
    } catch (error) {
      say(`could not stop the control plane in ${plane.dir}: ${errorText(error)}`);
    }
  }
}

/**
 * Polls `probe` until it returns something other than undefined/false; fails after 30 s, when
 * `signal` aborts, or when the operator exits first.
 */
async function until<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  signal: AbortSignal,
  operator?: Operator,
): Promise<T> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  for (;;) {
    signal.throwIfAborted();
    if (operator?.exited !== undefined) {
      throw new Error(`The operator exited with ${operator.exited}`);
    }
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(POLL_INTERVAL_MS, signal);
  }
}

async function isGone(
  transport: transports.Transport,
  name: string,
  namespace: string,
  signal: AbortSignal,
): Promise<boolean> {
  try {
    await api.getObject(transport, KOPFEXAMPLES, name, { namespace, signal });
    return false;
  } catch (error) {
    if (error instanceof errors.ApiNotFoundError) return true;
    throw error;
  }
}

function signalProcess(process: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    process.kill(signal);
  } catch {
    // It has exited already.
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", abort, { once: true });
  });
}

function indent(text: string): string {
  return text.trimEnd().split("\n").map((line) => `  ${line}`).join("\n");
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

if (import.meta.main) Deno.exit(await main());
