/**
 * The `kopf` command line: `kopf run handlers.ts [-n ns | -A] [--liveness URL] …`.
 *
 * `kopf run` imports the handler modules (files, URLs, `-m` specifiers) in order, then runs the
 * operator until SIGINT or SIGTERM. Every option can also come from an environment variable
 * `KOPF_RUN_<OPTION>`; see `kopf run --help`. Exit codes: 0 after a requested stop, 1 when the
 * operator cannot run (a module fails to load, the cluster is unreachable), 2 for usage errors.
 *
 * A compiled binary (`deno compile`) cannot import files chosen at run time, so its entry point
 * imports the handlers statically and hands the command line to `main()`: with no paths and no
 * `-m`, `kopf run` serves the handlers that are already registered. Only when nothing is
 * registered does it insist on a path or a module.
 *
 * @example A single-binary operator: `deno compile -A -o my-operator main.ts`
 * ```ts ignore
 * // main.ts; then: ./my-operator -n default --liveness http://0.0.0.0:8080/healthz
 * import "./handlers.ts";
 * import { main } from "jsr:@kopf/kopf/cli";
 * Deno.exit(await main(["run", ...Deno.args]));
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import * as indexing from "./lib/engines/indexing.ts";
import * as logging from "./lib/engines/logging.ts";
import * as kubeconfig from "./lib/k8s/kubeconfig.ts";
import * as discovery from "./lib/k8s/discovery.ts";
import * as transports from "./lib/k8s/transport.ts";
import * as args from "./lib/kits/arguments.ts";
import * as freezing from "./lib/kits/freezing.ts";
import * as rbac from "./lib/kits/rbac.ts";
import * as loading from "./lib/kits/loading.ts";
import * as probing from "./lib/kits/probing.ts";
import * as coordinating from "./lib/reactor/coordinating.ts";
import * as metricsModule from "./lib/structs/metrics.ts";
import * as running from "./lib/reactor/running.ts";
import * as registries from "./lib/registry/registries.ts";
import * as operatorSettings from "./lib/settings/operator.ts";
import * as namespaces from "./lib/structs/namespaces.ts";
import { VERSION } from "./mod.ts";

export { parseRunArgs, UsageError } from "./lib/kits/arguments.ts";
export type { RunArguments } from "./lib/kits/arguments.ts";

const log = getLogger(["kopf", "cli"]);

const HELP = `Usage: kopf <command> [options]

Kopf for Deno ${VERSION}: Kubernetes operators as a few typed handler functions.

Commands:
  run [paths|URLs...]   Run an operator from handler modules (see kopf run --help)
  rbac [paths|URLs...]  Print the least RBAC the handlers need (see kopf rbac --help)
  freeze, resume        Pause operators of a lower priority for a while, and end it
                        (see kopf freeze --help, docs/peering.md)

Options:
  -h, --help            Show this help (or kopf <command> --help)
  -V, --version         Show the version`;

/** What cannot be given on a command line: for `KopfRunner`, tests, and embedding programs. */
export interface CliControls extends
  Pick<
    running.RunOptions,
    | "registry"
    | "settings"
    | "connection"
    | "clock"
    | "signal"
    | "health"
    | "handleSignals"
    | "onResponse"
    | "onProcessed"
    | "memo"
    | "peering"
    | "identity"
    | "metrics"
  > {
  /** A kubeconfig file to connect with (instead of KUBECONFIG, in-cluster, ~/.kube/config). */
  kubeconfig?: string;
  /** The `KOPF_RUN_*` variables. @default {the process environment} */
  env?: Readonly<Record<string, string>>;
  /** Where relative paths are resolved. @default {Deno.cwd()} */
  cwd?: string;
  /** Where help and version lines go. @default {console.log} */
  stdout?: (line: string) => void;
  /** Where usage errors and log lines go. @default {console.error} */
  stderr?: (line: string) => void;
  /**
   * Import files under a fresh URL, so that files a previous run in this process imported
   * register their handlers again (into the current default registry).
   * @default {false}
   */
  freshImports?: boolean;
}

