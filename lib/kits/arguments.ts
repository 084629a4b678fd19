// The arguments of `kopf run`: one table of options that the parser, the help text and the
// KOPF_RUN_* variables all follow, so none can forget an option. Used by the CLI (`cli.ts`),
// which re-exports `parseRunArgs()`; the core never parses command lines.

import { parseArgs } from "node:util";
import type * as logging from "../engines/logging.ts";
import type * as operatorSettings from "../settings/operator.ts";
import * as namespaces from "../structs/namespaces.ts";
import * as probing from "./probing.ts";

/** Priority of `--dev`, as in Kopf. */
const DEV_PRIORITY = 666;

interface OptionSpec {
  readonly long: string;
  readonly short?: string;
  readonly type: "boolean" | "string";
  readonly multiple?: boolean;
  /** The value's name in the help; also marks the option as taking one. */
  readonly value?: string;
  readonly help: string;
  /** Kopf's own variable names, accepted too (click names them after the parameter). */
  readonly kopfEnv?: readonly string[];
}

const SECTIONS: readonly { title: string; note?: string; options: readonly OptionSpec[] }[] = [
  {
    title: "Handlers",
    options: [
      {
        long: "module",
        short: "m",
        type: "string",
        multiple: true,
        value: "SPEC",
        help: "Import a module by specifier: an import-map name, jsr:, npm:, https:, or ./path " +
          "(repeatable; imported after the paths)",
        kopfEnv: ["KOPF_RUN_MODULES"],
      },
    ],
  },
  {
    title: "Namespaces",
    options: [
      {
        long: "namespace",
        short: "n",
        type: "string",
        multiple: true,
        value: "PATTERN",
        help: "Serve namespaces matching the pattern (repeatable): globs with * and ?, " +
          "comma-separated, ! excludes: -n 'myapp-*,!*-pr-*'",
        kopfEnv: ["KOPF_RUN_NAMESPACES"],
      },
      {
        long: "all-namespaces",
        short: "A",
        type: "boolean",
        help: "Serve the whole cluster with cluster-wide watches (not with -n)",
        kopfEnv: ["KOPF_RUN_CLUSTERWIDE"],
      },
    ],
  },
  {
    title: "Peering",
    note: "Without these, the operator peers through the KopfPeering (or, with -A, " +
      "ClusterKopfPeering) named default if the cluster serves the CRD, as Kopf does: the " +
      "live peer with the highest priority runs, the others pause. See docs/peering.md.",
    options: [
      {
        long: "standalone",
        type: "boolean",
        help: "Do not coordinate with other operators: the only instance",
      },
      {
        long: "peering",
        short: "P",
        type: "string",
        value: "NAME",
        help: "Require the peering object NAME (paused until it exists); " +
          "lease or lease:NAME for leader election through a Lease",
      },
      {
        long: "priority",
        short: "p",
        type: "string",
        value: "N",
        help: "This operator's priority among its peers (an integer)",
      },
      { long: "dev", type: "boolean", help: `Development mode: priority ${DEV_PRIORITY}` },
    ],
  },
  {
    title: "Probes",
    options: [
      {
        long: "liveness",
        short: "L",
        type: "string",
        value: "URL",
        help: "Serve a health endpoint, e.g. http://0.0.0.0:8080/healthz: 200 while every " +
          "watcher is alive, 503 with JSON naming the stale or failing ones",
        kopfEnv: ["KOPF_RUN_LIVENESS_ENDPOINT"],
      },
      {
        long: "metrics",
        type: "string",
        value: "URL",
        help: "Serve Prometheus metrics, e.g. http://0.0.0.0:9090/metrics (on the liveness " +
          "server when host and port are the same)",
      },
    ],
  },
  {
    title: "Webhooks",
    note: "For on.validate, on.mutate and on.convert handlers; see docs/admission.md. Without " +
      "--webhook-cert/--webhook-key, a CA and a certificate are generated at start.",
    options: [
      {
        long: "webhook-address",
        type: "string",
        value: "ADDR",
        help: "Listen on this address (default 0.0.0.0)",
      },
      {
        long: "webhook-port",
        type: "string",
        value: "N",
        help: "Listen on this port (default 9443; 0 takes a free one)",
      },
      {
        long: "webhook-host",
        type: "string",
        value: "HOST",
        help: "The hostname the API server calls (default: the address; 127.0.0.1 for 0.0.0.0)",
      },
      {
        long: "webhook-url",
        type: "string",
        value: "URL",
        help: "The whole URL the API server calls, e.g. a TLS proxy's in front of " +
          "--webhook-insecure",
      },
      {
        long: "webhook-cert",
        type: "string",
        value: "FILE",
        help: "The serving certificate (PEM), re-read when it changes; with --webhook-key",
      },
      { long: "webhook-key", type: "string", value: "FILE", help: "Its private key (PEM)" },
      {
        long: "webhook-ca",
        type: "string",
        value: "FILE",
        help: "The CA bundle the API server trusts (default: the certificate itself)",
      },
      {
        long: "webhook-insecure",
        type: "boolean",
        help: "Serve plain HTTP, for use behind a TLS-terminating proxy",
      },
      {
        long: "webhook-managed",
        type: "string",
        value: "NAME",
        help: "Create and update the webhook configurations NAME at start, remove them at exit",
      },
    ],
  },
  {
    title: "Logging",
    options: [
      { long: "verbose", short: "v", type: "boolean", help: "Log debug messages too" },
      { long: "debug", short: "d", type: "boolean", help: "Log debug messages too" },
      { long: "quiet", short: "q", type: "boolean", help: "Log warnings and errors only" },
      {
        long: "log-format",
        type: "string",
        value: "FORMAT",
        help: "plain (the message), full (time, logger, level; the default), or json (one " +
          "object per line)",
      },
      {
        long: "log-refkey",
        type: "string",
        value: "KEY",
        help: 'The JSON key of the object reference in json lines (default "object")',
      },
      {
        long: "log-prefix",
        type: "boolean",
        help: "Put [namespace/name] before messages about objects (default, except json)",
      },
      {
        long: "no-log-prefix",
        type: "boolean",
        help: "Do not put [namespace/name] before messages about objects",
      },
    ],
  },
  {
    title: "Cluster",
    options: [
      {
        long: "context",
        type: "string",
        value: "NAME",
        help: "The kubeconfig context to use instead of the current one",
      },
    ],
  },
  {
    title: "Other",
    options: [
      { long: "help", short: "h", type: "boolean", help: "Show this help" },
      { long: "version", short: "V", type: "boolean", help: "Show the version" },
    ],
  },
];

