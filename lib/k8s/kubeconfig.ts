// Loads kubeconfig files (one explicit file, or the KUBECONFIG list merged by client-go's rules,
// or ~/.kube/config), selects a context and builds the Connection the transport uses; and
// picks between kubeconfig and in-cluster as controller-runtime does. Called at operator
// startup; never sends a request and never puts a token, password or key into a message.

import * as path from "node:path";
import * as YAML from "yaml";
import type * as clock from "../async/clock.ts";
import * as connections from "./connections.ts";
import * as sections from "./_sections.ts";
import * as credentials from "./credentials.ts";
import * as errors from "./errors.ts";
import * as execPlugins from "./exec_plugins.ts";
import * as incluster from "./incluster.ts";

/** Options of {@link loadKubeconfig}. */
export interface KubeconfigOptions {
  /** One kubeconfig file, used as is: KUBECONFIG is ignored and nothing is merged. */
  readonly kubeconfig?: string;
  /** The environment to read `KUBECONFIG` and `HOME` from. @default Deno.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The context to use instead of `current-context`. */
  readonly context?: string;
  /** The home directory holding `.kube/config`. @default the HOME variable of `env` */
  readonly home?: string;
  /** The clock of token-file re-reads and exec credential expiry. @default realClock */
  readonly clock?: clock.Clock;
}

/** Options of {@link loadConnection}. */
export interface ConnectionOptions extends KubeconfigOptions {
  /** The in-cluster service-account directory. @default "/var/run/secrets/kubernetes.io/serviceaccount" */
  readonly serviceAccountDirectory?: string;
}

/** A named cluster, user or context, and the file and list position that defined it. */
interface Entry {
  readonly name: string;
  /** The inner mapping (`clusters[2].cluster`), with its file and field path. */
  readonly section: sections.Section;
}

/** The merged view of one or more kubeconfig files: the first file to set a key wins. */
interface Kubeconfig {
  readonly label: string;
  currentContext?: { readonly name: string; readonly file: string };
  readonly clusters: Map<string, Entry>;
  readonly users: Map<string, Entry>;
  readonly contexts: Map<string, Entry>;
}

/** What a cluster entry resolves to. */
interface Cluster {
  readonly server: string;
  readonly ca: string | undefined;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName: string | undefined;
  readonly proxyUrl: string | undefined;
  readonly exec: execPlugins.ExecCluster;
}

const LISTS = { clusters: "cluster", users: "user", contexts: "context" } as const;
const PATH_SEPARATOR = Deno.build.os === "windows" ? ";" : ":";
const EXEC_EXTENSION = "client.authentication.k8s.io/exec";

/**
 * Loads the kubeconfig the way kubectl does and builds the connection of its context: the
 * explicit `kubeconfig` file alone, else every file of `KUBECONFIG` merged (the first file to
 * set a key wins; missing files are skipped), else `~/.kube/config`. Relative paths resolve
 * against the file that holds them. Every broken input is a one-line `ConfigError` naming the
 * file and the field.
 *
 * @example Connecting with the current context of ~/.kube/config or KUBECONFIG
 * ```ts ignore
 * const connection = await loadKubeconfig({ context: "kind-dev" });
 * console.log(connection.source); // kubeconfig /home/me/.kube/config, context "kind-dev"
 * ```
 */
export async function loadKubeconfig(
  options: KubeconfigOptions = {},
): Promise<connections.Connection> {
  const files = await locate(options);
  const parsed = [];
  for (const file of files) parsed.push(await parse(file));
  return await connect(merge(files, parsed), options);
}

/**
 * Finds the connection in the order controller-runtime uses: the explicit `kubeconfig` path,
 * `KUBECONFIG`, the in-cluster service account (when `KUBERNETES_SERVICE_HOST` is set),
 * `~/.kube/config`. When none is there, a `ConfigError` says what was tried and how to fix it.
 *
 * @example Connecting wherever the operator runs
 * ```ts ignore
 * const connection = await loadConnection();
 * ```
 */
export async function loadConnection(
  options: ConnectionOptions = {},
): Promise<connections.Connection> {
  if (options.kubeconfig !== undefined || readEnv(options.env, "KUBECONFIG")) {
    return await loadKubeconfig(options);
  }
  if (incluster.isInCluster(options.env ? { env: options.env } : {})) {
    return await incluster.loadInCluster({
      ...(options.env ? { env: options.env } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.serviceAccountDirectory ? { directory: options.serviceAccountDirectory } : {}),
    });
  }
  const home = homeConfig(options);
  if (home !== undefined && await exists(home)) return await loadKubeconfig(options);
  throw new errors.ConfigError(
    "Cannot find a Kubernetes configuration: no kubeconfig path was given, KUBECONFIG is not set, " +
      "KUBERNETES_SERVICE_HOST is not set (not in a pod), and " +
      (home === undefined ? "HOME is not set" : `"${home}" does not exist`) +
      "; set KUBECONFIG, create ~/.kube/config, or run in a pod with a service account",
    home === undefined ? {} : { file: home },
  );
}