/**
 * Runs the command line with `args` and returns the exit code: 0 after a requested stop, 1 when
 * the operator cannot run, 2 for usage errors. Problems are reported as one line each.
 * `controls.registry` becomes the default registry while the command runs, so the imported
 * modules register into it.
 *
 * @example Running the command line from a script
 * ```ts ignore
 * import { main } from "./cli.ts";
 * Deno.exit(await main(["run", "-n", "default", "handlers.ts"]));
 * ```
 */
export async function main(argv: string[], controls: CliControls = {}): Promise<number> {
  const stdout = controls.stdout ?? ((line: string) => console.log(line));
  const stderr = controls.stderr ?? ((line: string) => console.error(line));
  const [command, ...rest] = argv;
  if (command === "run") return await runCommand(rest, controls, stdout, stderr);
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    stdout(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "-V" || command === "--version") {
    stdout(`kopf ${VERSION}`);
    return 0;
  }
  if (command === "freeze" || command === "resume") {
    return await freezeCommand(command, rest, controls, stdout, stderr);
  }
  if (command === "rbac") return await rbacCommand(rest, controls, stdout, stderr);
  stderr(
    command.startsWith("-")
      ? `kopf: Unknown option "${command}"; see kopf --help`
      : `kopf: Unknown command "${command}"; see kopf --help`,
  );
  return 2;
}

async function runCommand(
  argv: string[],
  controls: CliControls,
  stdout: (line: string) => void,
  stderr: (line: string) => void,
): Promise<number> {
  let parsed: args.RunArguments;
  try {
    parsed = args.parseRunArgs(argv, controls.env ? { env: controls.env } : {});
  } catch (error) {
    if (!(error instanceof args.UsageError)) throw error;
    stderr(`kopf run: ${error.message}; see kopf run --help`);
    return 2;
  }
  if (parsed.help) {
    stdout(args.RUN_HELP);
    return 0;
  }
  if (parsed.version) {
    stdout(`kopf ${VERSION}`);
    return 0;
  }
  const registry = controls.registry ?? registries.defaultRegistry();
  if (parsed.paths.length === 0 && parsed.modules.length === 0 && !hasHandlers(registry)) {
    stderr(
      "kopf run: Nothing to run: give handler files or URLs, or modules with -m; see kopf run --help",
    );
    return 2;
  }
  const loggingOptions = {
    ...parsed.logging,
    ...(controls.stderr ? { output: controls.stderr } : {}),
  };
  try {
    await logging.configureLogging(loggingOptions);
  } catch (error) {
    stderr(`kopf run: ${messageOf(error)}`);
    return 1;
  }

  const previous = registries.defaultRegistry();
  registries.setDefaultRegistry(registry);
  let server: probing.LivenessServer | undefined;
  let metricsServer: probing.LivenessServer | undefined;
  try {
    warnAboutPatterns(parsed.namespaces);
    let loaded: number;
    try {
      loaded = await loading.loadModules(parsed.paths, parsed.modules, {
        ...(controls.cwd ? { cwd: controls.cwd } : {}),
        fresh: controls.freshImports ?? false,
      });
    } catch (error) {
      if (!(error instanceof loading.LoadError)) throw error;
      log.error(error.message);
      return 1;
    }
    if (loaded > 0 && !hasHandlers(registry)) {
      log.warning(
        "The modules registered no handlers; if they import Kopf from another place or version " +
          `than this command (${new URL("./mod.ts", import.meta.url)}), ` +
          "they register into that copy of it",
      );
    }
    let connection = controls.connection;
    if (connection === undefined && controls.kubeconfig !== undefined) {
      try {
        connection = await kubeconfig.loadKubeconfig({
          kubeconfig: controls.kubeconfig,
          ...(parsed.context ? { context: parsed.context } : {}),
        });
      } catch (error) {
        log.fatal(`The operator cannot run: ${messageOf(error)}`);
        return 1;
      }
    }
    const settings = controls.settings ?? operatorSettings.defaultSettings();
    args.applyPeering(parsed, settings);
    args.applyAdmission(parsed, settings);
    const health = controls.health ?? new Map();
    const peering = controls.peering ?? coordinating.newReport();
    const memo = controls.memo ?? {};
    const indexes = new indexing.OperatorIndexes(registry.allIndexingHandlers());
    const clock = controls.clock;
    const metrics = controls.metrics ??
      (parsed.metrics !== undefined ? new metricsModule.OperatorMetrics() : undefined);
    // Metrics at the liveness server's host and port share its server, at their own path.
    const shared = parsed.metrics !== undefined && parsed.liveness !== undefined &&
      sameServer(parsed.metrics, parsed.liveness);
    const render = () => metrics?.render() ?? "";
    if (parsed.liveness !== undefined) {
      try {
        server = probing.serveLiveness(parsed.liveness, health, {
          watching: settings.watching,
          peering,
          probes: { registry, memo, settings, indexes: indexes.indexes },
          ...(clock ? { clock } : {}),
          ...(shared
            ? { metrics: { path: probing.parseEndpoint(parsed.metrics!).path, render } }
            : {}),
        });
      } catch (error) {
        log.fatal(`Cannot serve the liveness probe at "${parsed.liveness}": ${messageOf(error)}`);
        return 1;
      }
    }
    if (parsed.metrics !== undefined && !shared) {
      try {
        metricsServer = probing.serveMetrics(parsed.metrics, render);
      } catch (error) {
        log.fatal(`Cannot serve the metrics at "${parsed.metrics}": ${messageOf(error)}`);
        return 1;
      }
    }
    return await running.run({
      ...pick(controls, [
        "clock",
        "signal",
        "handleSignals",
        "onResponse",
        "onProcessed",
        "identity",
      ]),
      registry,
      settings,
      health,
      memo,
      indexes,
      peering,
      ...(metrics ? { metrics } : {}),
      ...(connection ? { connection } : {}),
      ...(parsed.clusterwide ? { clusterwide: true } : { namespaces: parsed.namespaces }),
      ...(parsed.context ? { context: parsed.context } : {}),
      logging: loggingOptions,
    });
  } finally {
    await server?.close();
    await metricsServer?.close();
    registries.setDefaultRegistry(previous);
  }
}

