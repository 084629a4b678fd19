// The three benchmarked operators: how each is prepared (Python Kopf by tools/kopf/venv.sh, the
// Go operator by its build.sh), started (one process, output to a log file) and stopped (SIGTERM,
// then SIGKILL), and which User-Agent its requests carry. Called by bench/run.ts and the
// scenarios; it knows nothing of what is measured.

import type * as options from "./options.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const KOPF_VERSION = "1.45.2";
const STOP_TIMEOUT_MS = 10_000;

/** The behaviour variants of bench/operators/BEHAVIOUR.md. */
export type Variant = "create" | "delete" | "three" | "update";

/** A prepared operator: how to start it and how to recognise its requests. */
export interface Operator {
  readonly name: options.OperatorName;
  /** For the table: "ours", "Kopf", "controller-runtime". */
  readonly label: string;
  /** What its requests' User-Agent starts with. */
  readonly userAgentPrefix: string;
  /** Versions of what it runs on, for the results. */
  readonly versions: Record<string, string>;
  /** The command for one namespace (before the shared environment is added). */
  command(namespace: string): { cmd: string; args: string[] };
}

/** A running operator process. */
export interface Running {
  readonly pid: number;
  /** Epoch ms just before the spawn. */
  readonly spawnedAt: number;
  readonly logPath: string;
  /** Resolves with the exit status once the process ended. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Whether `stop()` was called: an exit is then expected. */
  readonly stopping: boolean;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. Idempotent. */
  stop(): Promise<{ code: number; killed: boolean; stopSeconds: number }>;
}

/** The instances started and not yet stopped, for `stopAll()` on an interrupt. */
const live = new Set<Running>();

/** Stops every operator still running (when the driver is interrupted). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((running) => running.stop()));
}

/** Prepares one operator, or says in one line why it is skipped. */
export async function prepare(
  name: options.OperatorName,
  log: (line: string) => void,
  settings: { denoV8Flags?: string | undefined } = {},
): Promise<Operator | string> {
  switch (name) {
    case "deno":
      return await prepareDeno(settings.denoV8Flags);
    case "kopf":
      return await prepareKopf(log);
    case "go":
      return await prepareGo(log);
  }
}

async function prepareDeno(v8Flags: string | undefined): Promise<Operator> {
  const handlers = `${REPO}bench/operators/deno/handlers.ts`;
  // Fill the module cache once, so no start pays for downloads.
  await run(Deno.execPath(), ["cache", `${REPO}cli.ts`, handlers]);
  return {
    name: "deno",
    label: "ours",
    userAgentPrefix: "kopf-deno",
    versions: {
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      kopfDeno: await ourVersion(),
      ...(v8Flags ? { v8Flags } : {}),
    },
    command: (namespace) => ({
      cmd: Deno.execPath(),
      args: [
        "run",
        ...(v8Flags ? [`--v8-flags=${v8Flags.split(/\s+/).join(",")}`] : []),
        "-A",
        `${REPO}cli.ts`,
        "run",
        handlers,
        "-n",
        namespace,
      ],
    }),
  };
}

async function ourVersion(): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(`${REPO}deno.json`)) as { version?: string };
  return config.version ?? "unknown";
}

async function prepareKopf(log: (line: string) => void): Promise<Operator | string> {
  // The one venv of Python Kopf that the interoperability tests share: made once, with a lock.
  log(`kopf: Kopf ${KOPF_VERSION} from tools/kopf/venv.sh`);
  let kopf: string;
  try {
    const output = await run("bash", [`${REPO}tools/kopf/venv.sh`], {
      KOPF_PEER_VERSION: KOPF_VERSION,
    });
    kopf = output.trim().split("\n").pop()?.trim() ?? "";
  } catch (error) {
    return `Kopf ${KOPF_VERSION} cannot be installed by tools/kopf/venv.sh: ${messageOf(error)}`;
  }
  if (!kopf || !await exists(kopf)) {
    return `tools/kopf/venv.sh printed no kopf executable (got "${kopf}"): skipped`;
  }
  const python = `${kopf.slice(0, kopf.lastIndexOf("/"))}/python`;
  const versions = JSON.parse(
    await run(python, [
      "-c",
      "import json, platform, importlib.metadata as m; print(json.dumps({'python': platform.python_version(), 'kopf': m.version('kopf'), 'aiohttp': m.version('aiohttp')}))",
    ]),
  ) as Record<string, string>;
  return {
    name: "kopf",
    label: "Kopf",
    userAgentPrefix: `kopf/`,
    versions,
    command: (namespace) => ({
      cmd: kopf,
      args: [
        "run",
        "--standalone",
        "-n",
        namespace,
        `${REPO}bench/operators/kopf/handlers.py`,
      ],
    }),
  };
}