const OPTIONS: readonly OptionSpec[] = SECTIONS.flatMap((section) => section.options);
const BY_NAME = new Map(OPTIONS.map((option) => [option.long, option]));

/** The help of `kopf run`. */
export const RUN_HELP: string = `Usage: kopf run [options] [paths|URLs...]

Imports the handler modules in order (paths first, then -m modules), then serves their
resources until SIGINT or SIGTERM. Exits 0 after a graceful stop, 1 when the operator cannot
run (a module fails to load, the cluster cannot be reached), 2 for usage errors.

  paths|URLs               Files (relative to the current directory) or URLs: file:, https:,
                           jsr:, npm:. With no paths and no -m, the handlers a program
                           registered before calling main() are served (deno compile).
${
  SECTIONS.map((section) =>
    [
      `\n${section.title}:`,
      ...section.note ? wrap(section.note, 2) : [],
      ...section.options.map(optionHelp),
    ].join("\n")
  ).join("\n")
}

Environment:
  Every option can be set as KOPF_RUN_<OPTION>: KOPF_RUN_NAMESPACE="a b" (space-separated for
  repeatable options; a comma stays inside one pattern, as with -n), KOPF_RUN_ALL_NAMESPACES=1,
  KOPF_RUN_LIVENESS=http://0.0.0.0:8080/healthz, KOPF_RUN_LOG_FORMAT=json, KOPF_RUN_LOG_PREFIX=0.
  Switches take 1/0, true/false, yes/no, on/off. Options on the command line win: -n or -A there
  overrides both variables of that choice, and so do -v/-d/-q and -p/--dev. Kopf's own names
  work too: KOPF_RUN_NAMESPACES, KOPF_RUN_CLUSTERWIDE, KOPF_RUN_LIVENESS_ENDPOINT,
  KOPF_RUN_MODULES. KUBECONFIG chooses the cluster, as for kubectl.`;

