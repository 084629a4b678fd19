// Exec credential plugins (`client.authentication.k8s.io/v1` and `v1beta1`): validates the
// `exec` block of a kubeconfig user, runs the plugin, parses its ExecCredential and caches it
// until it expires or the server answers 401. Called by kubeconfig.ts; never runs a plugin
// interactively and never repeats what a plugin printed on stdout (it holds the token).

import * as clock from "../async/clock.ts";
import type * as connections from "./connections.ts";
import * as sections from "./_sections.ts";
import * as credentials from "./credentials.ts";
import * as errors from "./errors.ts";

/** The ExecCredential versions we speak; v1alpha1 was removed from client-go in 1.24. */
export const EXEC_API_VERSIONS = [
  "client.authentication.k8s.io/v1",
  "client.authentication.k8s.io/v1beta1",
] as const;

/** One of {@link EXEC_API_VERSIONS}. */
export type ExecApiVersion = typeof EXEC_API_VERSIONS[number];

/** Credentials are re-fetched this long before their `expirationTimestamp`. */
export const EXEC_EXPIRY_MARGIN_SECONDS = 10;

/** How many trailing lines of a failed plugin's stderr go into the error message. */
const STDERR_TAIL_LINES = 2;
const STDERR_TAIL_CHARS = 400;

/** The validated `users[].user.exec` block. */
export interface ExecConfig {
  readonly apiVersion: ExecApiVersion;
  /** An absolute path when the kubeconfig gave a relative one with a `/`, else a name on PATH. */
  readonly command: string;
  readonly args: readonly string[];
  /** The `env` entries, added to the operator's own environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly installHint?: string;
  readonly provideClusterInfo: boolean;
  readonly interactiveMode?: "Never" | "IfAvailable";
}

/** `spec.cluster` of the ExecCredential, sent when `provideClusterInfo` is true. */
export interface ExecCluster {
  readonly server: string;
  readonly "tls-server-name"?: string;
  readonly "insecure-skip-tls-verify"?: boolean;
  /** Base64 of the CA PEM, as client-go marshals its `[]byte`. */
  readonly "certificate-authority-data"?: string;
  readonly "proxy-url"?: string;
  readonly "disable-compression"?: boolean;
  /** The cluster's `client.authentication.k8s.io/exec` extension. */
  readonly config?: unknown;
}

/**
 * Validates an `exec` block. `directory` is that of the kubeconfig file that defined the
 * user: a relative command containing a `/` is resolved against it, as client-go does.
 */
export function parseExecConfig(exec: sections.Section, directory: string): ExecConfig {
  const apiVersion = exec.string("apiVersion");
  if (apiVersion === undefined) throw sections.fieldError(exec.at("apiVersion"), "is not set");
  if (!(EXEC_API_VERSIONS as readonly string[]).includes(apiVersion)) {
    throw sections.fieldError(
      exec.at("apiVersion"),
      `"${apiVersion}" is not supported; use ${EXEC_API_VERSIONS.join(" or ")}`,
    );
  }
  let command = exec.string("command");
  if (command === undefined) throw sections.fieldError(exec.at("command"), "is not set");
  if (command.includes("/") && !command.startsWith("/")) command = `${directory}/${command}`;
  const args = exec.list("args").map((arg, i) => {
    if (typeof arg !== "string") {
      throw sections.fieldError(exec.at(`args[${i}]`), "is not a string");
    }
    return arg;
  });
  const env: Record<string, string> = {};
  exec.list("env").forEach((entry, i) => {
    const at = exec.at(`env[${i}]`);
    if (!sections.isMapping(entry)) throw sections.fieldError(at, "is not a mapping");
    const variable = new sections.Section(exec.file, at.field, entry);
    const name = variable.string("name");
    if (name === undefined) throw sections.fieldError(variable.at("name"), "is not set");
    env[name] = variable.string("value") ?? "";
  });
  const interactiveMode = exec.string("interactiveMode");
  if (interactiveMode === undefined && apiVersion === "client.authentication.k8s.io/v1") {
    throw sections.fieldError(
      exec.at("interactiveMode"),
      `is not set, but ${apiVersion} requires it; use "Never" or "IfAvailable"`,
    );
  }
  if (interactiveMode === "Always") {
    throw sections.fieldError(
      exec.at("interactiveMode"),
      `is "Always", but an operator never runs plugins interactively; use "Never" or "IfAvailable"`,
    );
  }
  if (
    interactiveMode !== undefined && interactiveMode !== "Never" &&
    interactiveMode !== "IfAvailable"
  ) {
    throw sections.fieldError(
      exec.at("interactiveMode"),
      `"${interactiveMode}" is not one of "Never", "IfAvailable", "Always"`,
    );
  }
  const installHint = exec.string("installHint");
  return {
    apiVersion: apiVersion as ExecApiVersion,
    command,
    args,
    env,
    provideClusterInfo: exec.boolean("provideClusterInfo") ?? false,
    ...(installHint === undefined ? {} : { installHint }),
    ...(interactiveMode === undefined ? {} : { interactiveMode }),
  };
}

/** Options of {@link ExecPluginAuthenticator}. */
export interface ExecPluginOptions {
  /** The kubeconfig file that defined the user, for messages. */
  readonly file: string;
  /** The user's name in that file, for messages. */
  readonly user: string;
  /** Sent as `spec.cluster` when the config asks for `provideClusterInfo`. */
  readonly cluster?: ExecCluster;
  /** The clock that `expirationTimestamp` is compared with. @default realClock */
  readonly clock?: clock.Clock;
  /** Credentials are renewed this long before they expire. @default {10} */
  readonly expiryMarginSeconds?: number;
}

interface Cached {
  readonly credentials: connections.Credentials;
  /** Milliseconds since the epoch, or undefined: valid until the next 401. */
  readonly expiresAt: number | undefined;
}

/**
 * Credentials from an exec plugin. Runs it on first use, caches the result until shortly
 * before `expirationTimestamp` (or, without one, until a 401), and runs it again after a 401
 * unless another request already brought newer credentials. Concurrent callers share one run.
 */
export class ExecPluginAuthenticator implements connections.Authenticator {
  readonly config: ExecConfig;
  readonly #options: ExecPluginOptions;
  readonly #clock: clock.Clock;
  readonly #marginMs: number;
  #cached: Cached | undefined;
  #running: Promise<Cached> | undefined;