/** Whether two endpoint URLs name the same host and port (one server for both). */
function sameServer(a: string, b: string): boolean {
  const x = probing.parseEndpoint(a);
  const y = probing.parseEndpoint(b);
  return x.hostname === y.hostname && x.port === y.port;
}

const RBAC_HELP = `Usage: kopf rbac [run options] [paths|URLs...] [--service-account NAME]
                 [--service-account-namespace NS] [--name NAME]

Imports the handler modules as kopf run does and prints, as YAML, the least RBAC for serving
them with the same options (-n/-A, --standalone, --peering, ...): a ServiceAccount, a
ClusterRole and its binding, a Role and RoleBinding per namespace given by name (-n), and a Role
for the Lease with --peering lease. The resources are resolved by the cluster's discovery
(KUBECONFIG or --context), as kopf run resolves them. Settings that startup handlers change are
not seen.

  --service-account NAME            The service account (default: kopf-operator)
  --service-account-namespace NS    Its namespace (default: the kubeconfig context's)
  --name NAME                       The roles' and bindings' name (default: the account's)

Example: kopf rbac handlers.ts -A --peering lease > rbac.yaml`;

/** `kopf rbac`: the manifests on stdout, or one line why not. */
async function rbacCommand(
  argv: string[],
  controls: CliControls,
  stdout: (line: string) => void,
  stderr: (line: string) => void,
): Promise<number> {
  // The RBAC options are taken out; the rest are kopf run's.
  const own: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const match = /^--(service-account|service-account-namespace|name)(?:=(.*))?$/.exec(argv[i]!);
    if (!match) {
      rest.push(argv[i]!);
      continue;
    }
    const value = match[2] ?? argv[++i];
    if (value === undefined || value === "") {
      stderr(`kopf rbac: Option "--${match[1]}" needs a value; see kopf rbac --help`);
      return 2;
    }
    own[match[1]!] = value;
  }
  let parsed: args.RunArguments;
  try {
    parsed = args.parseRunArgs(rest, controls.env ? { env: controls.env } : {});
  } catch (error) {
    if (!(error instanceof args.UsageError)) throw error;
    stderr(`kopf rbac: ${error.message}; see kopf rbac --help`);
    return 2;
  }
  if (parsed.help) {
    stdout(RBAC_HELP);
    return 0;
  }
  const registry = controls.registry ?? registries.defaultRegistry();
  const previous = registries.defaultRegistry();
  registries.setDefaultRegistry(registry);
  try {
    await loading.loadModules(parsed.paths, parsed.modules, {
      ...(controls.cwd ? { cwd: controls.cwd } : {}),
      fresh: controls.freshImports ?? false,
    });
    const settings = controls.settings ?? operatorSettings.defaultSettings();
    args.applyPeering(parsed, settings);
    args.applyAdmission(parsed, settings);
    const context = parsed.context ? { context: parsed.context } : {};
    const connection = controls.connection ??
      (controls.kubeconfig !== undefined
        ? await kubeconfig.loadKubeconfig({ kubeconfig: controls.kubeconfig, ...context })
        : await kubeconfig.loadConnection(context));
    using transport = new transports.Transport(connection);
    const served = await new discovery.Discovery(transport).resources();
    const manifests = rbac.rbacManifests({
      registry,
      settings,
      served,
      clusterwide: parsed.clusterwide,
      namespaces: parsed.namespaces,
      serviceAccount: {
        name: own["service-account"] ?? "kopf-operator",
        namespace: own["service-account-namespace"] ?? connection.namespace,
      },
      ...(own.name ? { name: own.name } : {}),
    });
    stdout(rbac.toYaml(manifests).trimEnd());
    return 0;
  } catch (error) {
    stderr(`kopf rbac: ${messageOf(error)}`);
    return 1;
  } finally {
    registries.setDefaultRegistry(previous);
  }
}