/** A mistake in the command line or the `KOPF_RUN_*` variables: exit code 2. */
export class UsageError extends Error {
  /** Always `"UsageError"`. */
  override name = "UsageError";
}

/** What `kopf run` was asked to do, from the arguments and the environment. */
export interface RunArguments {
  /** Files and URLs to import, in order. */
  paths: string[];
  /** Module specifiers to import after the paths. */
  modules: string[];
  /** Namespace patterns; empty with `clusterwide`. */
  namespaces: string[];
  /** `-A`: all namespaces, with cluster-wide watches. */
  clusterwide: boolean;
  /** `--standalone`: no peering. */
  standalone: boolean;
  /** `-P NAME`: a mandatory peering object, or `lease`/`lease:NAME` for a Lease. */
  peering: string | undefined;
  /** `-p N`, or 666 with `--dev`. */
  priority: number | undefined;
  /** `-L URL`: where to serve the liveness probe. */
  liveness: string | undefined;
  /** `--metrics URL`: where to serve Prometheus metrics. */
  metrics: string | undefined;
  /** The `--webhook-*` options: how the webhook server listens and is configured. */
  webhooks: WebhookArguments;
  /** How to log: from `-v`/`-d`/`-q`, `--log-format`, `--log-prefix`, `--log-refkey`. */
  logging: {
    level: logging.LoggingLevel;
    format: logging.LogFormat;
    prefix: boolean;
    refkey?: string;
  };
  /** `--context NAME`. */
  context: string | undefined;
  /** `-h`: show the help instead of running. */
  help: boolean;
  /** `-V`: show the version instead of running. */
  version: boolean;
}

/**
 * Parses the arguments of `kopf run` (after the word `run`), filling what they do not say from
 * `KOPF_RUN_*` variables, and checks them: namespace patterns, the liveness URL, the priority.
 *
 * @throws {UsageError} naming the offending option or variable
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseRunArgs } from "./arguments.ts";
 *
 * const parsed = parseRunArgs(["-n", "team-*", "handlers.ts"], { env: { KOPF_RUN_DEBUG: "1" } });
 * deepEqual(parsed.namespaces, ["team-*"]);
 * deepEqual(parsed.paths, ["handlers.ts"]);
 * deepEqual(parsed.logging.level, "debug");
 * ```
 */