async function locate(options: KubeconfigOptions): Promise<string[]> {
  if (options.kubeconfig !== undefined) {
    const file = path.resolve(options.kubeconfig);
    if (!await exists(file)) {
      throw sections.kubeconfigError(file, undefined, "the file does not exist");
    }
    return [file];
  }
  const list = readEnv(options.env, "KUBECONFIG");
  if (list) {
    const candidates = list.split(PATH_SEPARATOR).filter((p) => p !== "").map((p) =>
      path.resolve(p)
    );
    const found = [];
    for (const file of new Set(candidates)) if (await exists(file)) found.push(file);
    if (found.length > 0) return found;
    throw new errors.ConfigError(`Cannot use KUBECONFIG "${list}": none of its files exists`, {
      field: "KUBECONFIG",
    });
  }
  const home = homeConfig(options);
  if (home === undefined) {
    throw new errors.ConfigError("Cannot find a kubeconfig: KUBECONFIG and HOME are not set", {
      field: "KUBECONFIG",
    });
  }
  if (!await exists(home)) {
    throw sections.kubeconfigError(
      home,
      undefined,
      "the file does not exist; set KUBECONFIG or pass a path",
    );
  }
  return [home];
}

/** One file's contribution: its current-context and its named entries, validated in shape only. */
interface Parsed {
  readonly currentContext: string | undefined;
  readonly lists: Record<keyof typeof LISTS, Map<string, Entry>>;
}

async function parse(file: string): Promise<Parsed> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    const problem = `the file cannot be read: ${sections.describeReadError(error)}`;
    throw sections.kubeconfigError(file, undefined, problem, error);
  }
  let document: unknown;
  try {
    document = YAML.parse(text, { logLevel: "error" });
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      // The yaml package reads LOG_TOKENS and LOG_STREAM from the environment while parsing.
      const problem = "the YAML parser reads the variables LOG_TOKENS and LOG_STREAM; " +
        "run Deno with --allow-env=LOG_TOKENS,LOG_STREAM (or a wider --allow-env)";
      throw sections.kubeconfigError(file, undefined, problem, error);
    }
    if (!(error instanceof YAML.YAMLError)) throw error;
    const where = error.linePos
      ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}`
      : "";
    const what = (error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    throw sections.kubeconfigError(file, undefined, `YAML syntax error${where}: ${what}`, error);
  }
  document ??= {};
  if (!sections.isMapping(document)) {
    const found = Array.isArray(document) ? "a list" : `a ${typeof document}`;
    throw sections.kubeconfigError(
      file,
      undefined,
      `the top level is ${found}, not a kubeconfig mapping`,
    );
  }
  const top = new sections.Section(file, "", document);
  const lists = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const [list, inner] of Object.entries(LISTS) as [keyof typeof LISTS, string][]) {
    top.list(list).forEach((item, i) => {
      const at = top.at(`${list}[${i}]`);
      if (!sections.isMapping(item)) throw sections.fieldError(at, "is not a mapping");
      const named = new sections.Section(file, at.field, item);
      const name = named.string("name");
      if (name === undefined) throw sections.fieldError(named.at("name"), "is not set");
      if (lists[list].has(name)) {
        throw sections.fieldError(named.at("name"), `"${name}" is defined twice`);
      }
      lists[list].set(name, {
        name,
        section: named.section(inner) ?? new sections.Section(file, `${at.field}.${inner}`, {}),
      });
    });
  }
  return { currentContext: top.string("current-context"), lists };
}

function merge(files: readonly string[], parsed: readonly Parsed[]): Kubeconfig {
  const config: Kubeconfig = {
    label: files.join(PATH_SEPARATOR),
    clusters: new Map(),
    users: new Map(),
    contexts: new Map(),
  };
  parsed.forEach((one, i) => {
    if (config.currentContext === undefined && one.currentContext !== undefined) {
      config.currentContext = { name: one.currentContext, file: files[i] ?? "" };
    }
    for (const list of Object.keys(LISTS) as (keyof typeof LISTS)[]) {
      for (const [name, entry] of one.lists[list]) {
        if (!config[list].has(name)) config[list].set(name, entry);
      }
    }
  });
  return config;
}

async function connect(
  config: Kubeconfig,
  options: KubeconfigOptions,
): Promise<connections.Connection> {
  const contextName = options.context ?? config.currentContext?.name;
  if (contextName === undefined) {
    throw sections.kubeconfigError(
      config.label,
      "current-context",
      `current-context is not set and no context was given; run "kubectl config use-context NAME"`,
    );
  }
  const context = config.contexts.get(contextName);
  if (context === undefined) {
    const defined = [...config.contexts.keys()].map((n) => `"${n}"`).join(", ") || "none";
    if (options.context !== undefined || config.currentContext === undefined) {
      throw sections.kubeconfigError(
        config.label,
        "contexts",
        `context "${contextName}" is not defined (defined: ${defined})`,
      );
    }
    throw sections.kubeconfigError(
      config.currentContext.file,
      "current-context",
      `current-context "${contextName}" is not defined (defined: ${defined})`,
    );
  }
  const cluster = lookup(config.clusters, context, "cluster", contextName);
  if (cluster === undefined) {
    throw sections.fieldError(context.section.at("cluster"), "is not set");
  }
  const user = lookup(config.users, context, "user", contextName);
  const built = await buildCluster(cluster.section);
  return {
    server: built.server,
    caCerts: built.ca === undefined ? [] : [built.ca],
    insecureSkipTlsVerify: built.insecureSkipTlsVerify,
    ...(built.tlsServerName === undefined ? {} : { tlsServerName: built.tlsServerName }),
    ...(built.proxyUrl === undefined ? {} : { proxyUrl: built.proxyUrl }),
    namespace: context.section.string("namespace") ?? "default",
    source: `kubeconfig ${context.section.file}, context "${contextName}"`,
    authenticator: user === undefined
      ? connections.anonymous
      : await buildUser(user, built, options),
  };
}

function lookup(
  entries: Map<string, Entry>,
  context: Entry,
  key: "cluster" | "user",
  contextName: string,
): Entry | undefined {
  const name = context.section.string(key);
  if (name === undefined) return undefined;
  const entry = entries.get(name);
  if (entry !== undefined) return entry;
  throw sections.kubeconfigError(
    context.section.file,
    context.section.at(key).field,
    `context "${contextName}" refers to ${key} "${name}", which is not defined`,
  );
}

async function buildCluster(cluster: sections.Section): Promise<Cluster> {
  const text = cluster.string("server");
  if (text === undefined) throw sections.fieldError(cluster.at("server"), "is not set");
  // client-go accepts a bare host:port and assumes https.
  const server = parseUrl(text.includes("://") ? text : `https://${text}`, ["http:", "https:"]);
  if (server === undefined) {
    throw sections.fieldError(cluster.at("server"), `"${text}" is not an http(s) URL`);
  }
  const proxyText = cluster.string("proxy-url");
  if (proxyText !== undefined && !parseUrl(proxyText, ["http:", "https:", "socks5:"])) {
    throw sections.fieldError(
      cluster.at("proxy-url"),
      `"${proxyText}" is not an http, https or socks5 URL`,
    );
  }
  const ca = await sections.readPem(cluster, "certificate-authority");
  const insecureSkipTlsVerify = cluster.boolean("insecure-skip-tls-verify") ?? false;
  const tlsServerName = cluster.string("tls-server-name");
  const extension = cluster.list("extensions").find((e) =>
    sections.isMapping(e) && e.name === EXEC_EXTENSION
  );
  const disableCompression = cluster.boolean("disable-compression");
  return {
    server,
    ca,
    insecureSkipTlsVerify,
    tlsServerName,
    proxyUrl: proxyText,
    exec: {
      server,
      "insecure-skip-tls-verify": insecureSkipTlsVerify,
      ...(tlsServerName === undefined ? {} : { "tls-server-name": tlsServerName }),
      ...(ca === undefined ? {} : { "certificate-authority-data": credentials.encodeBase64(ca) }),
      ...(proxyText === undefined ? {} : { "proxy-url": proxyText }),
      ...(disableCompression === undefined ? {} : { "disable-compression": disableCompression }),
      ...(sections.isMapping(extension) ? { config: extension.extension } : {}),
    },
  };
}