async function prepareGo(log: (line: string) => void): Promise<Operator | string> {
  const script = `${REPO}bench/operators/go/build.sh`;
  if (!await exists(script)) {
    return "The Go operator is not there yet (bench/operators/go/build.sh is missing): skipped";
  }
  log("go: building the controller-runtime operator (bench/operators/go/build.sh)");
  let binary: string;
  try {
    const output = await run("bash", [script]);
    binary = output.trim().split("\n").pop()?.trim() ?? "";
  } catch (error) {
    return `The Go operator does not build: ${messageOf(error)}`;
  }
  if (!binary || !await exists(binary)) {
    return `The Go operator's build.sh printed no binary path (got "${binary}"): skipped`;
  }
  const goMod = await Deno.readTextFile(`${REPO}bench/operators/go/go.mod`);
  const moduleVersion = (path: string) =>
    new RegExp(`^\\s*${path.replaceAll(".", "\\.")}\\s+(v\\S+)`, "m").exec(goMod)?.[1] ??
      "unknown";
  const goVersion = await run("go", ["version"]).catch(() => "unknown");
  return {
    name: "go",
    label: "controller-runtime",
    userAgentPrefix: `${binary.split("/").pop()}/`,
    versions: {
      go: /go(\d[\w.]*)/.exec(goVersion)?.[1] ?? goVersion.trim(),
      controllerRuntime: moduleVersion("sigs.k8s.io/controller-runtime"),
      clientGo: moduleVersion("k8s.io/client-go"),
    },
    command: () => ({ cmd: binary, args: [] }),
  };
}

/**
 * Starts the operator for one namespace and variant. Its output goes to `logPath` (a file, so a
 * busy operator never waits for the driver to read a pipe); `sh` execs it, so the PID is the
 * operator's own.
 */
export function start(
  operator: Operator,
  options: { namespace: string; variant: Variant; kubeconfigPath: string; logPath: string },
): Running {
  const { cmd, args } = operator.command(options.namespace);
  const spawnedAt = Date.now();
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec "$@" >>"$0" 2>&1', options.logPath, cmd, ...args],
    cwd: REPO,
    env: {
      BENCH_VARIANT: options.variant,
      BENCH_NAMESPACE: options.namespace,
      KUBECONFIG: options.kubeconfigPath,
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const status = child.status;
  let stopped: Promise<{ code: number; killed: boolean; stopSeconds: number }> | undefined;
  const stop = async () => {
    const began = performance.now();
    let killed = false;
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
    });
    const first = await Promise.race([status, timeout]);
    clearTimeout(timer);
    if (first === "timeout") {
      killed = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    const final = await status;
    return { code: final.code, killed, stopSeconds: (performance.now() - began) / 1000 };
  };
  const running: Running = {
    pid: child.pid,
    spawnedAt,
    logPath: options.logPath,
    status,
    get stopping() {
      return stopped !== undefined;
    },
    stop: () => stopped ??= stop(),
  };
  live.add(running);
  status.finally(() => live.delete(running));
  return running;
}

/** Runs a command to completion; its stdout, or an error with the end of its stderr. */
export async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const output = await new Deno.Command(cmd, { args, cwd: REPO, env, stdin: "null" }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  if (!output.success) {
    const stderr = new TextDecoder().decode(output.stderr).trim().split("\n").slice(-5).join(" | ");
    throw new Error(`${cmd} ${args.join(" ")} exited with ${output.code}: ${stderr}`);
  }
  return stdout;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