export function parseRunArgs(
  args: readonly string[],
  options: { env?: Readonly<Record<string, string>> } = {},
): RunArguments {
  const env = options.env ? (name: string) => options.env?.[name] : processEnv;
  const { tokens } = parseArgs({
    args: [...args],
    options: Object.fromEntries(OPTIONS.map((o) => [
      o.long,
      {
        type: o.type,
        ...(o.short ? { short: o.short } : {}),
        ...(o.multiple ? { multiple: true } : {}),
      },
    ])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const flags = new Map<string, (string | boolean)[]>();
  const paths: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") paths.push(token.value);
    if (token.kind !== "option") continue;
    const spec = BY_NAME.get(token.name);
    if (spec === undefined) throw new UsageError(`Unknown option "${token.rawName}"`);
    let value: string | boolean = true;
    if (spec.type === "boolean" && token.value !== undefined) {
      throw new UsageError(`Option "${token.rawName}" takes no value`);
    }
    if (spec.type === "string") {
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith("-"))) {
        throw new UsageError(
          `Option "${token.rawName}" needs a value${
            token.value === undefined ? "" : `, not "${token.value}" (use --${spec.long}=VALUE)`
          }`,
        );
      }
      value = token.value;
    }
    flags.set(spec.long, [...flags.get(spec.long) ?? [], value]);
  }
  const has = (...names: string[]) => names.some((name) => flags.has(name));
  const fromEnv = (long: string): (string | boolean)[] => {
    const spec = BY_NAME.get(long)!;
    for (const name of [envName(long), ...spec.kopfEnv ?? []]) {
      const raw = env(name)?.trim();
      if (!raw) continue;
      if (spec.type === "boolean") return [parseSwitch(name, raw)];
      return spec.multiple ? raw.split(/\s+/) : [raw];
    }
    return [];
  };
  // One choice, one source: an option on the command line overrides the whole group's variables.
  const groups = [
    ["namespace", "all-namespaces"],
    ["verbose", "debug", "quiet"],
    ["priority", "dev"],
    ["log-prefix", "no-log-prefix"],
  ];
  const values = (long: string): (string | boolean)[] => {
    const group = groups.find((g) => g.includes(long)) ?? [long];
    return has(...group) ? flags.get(long) ?? [] : fromEnv(long);
  };
  const strings = (long: string) => values(long).filter((v): v is string => typeof v === "string");
  const last = (long: string): string | undefined => strings(long).at(-1);
  const on = (long: string): boolean => values(long).at(-1) === true;

  const patterns = strings("namespace");
  const clusterwide = on("all-namespaces");
  if (clusterwide && patterns.length > 0) {
    throw new UsageError("Either -n/--namespace or -A/--all-namespaces can be used, not both");
  }
  try {
    namespaces.parsePatterns(patterns);
  } catch (error) {
    throw new UsageError(messageOf(error));
  }
  const format = (last("log-format") ?? "full").toLowerCase();
  if (format !== "plain" && format !== "full" && format !== "json") {
    throw new UsageError(`Unknown log format "${last("log-format")}": use plain, full, or json`);
  }
  const rawPriority = last("priority");
  if (rawPriority !== undefined && !/^-?\d+$/.test(rawPriority)) {
    throw new UsageError(`The priority must be an integer, not "${rawPriority}"`);
  }
  if (last("peering") === "") {
    throw new UsageError("The peering name must not be empty: give NAME, lease or lease:NAME");
  }
  const webhooks = webhookArguments(last, on);
  const liveness = last("liveness");
  const metrics = last("metrics");
  for (const url of [liveness, metrics]) {
    if (url === undefined) continue;
    try {
      probing.parseEndpoint(url);
    } catch (error) {
      throw new UsageError(messageOf(error));
    }
  }
  // The later of --log-prefix and --no-log-prefix wins; the variable is one switch.
  const prefixFlag = tokens.findLast((t) =>
    t.kind === "option" && (t.name === "log-prefix" || t.name === "no-log-prefix")
  );
  const prefix = prefixFlag?.kind === "option"
    ? prefixFlag.name === "log-prefix"
    : (fromEnv("log-prefix")[0] as boolean | undefined) ?? format !== "json";
  const refkey = last("log-refkey");
  return {
    paths,
    modules: strings("module"),
    namespaces: patterns,
    clusterwide,
    standalone: on("standalone"),
    peering: last("peering"),
    priority: on("dev")
      ? DEV_PRIORITY
      : rawPriority === undefined
      ? undefined
      : Number(rawPriority),
    liveness,
    metrics,
    webhooks,
    logging: {
      level: on("debug") || on("verbose") ? "debug" : on("quiet") ? "warning" : "info",
      format,
      prefix,
      ...(refkey === undefined ? {} : { refkey }),
    },
    context: last("context"),
    help: has("help"),
    version: has("version"),
  };
}

function optionHelp(option: OptionSpec): string {
  const names = `${option.short ? `-${option.short}, ` : "    "}--${option.long}${
    option.value ? ` ${option.value}` : ""
  }`;
  const [first, ...rest] = wrap(option.help, 27);
  return [`  ${names.padEnd(23)}  ${first?.trimStart()}`, ...rest].join("\n");
}

