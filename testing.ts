/**
 * Test helpers for operator authors: run an operator in-process and wait for outcomes.
 *
 * `KopfRunner` runs `kopf run` in the test's own process, as Kopf's `KopfRunner` does: with
 * the arguments of the command line (or a registry and namespaces), its log lines captured,
 * its API requests recorded, and waiting done on the operator's own progress instead of
 * sleeps. `FakeClock` moves the framework's timers by hand.
 *
 * @example An operator under test against a cluster
 * ```ts ignore
 * import { equal, ok } from "node:assert/strict";
 * import { KopfRunner } from "./testing.ts";
 *
 * Deno.test("the operator greets new examples", async () => {
 *   await using runner = new KopfRunner(["run", "-n", "default", "handlers.ts"]);
 *   await runner.start();
 *   // … create a KopfExample with kubectl or the API …
 *   await runner.waitFor(() => runner.logs.some((line) => line.includes("Greeting")));
 *   equal(await runner.stop(), 0);
 *   ok(runner.requests.some((r) => r.verb === "patch merge /status"));
 * });
 * ```
 *
 * @module
 */

import * as cli from "./cli.ts";
import type * as clocks from "./lib/async/clock.ts";
import * as logging from "./lib/engines/logging.ts";
import * as transports from "./lib/k8s/transport.ts";
import type * as running from "./lib/reactor/running.ts";
import type * as registries from "./lib/registry/registries.ts";
import type * as operatorSettings from "./lib/settings/operator.ts";

export { FakeClock } from "./lib/async/clock.ts";
export type { Clock } from "./lib/async/clock.ts";

/**
 * An API request the operator made, named as the API server's audit log names verbs.
 *
 * @example Counting the writes to one object
 * ```ts ignore
 * const writes = runner.requests.filter((r) =>
 *   r.path.endsWith("/kopfexamples/example-1") && r.verb.startsWith("patch")
 * );
 * ```
 */
export interface ApiRequest {
  /** `list`, `watch`, `get`, `create`, `update`, `delete`, `discovery`, `patch merge`,
   * `patch json`, or either patch with ` /status`. */
  readonly verb: string;
  /** `GET`, `POST`, `PATCH`, … */
  readonly method: string;
  /** The URL's path, without the query. */
  readonly path: string;
  /** The response's status code. */
  readonly status: number;
}

/**
 * How a `KopfRunner` runs the operator: the cluster, the registry, and (without arguments)
 * the namespaces.
 *
 * @example A runner of a test's own registry against a test cluster
 * ```ts ignore
 * const runner = new KopfRunner({ registry, namespaces: ["test-*"], kubeconfig: "kind.yaml" });
 * ```
 */
export interface KopfRunnerOptions {
  /** The handlers to serve; the paths' and modules' handlers register into it. */
  registry?: registries.OperatorRegistry;
  /** The operator's settings. @default {defaultSettings()} */
  settings?: operatorSettings.OperatorSettings;
  /** Namespace patterns, without arguments: as `-n` each. */
  namespaces?: string[];
  /** Without arguments: as `-A`. */
  clusterwide?: boolean;
  /** The kubeconfig file of the cluster. @default {KUBECONFIG, in-cluster, ~/.kube/config} */
  kubeconfig?: string;
  /** The `KOPF_RUN_*` variables. @default {the process environment} */
  env?: Readonly<Record<string, string>>;
  /** The clock of the operator's timers and of the liveness staleness. @default {realClock} */
  clock?: clocks.Clock;
  /** The default of `start()`, `waitFor()` and `stop()`. @default {30} */
  timeoutSeconds?: number;
}

/**
 * Options of `KopfRunner.waitFor()` and `start()`.
 *
 * @example
 * ```ts ignore
 * await runner.waitFor(() => runner.processed > 3, { timeoutSeconds: 5, what: "4 events" });
 * ```
 */
export interface WaitOptions {
  /** How long to wait. @default {the runner's timeoutSeconds} */
  timeoutSeconds?: number;
  /** What is awaited, for the failure message. */
  what?: string;
}