async function buildUser(
  entry: Entry,
  cluster: Cluster,
  options: KubeconfigOptions,
): Promise<connections.Authenticator> {
  const user = entry.section;
  credentials.checkUser(user);
  const certificate = await credentials.clientCertificate(user);
  const clockOption = options.clock ? { clock: options.clock } : {};
  const exec = user.section("exec");
  const base = exec === undefined
    ? await credentials.userAuthenticator(user, clockOption)
    : new execPlugins.ExecPluginAuthenticator(
      execPlugins.parseExecConfig(exec, path.dirname(user.file)),
      { file: user.file, user: entry.name, cluster: cluster.exec, ...clockOption },
    );
  if (certificate !== undefined) return credentials.withClientCertificate(certificate, base);
  return base ?? connections.anonymous;
}

function parseUrl(text: string, protocols: readonly string[]): string | undefined {
  try {
    const url = new URL(text);
    if (!protocols.includes(url.protocol) || url.hostname === "") return undefined;
    return url.href.replace(/\/+$/, "");
  } catch {
    return undefined;
  }
}

function homeConfig(options: KubeconfigOptions): string | undefined {
  const home = options.home ?? readEnv(options.env, "HOME") ?? readEnv(options.env, "USERPROFILE");
  return home ? path.join(home, ".kube", "config") : undefined;
}

function readEnv(env: KubeconfigOptions["env"], name: string): string | undefined {
  return env ? env[name] : Deno.env.get(name);
}

async function exists(file: string): Promise<boolean> {
  try {
    await Deno.stat(file);
    return true;
  } catch (error) {
    // Anything but "missing" is reported when the file is read.
    return !(error instanceof Deno.errors.NotFound);
  }
}
