// Login handlers' results as a connection: a `ConnectionInfo` checked and turned into the
// `Connection` the transport uses, the choice among several handlers, and an authenticator that
// runs the login handlers again when the API server rejects credentials that cannot refresh
// themselves; and the stock logins (kubeconfig, service account) for handlers to return. Called
// by the reactor when it connects. Never sends a request, and never puts a token, password or
// key into a message.

import type { Logger } from "@logtape/logtape";
import { getLogger } from "@logtape/logtape";
import * as connections from "../k8s/connections.ts";
import * as credentials from "../k8s/credentials.ts";
import * as incluster from "../k8s/incluster.ts";
import * as kubeconfig from "../k8s/kubeconfig.ts";
import type * as contextTypes from "../registry/contexts.ts";
import type * as handlers from "../registry/handlers.ts";
import * as activities from "./activities.ts";
import * as errors from "./errors.ts";

/** A login run: the activity's handlers and what they share, without the activity's name. */
export type LoginRun = Omit<activities.ActivityRun, "activity" | "transform" | "once">;

/** A login handler's result, checked. */
interface Offer {
  readonly connection: connections.Connection;
  readonly priority: number;
}

const inspectSymbol = Symbol.for("Deno.customInspect");

/**
 * Runs the login handlers and returns the connection of the highest priority (the first
 * registered among equals). Its authenticator runs the login handlers again after a 401 that
 * its own credentials cannot recover from, and then takes only the new credentials: the server
 * and CA stay those of the first login.
 *
 * @throws {activities.ActivityError} when a login handler fails for good, or none returns a
 * connection.
 */
export async function login(run: LoginRun): Promise<connections.Connection> {
  const logger = run.logger ?? getLogger(["kopf", "activities", "authentication"]);
  const first = await offer({ ...run, logger });
  const authenticator = new LoginAuthenticator(first, () => offer({ ...run, logger }), logger);
  return { ...first, authenticator };
}

/**
 * Checks what a login handler returned and makes a connection of it: a `Connection` is taken
 * as it is (with the handler named in its source); a `ConnectionInfo` is validated field by
 * field. `null`/`undefined` mean "no connection from this handler".
 *
 * @throws {errors.PermanentError} naming the field at fault: retrying cannot fix it.
 */
export function toConnection(
  result: unknown,
  handler: Pick<handlers.BaseHandler, "id">,
): { connection: connections.Connection; priority: number } | undefined {
  if (result === null || result === undefined) return undefined;
  const source = `login handler "${handler.id}"`;
  const fail = (detail: string): never => {
    throw new errors.PermanentError(`The ${source} returned an unusable connection: ${detail}`);
  };
  if (typeof result !== "object") fail(`expected an object, got ${typeof result}`);
  const given = result as Record<string, unknown>;
  if (isConnection(given)) {
    return { connection: { ...given, source: `${source} (${given.source})` }, priority: 0 };
  }
  const text = (key: keyof contextTypes.ConnectionInfo): string | undefined => {
    const value = given[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" || value === "") fail(`"${key}" must be a non-empty string`);
    return value as string;
  };
  const server = text("server")?.replace(/\/+$/, "");
  if (server === undefined) return fail(`"server" is missing`);
  let url: URL | undefined;
  try {
    url = new URL(server);
  } catch {
    // reported below
  }
  if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:")) {
    fail(`"server" must be an http(s) URL, got "${server}"`);
  }
  const token = text("token");
  const scheme = text("scheme") ?? "Bearer";
  const username = text("username");
  const password = text("password");
  const certificate = text("certificateData");
  const key = text("privateKeyData");
  if (token !== undefined && (username !== undefined || password !== undefined)) {
    fail(`give either "token" or "username" and "password", not both`);
  }
  if ((username === undefined) !== (password === undefined)) {
    fail(`"username" and "password" go together`);
  }
  if ((certificate === undefined) !== (key === undefined)) {
    fail(`"certificateData" and "privateKeyData" go together`);
  }
  const priority = given.priority ?? 0;
  if (typeof priority !== "number" || !Number.isFinite(priority)) {
    fail(`"priority" must be a number`);
  }
  const insecure = given.insecure ?? false;
  if (typeof insecure !== "boolean") fail(`"insecure" must be true or false`);
  let authenticator: connections.Authenticator | undefined;
  if (token !== undefined) {
    authenticator = scheme === "Bearer"
      ? credentials.bearerToken(token, `bearer token from the ${source}`)
      : connections.fixedCredentials({ authorization: `${scheme} ${token}` });
  } else if (username !== undefined && password !== undefined) {
    authenticator = credentials.basicAuth(username, password);
  }
  if (certificate !== undefined && key !== undefined) {
    authenticator = credentials.withClientCertificate({ cert: certificate, key }, authenticator);
  }
  const caData = text("caData");
  const proxyUrl = text("proxyUrl");
  return {
    connection: {
      server,
      caCerts: caData === undefined ? [] : [caData],
      insecureSkipTlsVerify: insecure as boolean,
      namespace: text("defaultNamespace") ?? "default",
      source,
      authenticator: authenticator ?? connections.anonymous,
      ...(proxyUrl === undefined ? {} : { proxyUrl }),
    },
    priority: priority as number,
  };
}