/**
 * Runs `kopf run` in this process for a test: `start()` it, `waitFor()` what the test expects,
 * `stop()` it (or let `await using` do so), then check `exitCode`, `logs`, and `requests`.
 *
 * Files are imported afresh for each runner, so their handlers register into this runner's
 * registry even if an earlier test imported them. Logging and the default registry are
 * process-wide: run one runner at a time (`deno test` runs the tests of a file one by one).
 *
 * @example Checking how a bad invocation fails, without a cluster
 * ```ts
 * import { equal, match } from "node:assert/strict";
 * import { KopfRunner } from "./testing.ts";
 *
 * const runner = new KopfRunner(["run", "-n", "default", "-A", "handlers.ts"]);
 * await runner.start();
 * equal(runner.exitCode, 2);
 * match(runner.logs[0] ?? "", /Either -n\/--namespace or -A\/--all-namespaces/);
 * ```
 *
 * @example Serving a registry built in the test
 * ```ts ignore
 * import { on, OperatorRegistry } from "./mod.ts";
 * import { KopfRunner } from "./testing.ts";
 *
 * const registry = new OperatorRegistry();
 * on.create("kopfexamples.v1.kopf.dev", { registry }, () => ({ message: "hi" }));
 * await using runner = new KopfRunner({ registry, namespaces: ["default"] });
 * await runner.start();
 * ```
 */
export class KopfRunner implements AsyncDisposable {
  /** The arguments as on the command line, starting with the command (`run`). */
  readonly args: readonly string[];
  /** Log lines and error messages, as `kopf run` would print them to stderr. */
  readonly logs: string[] = [];
  /** Help and version lines, as `kopf` would print them to stdout. */
  readonly output: string[] = [];
  /** Every request to the API server, in order. */
  readonly requests: ApiRequest[] = [];
  /** The watchers' health, as the liveness endpoint reports it. */
  readonly health: running.OperatorHealth = new Map();
  #processed = 0;
  readonly #options: KopfRunnerOptions;
  readonly #stop = new AbortController();
  readonly #waiters = new Set<() => void>();
  #done: Promise<number> | undefined;
  #exitCode: number | undefined;

  /** A runner of `args` (`["run", "-n", "ns", "handlers.ts"]`), or of the options alone. */
  constructor(args: readonly string[], options?: KopfRunnerOptions);
  /** A runner of the options alone: `run`, `-n` for each namespace or `-A`, no files. */
  constructor(options: KopfRunnerOptions);
  constructor(
    argsOrOptions: readonly string[] | KopfRunnerOptions,
    options: KopfRunnerOptions = {},
  ) {
    if (Array.isArray(argsOrOptions)) {
      this.args = [...argsOrOptions];
      this.#options = options;
    } else {
      const only = argsOrOptions as KopfRunnerOptions;
      this.#options = only;
      this.args = [
        "run",
        ...(only.clusterwide ? ["-A"] : (only.namespaces ?? []).flatMap((ns) => ["-n", ns])),
      ];
    }
  }

  /** How many watch events the operator has processed. */
  get processed(): number {
    return this.#processed;
  }

  /** The exit code once the command has ended; `undefined` while it runs. */
  get exitCode(): number | undefined {
    return this.#exitCode;
  }