/** Wraps `text` into lines of at most 95 characters, each indented by `indent` spaces. */
function wrap(text: string, indent: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && indent + line.length + 1 + word.length > 95) {
      lines.push(" ".repeat(indent) + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(" ".repeat(indent) + line);
  return lines;
}

function envName(long: string): string {
  return `KOPF_RUN_${long.toUpperCase().replaceAll("-", "_")}`;
}

function parseSwitch(name: string, raw: string): boolean {
  const value = raw.toLowerCase();
  if (["1", "true", "t", "yes", "y", "on"].includes(value)) return true;
  if (["0", "false", "f", "no", "n", "off"].includes(value)) return false;
  throw new UsageError(
    `The variable ${name}="${raw}" is not a switch: use 1/0, true/false, yes/no, or on/off`,
  );
}

/** A variable of the process; without the permission to read it, it is not set. */
function processEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The peering options into the settings, as Kopf maps them: `--peering NAME` makes peering
 * mandatory with that object; `lease` or `lease:NAME` chooses leader election instead.
 *
 * @example `kopf run --dev` outranks the deployed operator
 * ```ts
 * import { applyPeering, parseRunArgs } from "./arguments.ts";
 * import { defaultSettings } from "../settings/operator.ts";
 * const settings = defaultSettings();
 * applyPeering(parseRunArgs(["--dev", "handlers.ts"]), settings);
 * settings.peering.priority; // 666
 * ```
 */
export function applyPeering(
  parsed: Pick<RunArguments, "standalone" | "peering" | "priority">,
  settings: operatorSettings.OperatorSettings,
): void {
  const peering = settings.peering;
  if (parsed.standalone) peering.standalone = true;
  if (parsed.priority !== undefined) peering.priority = parsed.priority;
  if (parsed.peering === undefined) return;
  const lease = /^lease(?::(.+))?$/.exec(parsed.peering);
  if (lease) {
    peering.mode = "lease";
    if (lease[1]) peering.lease.name = lease[1];
  } else {
    peering.mandatory = true;
    peering.name = parsed.peering;
  }
}

/** The `--webhook-*` options, as given. */
export interface WebhookArguments {
  address?: string;
  port?: number;
  host?: string;
  url?: string;
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  insecure?: boolean;
  managed?: string;
}

function webhookArguments(
  last: (long: string) => string | undefined,
  on: (long: string) => boolean,
): WebhookArguments {
  const result: WebhookArguments = {};
  const port = last("webhook-port");
  if (port !== undefined) {
    if (!/^\d+$/.test(port) || Number(port) > 65535) {
      throw new UsageError(`The webhook port must be a number from 0 to 65535, not "${port}"`);
    }
    result.port = Number(port);
  }
  const url = last("webhook-url");
  if (url !== undefined && !/^https?:\/\/[^/]/.test(url)) {
    throw new UsageError(`The webhook URL "${url}" is not an http(s) URL`);
  }
  const certFile = last("webhook-cert");
  const keyFile = last("webhook-key");
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("Give both --webhook-cert and --webhook-key, or neither");
  }
  const strings = {
    address: last("webhook-address"),
    host: last("webhook-host"),
    url,
    certFile,
    keyFile,
    caFile: last("webhook-ca"),
    managed: last("webhook-managed"),
  };
  for (const [key, value] of Object.entries(strings)) {
    if (value !== undefined) (result as Record<string, unknown>)[key] = value;
  }
  if (on("webhook-insecure")) result.insecure = true;
  return result;
}

/**
 * The `--webhook-*` options into the settings (`settings.admission`); what they do not say
 * stays as the settings have it.
 *
 * @example `kopf run --webhook-port 0 --webhook-managed my-op.example.com`
 * ```ts
 * import { applyAdmission, parseRunArgs } from "./arguments.ts";
 * import { defaultSettings } from "../settings/operator.ts";
 * const settings = defaultSettings();
 * applyAdmission(parseRunArgs(["--webhook-port", "0", "--webhook-managed", "my-op.example.com", "h.ts"]), settings);
 * settings.admission.port; // 0
 * ```
 */
export function applyAdmission(
  parsed: Pick<RunArguments, "webhooks">,
  settings: operatorSettings.OperatorSettings,
): void {
  Object.assign(settings.admission, parsed.webhooks);
}