/** Runs the login handlers once (with retries) and picks the best connection. */
async function offer(run: LoginRun & { logger: Logger }): Promise<connections.Connection> {
  const results = await activities.runActivity({
    ...run,
    activity: "authentication",
    transform: (result, handler) => toConnection(result, handler),
  });
  let best: Offer | undefined;
  for (const result of results.values()) {
    const offered = result as Offer | undefined;
    if (offered !== undefined && (best === undefined || offered.priority > best.priority)) {
      best = offered;
    }
  }
  if (best === undefined) {
    throw new activities.ActivityError(
      "authentication",
      new Map(run.handlers.map((h) => [h.id, "it returned no connection"])),
    );
  }
  return best.connection;
}

/**
 * The credentials of the login handlers' connection; after a 401 that the connection's own
 * authenticator cannot recover from, the login handlers run again (once for all the requests
 * that failed together) and their new credentials replace the old ones.
 */
class LoginAuthenticator implements connections.Authenticator {
  #current: connections.Connection;
  readonly #relogin: () => Promise<connections.Connection>;
  readonly #logger: Logger;
  #pending: Promise<void> | undefined;

  constructor(
    first: connections.Connection,
    relogin: () => Promise<connections.Connection>,
    logger: Logger,
  ) {
    this.#current = first;
    this.#relogin = relogin;
    this.#logger = logger;
  }

  credentials(signal?: AbortSignal): Promise<connections.Credentials> {
    return this.#current.authenticator.credentials(signal);
  }

  async refresh(used: connections.Credentials, signal?: AbortSignal): Promise<boolean> {
    const current = this.#current.authenticator;
    // Another request's 401 may have renewed the credentials already.
    if (!credentials.sameCredentials(await current.credentials(signal), used)) return true;
    if (await current.refresh(used, signal)) return true;
    this.#pending ??= this.#renew().finally(() => this.#pending = undefined);
    try {
      await this.#pending;
    } catch {
      return false; // logged by #renew; the request's 401 stands
    }
    return !credentials.sameCredentials(await this.credentials(signal), used);
  }

  async #renew(): Promise<void> {
    this.#logger.info(
      "Re-authentication has been initiated: the API server rejected the credentials",
    );
    try {
      const renewed = await this.#relogin();
      if (renewed.server !== this.#current.server) {
        this.#logger.warning(
          `The login handlers now give the server "${renewed.server}": only the credentials are ` +
            `renewed; the operator keeps "${this.#current.server}" until it restarts`,
        );
      }
      this.#current = { ...this.#current, authenticator: renewed.authenticator };
      this.#logger.info("Re-authentication has finished");
    } catch (error) {
      this.#logger.error(`Re-authentication has failed: ${errors.describe(error)}`);
      throw error;
    }
  }

  toString(): string {
    return `credentials from the ${this.#current.source}`;
  }

  [inspectSymbol](): string {
    return this.toString();
  }
}

function isConnection(
  value: Record<string, unknown>,
): value is connections.Connection & Record<string, unknown> {
  const authenticator = value.authenticator as Record<string, unknown> | undefined;
  return typeof authenticator === "object" && authenticator !== null &&
    typeof authenticator.credentials === "function" && Array.isArray(value.caCerts);
}

/**
 * For login handlers: the connection of a kubeconfig, found as kubectl finds it (the given
 * file, else KUBECONFIG, else ~/.kube/config) with its current or the given context, as Kopf's
 * `login_with_kubeconfig`. Exec plugins and token files refresh themselves.
 *
 * @example Logging in with one context of the kubeconfig
 * ```ts ignore
 * import * as kopf from "jsr:@kopf/kopf";
 * kopf.on.login(function login_fn() {
 *   return kopf.loginWithKubeconfig({ context: "admin@prod" });
 * });
 * ```
 */
export function loginWithKubeconfig(
  options: kubeconfig.KubeconfigOptions = {},
): Promise<connections.Connection> {
  return kubeconfig.loadKubeconfig(options);
}

/**
 * For login handlers: the connection of the pod's service account (the token, CA and namespace
 * that kubelet mounts), as Kopf's `login_with_service_account`. The token is re-read as kubelet
 * rotates it.
 *
 * @example Logging in as the pod's service account, else with the kubeconfig
 * ```ts ignore
 * import * as kopf from "jsr:@kopf/kopf";
 * kopf.on.login(function login_fn() {
 *   return Deno.env.get("KUBERNETES_SERVICE_HOST")
 *     ? kopf.loginWithServiceAccount()
 *     : kopf.loginWithKubeconfig();
 * });
 * ```
 */
export function loginWithServiceAccount(
  options: incluster.InClusterOptions = {},
): Promise<connections.Connection> {
  return incluster.loadInCluster(options);
}
