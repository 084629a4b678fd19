// Operators as processes for the peering e2e tests: ours through `kopf run` (cli.ts) with a
// liveness endpoint to read the peering state from, Python Kopf through the venv's `kopf run`,
// the invocation log they share, and the peering CRDs and objects of examples/peering.yaml.

import { parseAllDocuments } from "yaml";
import * as api from "../../lib/k8s/api.ts";
import * as errors from "../../lib/k8s/errors.ts";
import type * as transports from "../../lib/k8s/transport.ts";
import type * as references from "../../lib/structs/references.ts";
import * as crdFixtures from "./crds.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const VENV_SCRIPT = new URL("../../tools/kopf/venv.sh", import.meta.url).pathname;
/** The handlers both kinds of operator run (same handler id `first`). */
export const DENO_HANDLERS = new URL("./handlers/peering_operator.ts", import.meta.url).pathname;
export const KOPF_HANDLERS = new URL("./handlers/peering_kopf.py", import.meta.url).pathname;
const PEERING_YAML = new URL("../../examples/peering.yaml", import.meta.url).pathname;

/** KopfPeering of kopf.dev/v1. */
export const KOPF_PEERINGS: references.Resource = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfpeerings",
  kind: "KopfPeering",
  namespaced: true,
};

/** One handler invocation, as the handlers of both languages log it. */
export interface Invocation {
  by: string;
  name: string;
  at: number;
  /** The object's success was already recorded when the handler ran: a re-run. */
  recorded: boolean;
}

/** The invocations logged so far. */
export async function readInvocations(path: string): Promise<Invocation[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Invocation);
}

/** Applies the CRDs of examples/peering.yaml (idempotent) and waits until they are served. */
export async function installPeeringCrds(transport: transports.Transport): Promise<void> {
  const documents = parseAllDocuments(await Deno.readTextFile(PEERING_YAML)).map((d) =>
    d.toJS() as api.KubernetesObject
  );
  for (const crd of documents.filter((d) => d.kind === "CustomResourceDefinition")) {
    try {
      await api.createObject(transport, crdFixtures.crds, crd);
    } catch (error) {
      if (!(error instanceof errors.ApiConflictError)) throw error;
    }
  }
  await crdFixtures.installCrd(transport, {
    group: "kopf.dev",
    plural: "kopfpeerings",
    kind: "KopfPeering",
    status: false,
  });
}

/** Creates the KopfPeering `name` in the namespace. */
export async function createPeering(
  transport: transports.Transport,
  namespace: string,
  name = "default",
): Promise<void> {
  await api.createObject(transport, KOPF_PEERINGS, { metadata: { name } }, { namespace });
}

/** The peering object's status: identity → entry. */
export async function peeringStatus(
  transport: transports.Transport,
  namespace: string,
  name = "default",
): Promise<Record<string, { priority?: number; lifetime?: number; lastseen?: string }>> {
  const object = await api.getObject(transport, KOPF_PEERINGS, name, { namespace });
  return ((object as { status?: unknown }).status ?? {}) as Record<string, never>;
}

/** A free port on 127.0.0.1 (taken and released at once). */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}

/** The parts of the liveness report (lib/kits/probing.ts) that the tests read. */
export interface LivenessReport {
  status?: string;
  unhealthy?: string[];
  watchers?: Record<
    string,
    { healthy?: boolean; phase?: string; reconnects?: number; errors?: number; lastError?: string }
  >;
}

/** An operator process. */
export interface OperatorProcess {
  readonly ident: string;
  readonly pid: number;
  /** Everything it printed so far. */
  log(): string;
  /** The liveness report's `peering` part, or undefined while it does not answer. */
  peering(): Promise<
    { state?: string; pausedBy?: string[]; reasons?: string[]; mode?: string } | undefined
  >;
  /** The liveness endpoint's status code and JSON report, or undefined while it does not answer. */
  liveness(): Promise<{ status: number; report: LivenessReport } | undefined>;
  kill(signal: Deno.Signal): void;
  /** SIGTERM, then SIGKILL after 30 s; resolves with the exit code. */
  stop(): Promise<number>;
  readonly status: Promise<Deno.CommandStatus>;
}

function spawn(
  command: string,
  args: string[],
  env: Record<string, string>,
  ident: string,
  livenessPort: number | undefined,
): OperatorProcess {
  const child = new Deno.Command(command, {
    args,
    env: { ...Deno.env.toObject(), NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (text += chunk) }),
    ).catch(() => {});
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const status = child.status.then(async (s) => {
    await collected;
    return s;
  });
  return {
    ident,
    pid: child.pid,
    log: () => text,
    async peering() {
      if (livenessPort === undefined) return undefined;
      try {
        const response = await fetch(`http://127.0.0.1:${livenessPort}/healthz`);
        const report = await response.json();
        return report.peering;
      } catch {
        return undefined;
      }
    },
    async liveness() {
      if (livenessPort === undefined) return undefined;
      try {
        const response = await fetch(`http://127.0.0.1:${livenessPort}/healthz`, {
          signal: AbortSignal.timeout(2_000),
        });
        return { status: response.status, report: await response.json() };
      } catch {
        return undefined;
      }
    },
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 30_000);
      const s = await status;
      clearTimeout(timer);
      return s.code;
    },
    status,
  };
}

/** Our operator: `deno run -A cli.ts run <handlers> -n <namespace> <args>`. */
export function startOurs(options: {
  kubeconfigPath: string;
  namespace: string;
  invocations: string;
  ident: string;
  args?: string[];
  env?: Record<string, string>;
  /** The handler module to run. @default {DENO_HANDLERS} */
  handlers?: string;
}): OperatorProcess {
  const port = freePort();
  return spawn(
    Deno.execPath(),
    [
      "run",
      "-A",
      CLI,
      "run",
      "--log-format",
      "plain",
      "-n",
      options.namespace,
      "--liveness",
      `http://127.0.0.1:${port}/healthz`,
      ...(options.args ?? []),
      options.handlers ?? DENO_HANDLERS,
    ],
    {
      KUBECONFIG: options.kubeconfigPath,
      KOPF_TEST_INVOCATIONS: options.invocations,
      KOPF_TEST_IDENT: options.ident,
      POD_ID: options.ident,
      ...options.env,
    },
    options.ident,
    port,
  );
}

/** The path of Kopf 1.45.2's `kopf` command, installing it on first use. */
export async function kopfExecutable(): Promise<string> {
  const output = await new Deno.Command("bash", { args: [VENV_SCRIPT], stderr: "inherit" })
    .output();
  if (!output.success) throw new Error(`${VENV_SCRIPT} failed with code ${output.code}`);
  return new TextDecoder().decode(output.stdout).trim().split("\n").pop()!;
}

/** Python Kopf: `kopf run -n <namespace> <args> peering_kopf.py`. */
export async function startKopf(options: {
  kubeconfigPath: string;
  namespace: string;
  invocations: string;
  ident: string;
  args?: string[];
}): Promise<OperatorProcess> {
  return spawn(
    await kopfExecutable(),
    [
      "run",
      "-n",
      options.namespace,
      ...(options.args ?? []),
      KOPF_HANDLERS,
    ],
    {
      KUBECONFIG: options.kubeconfigPath,
      KOPF_TEST_INVOCATIONS: options.invocations,
      KOPF_TEST_IDENT: options.ident,
      POD_ID: options.ident,
    },
    options.ident,
    undefined,
  );
}

/** Whether python3 with venv is there to run Kopf (else the interop tests are skipped). */
export const pythonAvailable: boolean = (() => {
  try {
    return new Deno.Command("python3", { args: ["-c", "import venv"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();
