// The operator under chaos as processes: `kopf run bench/chaos/handlers.ts` per replica, its
// output in a log file of its own, a liveness endpoint whose JSON gives the watchers' relists and
// reconnects and the peering state, SIGKILL and restart on demand, and a restart (counted as a
// finding) when it exits unasked. Called by the faults and bench/chaos/run.ts.

import * as sampling from "../driver/sampling.ts";
import * as plane from "./plane.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const CLI = `${REPO}cli.ts`;
const HANDLERS = new URL("./handlers.ts", import.meta.url).pathname;
const STOP_TIMEOUT_MS = 15_000;
const RESTART_AFTER_UNASKED_EXIT_MS = 1_000;
const LIVENESS_TIMEOUT_MS = 2_000;
/** The Lease of `--peering lease:NAME` in the namespace. */
export const LEASE_NAME = "kopf-chaos";

/** One process of a replica, as the report lists it. */
export interface ProcessRecord {
  readonly pid: number;
  readonly spawnedAt: number;
  exitedAt?: number;
  code?: number;
  signal?: string | null;
  /** The driver killed or stopped it; otherwise its exit is a finding. */
  asked: boolean;
}

/** What the liveness JSON says, reduced to the figures the run keeps. */
export interface Liveness {
  readonly at: number;
  readonly status: string;
  /** Summed over the process's watchers. */
  readonly relists: number;
  readonly reconnects: number;
  readonly errors: number;
  /** `active`, `paused`, `starting`, or undefined without peering. */
  readonly peeringState: string | undefined;
}

/** An exit nobody asked for. */
export interface UnaskedExit {
  readonly ident: string;
  readonly pid: number;
  readonly at: number;
  readonly code: number;
  readonly signal: string | null;
  readonly logTail: string;
}

/** How to run the replicas. */
export interface ReplicaOptions {
  readonly invocationsPath: string;
  readonly logDir: string;
  /** `lease` for 2 replicas (leader election), `standalone` for one. */
  readonly peering: "lease" | "standalone";
  readonly leaseTimings: readonly [number, number, number];
  readonly handlerMs: number;
  readonly onUnaskedExit: (exit: UnaskedExit) => void;
}

interface Current {
  readonly record: ProcessRecord;
  readonly child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  /** The last liveness report of this process. */
  last: Liveness | undefined;
  /** Each watcher's counters as last seen (a watcher that is replaced starts from 0 again). */
  readonly seen: Map<string, { relists: number; reconnects: number; errors: number }>;
}

/** Watch restarts, summed over watchers, and the times the replica stopped being active. */
export interface WatchCounters {
  relists: number;
  reconnects: number;
  errors: number;
  /** Active → paused or starting within one process (with a Lease: leadership lost). */
  pauses: number;
}

/** One replica: a stable identity ($POD_ID), kubeconfig, proxy and liveness port. */
export class Replica {
  readonly processes: ProcessRecord[] = [];
  readonly logPath: string;
  readonly livenessPort: number;
  #current: Current | undefined;
  /** Watch restarts of all processes so far, as probed: they only ever grow. */
  readonly #totals: WatchCounters = { relists: 0, reconnects: 0, errors: 0, pauses: 0 };
  #stopped = false;

  constructor(
    readonly ident: string,
    readonly kubeconfigPath: string,
    readonly options: ReplicaOptions,
  ) {
    this.logPath = `${options.logDir}/${ident}.log`;
    this.livenessPort = freePort();
  }

  /** The PID of the running process, if any. */
  get pid(): number | undefined {
    return this.#current?.record.pid;
  }