/** `kopf freeze` / `kopf resume`: one line per peering object, or one line why not. */
async function freezeCommand(
  command: "freeze" | "resume",
  argv: string[],
  controls: CliControls,
  stdout: (line: string) => void,
  stderr: (line: string) => void,
): Promise<number> {
  let parsed: freezing.FreezeArguments;
  try {
    parsed = freezing.parseFreezeArgs(command, argv);
  } catch (error) {
    if (!(error instanceof args.UsageError)) throw error;
    stderr(`kopf ${command}: ${error.message}; see kopf ${command} --help`);
    return 2;
  }
  if (parsed.help) {
    stdout(freezing.freezeHelp(command));
    return 0;
  }
  try {
    const context = parsed.context ? { context: parsed.context } : {};
    const connection = controls.connection ??
      (controls.kubeconfig !== undefined
        ? await kubeconfig.loadKubeconfig({ kubeconfig: controls.kubeconfig, ...context })
        : await kubeconfig.loadConnection(context));
    using transport = new transports.Transport(connection);
    for (const line of await freezing.freeze(parsed, transport)) stdout(line);
    return 0;
  } catch (error) {
    stderr(`kopf ${command}: ${messageOf(error)}`);
    return 1;
  }
}

function hasHandlers(registry: registries.OperatorRegistry): boolean {
  return registry.allChangingHandlers().length + registry.allWatchingHandlers().length +
          registry.allIndexingHandlers().length + registry.allActivityHandlers().length > 0 ||
    registry.admission.any;
}

/** Kopf's rules make `-n a,b` serve only `a`: say so, as it is rarely what was meant. */
function warnAboutPatterns(specs: readonly string[]): void {
  for (const pattern of namespaces.parsePatterns(specs)) {
    const [first, ...rest] = pattern.globs;
    let excluded = false;
    for (const glob of rest) {
      if (glob.negated) excluded = true;
      else if (!excluded) {
        log.warning(
          `The namespace pattern "${pattern.source}" serves only what "${first?.text}" matches: ` +
            `"${glob.text}" can only re-include what an earlier !glob excluded; ` +
            `to serve several namespaces, repeat -n`,
        );
        break;
      }
    }
  }
}

/** One line from an import failure: the cause and, when known, where in the module. */
/** The fields of `source` that are set, so that unset ones stay absent (not undefined). */
function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const picked = {} as Pick<T, K>;
  for (const key of keys) {
    if (source[key] !== undefined) picked[key] = source[key];
  }
  return picked;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