  constructor(config: ExecConfig, options: ExecPluginOptions) {
    this.config = config;
    this.#options = options;
    this.#clock = options.clock ?? clock.realClock;
    this.#marginMs = (options.expiryMarginSeconds ?? EXEC_EXPIRY_MARGIN_SECONDS) * 1000;
  }

  /** The cached credentials while they are fresh, else those of a new run of the plugin. */
  async credentials(signal?: AbortSignal): Promise<connections.Credentials> {
    const cached = this.#cached;
    if (
      cached &&
      (cached.expiresAt === undefined || this.#clock.now() < cached.expiresAt - this.#marginMs)
    ) {
      return cached.credentials;
    }
    return (await waitFor(this.#run(), signal)).credentials;
  }

  /**
   * After a 401: true at once when newer credentials than `used` are cached; else runs the
   * plugin again and says whether it gave different credentials. Rejects when the plugin fails.
   */
  async refresh(used: connections.Credentials, signal?: AbortSignal): Promise<boolean> {
    const cached = this.#cached;
    if (cached && !credentials.sameCredentials(cached.credentials, used)) return true;
    this.#cached = undefined;
    const fresh = await waitFor(this.#run(), signal);
    return !credentials.sameCredentials(fresh.credentials, used);
  }

  toString(): string {
    return `exec plugin "${this.config.command}"`;
  }

  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }

  /** One run shared by all callers: a caller that gives up does not cancel it for the others. */
  #run(): Promise<Cached> {
    this.#running ??= this.#execute().then(
      (cached) => {
        this.#cached = cached;
        return cached;
      },
    ).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #execute(): Promise<Cached> {
    const { config } = this;
    const spec = {
      interactive: false,
      ...(config.provideClusterInfo && this.#options.cluster
        ? { cluster: this.#options.cluster }
        : {}),
    };
    const info = { apiVersion: config.apiVersion, kind: "ExecCredential", spec };
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command(config.command, {
        args: [...config.args],
        // Added to the inherited environment (clearEnv is false), as client-go does.
        env: { ...config.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        const hint = config.installHint ? `; ${config.installHint}` : "";
        throw this.#error(`the command was not found${hint}`, error);
      }
      if (error instanceof Deno.errors.NotCapable) {
        throw this.#error("Deno has no --allow-run permission for it", error);
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        throw this.#error("the command is not executable", error);
      }
      throw this.#error(sections.describeReadError(error), error);
    }
    if (!output.success) {
      const how = output.signal
        ? `was killed by ${output.signal}`
        : `exited with code ${output.code}`;
      const tail = stderrTail(output.stderr);
      throw this.#error(tail ? `it ${how}: ${tail}` : `it ${how} and printed nothing on stderr`);
    }
    return this.#parse(new TextDecoder().decode(output.stdout));
  }

  #parse(stdout: string): Cached {
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch {
      throw this.#error("it printed something that is not JSON");
    }
    if (!sections.isMapping(parsed)) {
      throw this.#error("it printed JSON that is not an ExecCredential");
    }
    if (parsed.apiVersion !== this.config.apiVersion || parsed.kind !== "ExecCredential") {
      const kind = JSON.stringify(parsed.kind);
      const apiVersion = JSON.stringify(parsed.apiVersion);
      throw this.#error(
        `it printed kind ${kind} of apiVersion ${apiVersion}, ` +
          `expected ExecCredential of "${this.config.apiVersion}"`,
      );
    }
    const status = sections.isMapping(parsed.status) ? parsed.status : {};
    const text = (key: string) => {
      const value = status[key];
      if (value !== undefined && value !== null && typeof value !== "string") {
        throw this.#error(`its status.${key} is not a string`);
      }
      return value || undefined;
    };
    const token = text("token");
    const cert = text("clientCertificateData");
    const key = text("clientKeyData");
    const expiration = text("expirationTimestamp");
    if ((cert === undefined) !== (key === undefined)) {
      throw this.#error("its status has only one of clientCertificateData and clientKeyData");
    }
    if (token === undefined && cert === undefined) {
      throw this.#error("its status has neither token nor clientCertificateData and clientKeyData");
    }
    const expiresAt = expiration === undefined ? undefined : Date.parse(expiration);
    if (expiresAt !== undefined && Number.isNaN(expiresAt)) {
      throw this.#error(`its status.expirationTimestamp "${expiration}" is not an RFC 3339 time`);
    }
    return {
      credentials: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(cert === undefined || key === undefined ? {} : { clientCertificate: { cert, key } }),
      },
      expiresAt,
    };
  }

  #error(problem: string, cause?: unknown): errors.CredentialsError {
    const { file, user } = this.#options;
    const message = `Cannot get credentials from exec plugin "${this.config.command}" ` +
      `of user "${user}" in kubeconfig "${file}": ${problem}`;
    return new errors.CredentialsError(
      message.replace(/\s*\n\s*/g, " ").trim(),
      cause === undefined ? undefined : { cause },
    );
  }
}

/** Waits for `promise`, or rejects with the signal's reason once the caller gives up. */
function waitFor<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The last non-empty lines of stderr, joined, trimmed to a readable length. */
function stderrTail(stderr: Uint8Array): string {
  const lines = new TextDecoder().decode(stderr).split("\n").map((l) => l.trim()).filter((l) => l);
  const tail = lines.slice(-STDERR_TAIL_LINES).join(" / ");
  return tail.length > STDERR_TAIL_CHARS ? `…${tail.slice(-STDERR_TAIL_CHARS)}` : tail;
}