  /** Starts a process (if none runs); resolves at once, not when it serves. */
  start(): void {
    if (this.#current) return;
    this.#stopped = false;
    const peering = this.options.peering === "lease"
      ? ["--peering", `lease:${LEASE_NAME}`]
      : ["--standalone"];
    const args = [
      "run",
      "-A",
      CLI,
      "run",
      "-n",
      plane.NAMESPACE,
      "--liveness",
      `http://127.0.0.1:${this.livenessPort}/healthz`,
      ...peering,
      HANDLERS,
    ];
    const spawnedAt = Date.now();
    // `sh` execs Deno, so the PID is the operator's own; its output goes to the log file, so a
    // busy operator never waits for the driver to read a pipe.
    const child = new Deno.Command("sh", {
      args: ["-c", 'exec "$@" >>"$0" 2>&1', this.logPath, Deno.execPath(), ...args],
      cwd: REPO,
      env: {
        KUBECONFIG: this.kubeconfigPath,
        POD_ID: this.ident,
        CHAOS_INVOCATIONS: this.options.invocationsPath,
        CHAOS_HANDLER_MS: String(this.options.handlerMs),
        CHAOS_LEASE: this.options.leaseTimings.join(","),
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const record: ProcessRecord = { pid: child.pid, spawnedAt, asked: false };
    this.processes.push(record);
    const current: Current = {
      record,
      child,
      status: child.status,
      last: undefined,
      seen: new Map(),
    };
    this.#current = current;
    current.status.then(async (status) => {
      record.exitedAt = Date.now();
      record.code = status.code;
      record.signal = status.signal;
      if (this.#current === current) this.#current = undefined;
      if (record.asked || this.#stopped) return;
      this.options.onUnaskedExit({
        ident: this.ident,
        pid: record.pid,
        at: record.exitedAt,
        code: status.code,
        signal: status.signal,
        logTail: await tail(this.logPath, 20),
      });
      await new Promise((resolve) => setTimeout(resolve, RESTART_AFTER_UNASKED_EXIT_MS));
      if (!this.#stopped) this.start();
    });
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill(): Promise<ProcessRecord | undefined> {
    const current = this.#current;
    if (!current) return undefined;
    current.record.asked = true;
    try {
      current.child.kill("SIGKILL");
    } catch {
      // gone meanwhile
    }
    await current.status;
    return current.record;
  }

  /** SIGTERM, SIGKILL after 15 s; no restart. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const current = this.#current;
    if (!current) return;
    current.record.asked = true;
    try {
      current.child.kill("SIGTERM");
    } catch {
      // gone
    }
    const timer = setTimeout(() => {
      try {
        current.child.kill("SIGKILL");
      } catch {
        // gone
      }
    }, STOP_TIMEOUT_MS);
    await current.status;
    clearTimeout(timer);
  }

  /** Asks the liveness endpoint; undefined while it does not answer (starting, killed). */
  async probe(): Promise<Liveness | undefined> {
    const current = this.#current;
    if (!current) return undefined;
    try {
      const response = await fetch(`http://127.0.0.1:${this.livenessPort}/healthz`, {
        signal: AbortSignal.timeout(LIVENESS_TIMEOUT_MS),
      });
      const report = await response.json() as {
        status?: string;
        watchers?: Record<string, { relists?: number; reconnects?: number; errors?: number }>;
        peering?: { state?: string };
      };
      const watchers = Object.entries(report.watchers ?? {});
      const sum = (key: "relists" | "reconnects" | "errors") =>
        watchers.reduce((total, [, w]) => total + (w[key] ?? 0), 0);
      const liveness: Liveness = {
        at: Date.now(),
        status: report.status ?? "unknown",
        relists: sum("relists"),
        reconnects: sum("reconnects"),
        errors: sum("errors"),
        peeringState: report.peering?.state,
      };
      if (this.#current !== current) return liveness;
      if (current.last?.peeringState === "active" && liveness.peeringState !== "active") {
        this.#totals.pauses++;
      }
      current.last = liveness;
      for (const [key, w] of watchers) {
        const now = {
          relists: w.relists ?? 0,
          reconnects: w.reconnects ?? 0,
          errors: w.errors ?? 0,
        };
        const before = current.seen.get(key) ?? { relists: 0, reconnects: 0, errors: 0 };
        for (const name of ["relists", "reconnects", "errors"] as const) {
          // Smaller than before: a new watcher under the same key, counting from 0.
          this.#totals[name] += now[name] >= before[name] ? now[name] - before[name] : now[name];
        }
        current.seen.set(key, now);
      }
      return liveness;
    } catch {
      return undefined;
    }
  }

  /** The peering state as last probed. */
  get peeringState(): string | undefined {
    return this.#current?.last?.peeringState;
  }

  /**
   * Relists, reconnects and watch errors of every process so far, as probed (each second):
   * summed over the watchers, a watcher replaced under the same key counted from its 0.
   */
  watchCounters(): WatchCounters {
    return { ...this.#totals };
  }

  /** VmRSS of the running process in bytes. */
  rssBytes(): number | undefined {
    const pid = this.pid;
    return pid === undefined ? undefined : sampling.treeRssBytes(pid);
  }
}

/** Fills Deno's module cache for the operator once, so no start pays for downloads. */
export async function prepare(): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["cache", CLI, HANDLERS],
    cwd: REPO,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `Cannot cache the operator's modules: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

async function tail(path: string, lines: number): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** The counters of all replicas, summed. */
export function sum(replicas: readonly Replica[]): WatchCounters {
  const total: WatchCounters = { relists: 0, reconnects: 0, errors: 0, pauses: 0 };
  for (const replica of replicas) {
    const c = replica.watchCounters();
    total.relists += c.relists;
    total.reconnects += c.reconnects;
    total.errors += c.errors;
    total.pauses += c.pauses;
  }
  return total;
}
