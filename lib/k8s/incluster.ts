// The in-cluster configuration: the API server from KUBERNETES_SERVICE_HOST/_PORT and the
// pod's service account (token, ca.crt, namespace). Called by kubeconfig.ts's loadConnection;
// never keeps a token longer than the reload interval, since kubelet rotates it.

import type * as clock from "../async/clock.ts";
import type * as connections from "./connections.ts";
import * as sections from "./_sections.ts";
import * as credentials from "./credentials.ts";
import * as errors from "./errors.ts";

/** Where kubelet mounts the service account of a pod. */
export const SERVICE_ACCOUNT_DIRECTORY = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Options of {@link loadInCluster}. */
export interface InClusterOptions {
  /** The environment to read `KUBERNETES_SERVICE_*` and `POD_NAMESPACE` from. @default Deno.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The service-account directory. @default "/var/run/secrets/kubernetes.io/serviceaccount" */
  readonly directory?: string;
  /** The clock the token reload interval is measured on. @default realClock */
  readonly clock?: clock.Clock;
  /** How often the token file is re-read. @default {60} */
  readonly tokenReloadIntervalSeconds?: number;
}

/** True when `KUBERNETES_SERVICE_HOST` is set, i.e. the process runs in a pod. */
export function isInCluster(options: Pick<InClusterOptions, "env"> = {}): boolean {
  return Boolean(readEnv(options.env, "KUBERNETES_SERVICE_HOST"));
}

/**
 * Builds the connection of a pod's service account, as client-go's `InClusterConfig` does:
 * server `https://HOST:PORT` (IPv6 bracketed), the CA from `ca.crt`, the namespace from
 * `POD_NAMESPACE` or the `namespace` file (else `default`), and the token file re-read every
 * minute and after a 401. A missing variable, token or CA is a one-line `ConfigError`.
 *
 * @example Connecting from inside a pod
 * ```ts ignore
 * const connection = await loadInCluster();
 * console.log(connection.server, connection.namespace);
 * ```
 */
export async function loadInCluster(
  options: InClusterOptions = {},
): Promise<connections.Connection> {
  const directory = options.directory ?? SERVICE_ACCOUNT_DIRECTORY;
  const host = readEnv(options.env, "KUBERNETES_SERVICE_HOST");
  const port = readEnv(options.env, "KUBERNETES_SERVICE_PORT");
  if (!host) throw notInPod("KUBERNETES_SERVICE_HOST");
  if (!port) throw notInPod("KUBERNETES_SERVICE_PORT");
  const bracketed = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const server = `https://${bracketed}:${port}`;
  try {
    new URL(server);
  } catch {
    throw new errors.ConfigError(
      `Cannot use the in-cluster configuration: KUBERNETES_SERVICE_HOST and _PORT give "${server}", which is not a URL`,
      { field: "KUBERNETES_SERVICE_HOST" },
    );
  }

  const token = (await readServiceAccountFile(directory, "token")).trim();
  const ca = await readServiceAccountFile(directory, "ca.crt");
  const namespace = readEnv(options.env, "POD_NAMESPACE") ||
    (await readServiceAccountFile(directory, "namespace", true)).trim() || "default";
  const authenticator = new credentials.TokenFileAuthenticator(`${directory}/token`, {
    initial: token,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.tokenReloadIntervalSeconds === undefined
      ? {}
      : { reloadIntervalSeconds: options.tokenReloadIntervalSeconds }),
  });
  return {
    server,
    caCerts: [ca],
    insecureSkipTlsVerify: false,
    namespace,
    source: `in-cluster service account ${directory}`,
    authenticator,
  };
}

function notInPod(name: string): errors.ConfigError {
  return new errors.ConfigError(
    `Cannot use the in-cluster configuration: ${name} is not set (the process does not run in a pod)`,
    { field: name },
  );
}

async function readServiceAccountFile(
  directory: string,
  name: string,
  optional = false,
): Promise<string> {
  const file = `${directory}/${name}`;
  try {
    const text = await Deno.readTextFile(file);
    if (text.trim() === "" && !optional) throw new Error("the file is empty");
    return text;
  } catch (error) {
    if (optional && error instanceof Deno.errors.NotFound) return "";
    throw new errors.ConfigError(
      `Cannot use the in-cluster configuration: "${file}" cannot be read: ${
        sections.describeReadError(error)
      }`,
      { file, field: name, cause: error },
    );
  }
}

function readEnv(env: InClusterOptions["env"], name: string): string | undefined {
  return env ? env[name] : Deno.env.get(name);
}