  /**
   * Starts the command and resolves once the operator serves: every watcher has listed its
   * objects or reported why it cannot (e.g. RBAC forbids it; see `logs`). It also resolves if
   * the command ends first (see `exitCode`); it fails if neither
   * happens in time. For an operator with nothing to watch yet, use `waitFor()` instead.
   *
   * @example
   * ```ts ignore
   * await runner.start({ timeoutSeconds: 60 });
   * ```
   */
  async start(options: WaitOptions = {}): Promise<void> {
    if (this.#done !== undefined) throw new Error("The runner has already been started");
    const wake = () => {
      for (const waiter of this.#waiters) waiter();
    };
    this.#done = cli.main([...this.args], {
      ...(this.#options.registry ? { registry: this.#options.registry } : {}),
      ...(this.#options.settings ? { settings: this.#options.settings } : {}),
      ...(this.#options.kubeconfig ? { kubeconfig: this.#options.kubeconfig } : {}),
      ...(this.#options.env ? { env: this.#options.env } : {}),
      ...(this.#options.clock ? { clock: this.#options.clock } : {}),
      signal: this.#stop.signal,
      handleSignals: false,
      health: this.health,
      freshImports: true,
      stdout: (line) => {
        this.output.push(...line.split("\n"));
        wake();
      },
      stderr: (line) => {
        this.logs.push(line);
        wake();
      },
      onResponse: (exchange) => {
        this.requests.push(classify(exchange));
        wake();
      },
      onProcessed: () => {
        this.#processed++;
        wake();
      },
    }).then((code) => code, (error) => {
      this.logs.push(`The command failed: ${error instanceof Error ? error.stack : error}`);
      return 1;
    }).then(async (code) => {
      this.#exitCode = code;
      await logging.resetLogging();
      wake();
      return code;
    });
    await this.#wait(
      () =>
        this.#exitCode !== undefined ||
        (this.health.size > 0 &&
          [...this.health.values()].every((w) => w.syncedAt !== undefined || w.errors > 0)),
      { what: "the operator to start serving", ...options },
      false,
    );
  }

  /**
   * Resolves with the condition's value once it is truthy; checks after every log line, API
   * request and processed event, and at least every 100 ms (for conditions on the cluster).
   * Fails at the deadline, or when the operator exits first, with the last log lines.
   *
   * @example Waiting for a log line, then for an object in the cluster
   * ```ts ignore
   * await runner.waitFor(() => runner.logs.some((line) => line.includes("Greeting")));
   * const status = await runner.waitFor(async () => (await getExample()).status?.greet, {
   *   what: "the greeting in the status",
   *   timeoutSeconds: 10,
   * });
   * ```
   */
  async waitFor<T>(
    condition: () => T | Promise<T>,
    options: WaitOptions = {},
  ): Promise<NonNullable<T>> {
    if (this.#done === undefined) throw new Error("The runner is not started: call start()");
    return await this.#wait(condition, options, true);
  }

  /**
   * Stops the operator as SIGTERM would and resolves with its exit code; fails if it does not
   * end in time. Stopping an ended runner returns its exit code at once.
   *
   * @example
   * ```ts ignore
   * equal(await runner.stop(), 0);
   * ```
   */
  async stop(options: Pick<WaitOptions, "timeoutSeconds"> = {}): Promise<number> {
    if (this.#done === undefined) throw new Error("The runner is not started: call start()");
    this.#stop.abort();
    const seconds = options.timeoutSeconds ?? this.#options.timeoutSeconds ?? 30;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`The operator did not stop in ${seconds} s${this.#tail()}`)),
        seconds * 1000,
      );
    });
    try {
      return await Promise.race([this.#done, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the runner if it was started: for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#done !== undefined) await this.stop();
  }

  async #wait<T>(
    condition: () => T | Promise<T>,
    options: WaitOptions,
    failOnExit: boolean,
  ): Promise<NonNullable<T>> {
    const seconds = options.timeoutSeconds ?? this.#options.timeoutSeconds ?? 30;
    const what = options.what ?? "the condition";
    const deadline = Date.now() + seconds * 1000;
    for (;;) {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) return value;
      if (failOnExit && this.#exitCode !== undefined) {
        throw new Error(
          `The operator exited with code ${this.#exitCode} while waiting for ${what}${this.#tail()}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`Timed out after ${seconds} s waiting for ${what}${this.#tail()}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, 100));
        const waiters = this.#waiters;
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
        waiters.add(done);
      });
    }
  }

  #tail(): string {
    const last = this.logs.slice(-5);
    return last.length ? `; the last log lines:\n${last.join("\n")}` : "; nothing was logged";
  }
}

/** The request as tests count it: its audit-log verb, method, path and status. */
function classify(exchange: transports.Exchange): ApiRequest {
  const url = new URL(exchange.url);
  return {
    verb: transports.verbOf(exchange),
    method: exchange.method,
    path: url.pathname,
    status: exchange.status,
  };
}
