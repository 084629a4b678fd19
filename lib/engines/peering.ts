// Kopf-compatible peering through one KopfPeering (in a namespace) or ClusterKopfPeering: a
// keep-alive of our own entry, a watch of the object that pauses this operator while a live
// peer has a higher (or the same) priority, removal of dead peers, and removal of our entry on
// exit. Started and stopped by the reactor per peering object; pauses only through its toggles.

import { getLogger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import * as toggles from "../async/toggles.ts";
import * as api from "../k8s/api.ts";
import * as errors from "../k8s/errors.ts";
import type * as transports from "../k8s/transport.ts";
import * as watching from "../k8s/watching.ts";
import type * as networking from "../settings/networking.ts";
import type * as peeringSettings from "../settings/peering.ts";
import * as references from "../structs/references.ts";
import * as peers from "../structs/peers.ts";

export { PEERING_RESOURCES } from "../structs/peers.ts";

const log = getLogger(["kopf", "peering"]);

/** What the liveness endpoint shows of one peering object. */
export interface PeeringStatus {
  /** `kopfpeerings.v1.kopf.dev@ns/default` or `clusterkopfpeerings.v1.kopf.dev/default`. */
  readonly object: string;
  readonly identity: string;
  readonly priority: number;
  /** `starting` until the first listing, then `active` or `paused`. */
  state: "starting" | "active" | "paused";
  /** The peers this operator pauses for (`id (priority N)`). */
  pausedBy: string[];
  /** What is wrong, if anything: a missing object, a forbidden watch, a failed keep-alive. */
  problem: string | undefined;
}

/** What one peering engine needs. */
export interface PeeringOptions {
  readonly transport: transports.Transport;
  /** KopfPeering or ClusterKopfPeering (of `kopf.dev` or the legacy `zalando.org`). */
  readonly resource: references.Resource;
  /** The namespace of a KopfPeering; undefined for ClusterKopfPeering. */
  readonly namespace: string | undefined;
  readonly identity: string;
  readonly settings: peeringSettings.PeeringSettings;
  readonly watching?: Partial<networking.WatchingSettings> | undefined;
  readonly clock: clocks.Clock;
  /** The operator's pause: this engine adds its toggles to it and drops them when it ends. */
  readonly paused: toggles.ToggleSet;
  /** Stops the engine; it then removes our entry from the peering object. */
  readonly signal: AbortSignal;
  /** Updated in place. */
  readonly status?: PeeringStatus | undefined;
  readonly random?: (() => number) | undefined;
  /**
   * A Lease already picks one of the replicas: peers of the same priority do not freeze each
   * other (Kopf's rule otherwise), only a higher priority (a developer's `--dev`) pauses, and a
   * missing or forbidden peering object is no news worth a warning.
   * @default {false}
   */
  readonly withLease?: boolean | undefined;
}

/** A fresh status record for `peer()`. */
export function newPeeringStatus(
  resource: references.Resource,
  namespace: string | undefined,
  settings: peeringSettings.PeeringSettings,
  identity: string,
): PeeringStatus {
  return {
    object: objectName(resource, namespace, settings.name),
    identity,
    priority: settings.priority,
    state: "starting",
    pausedBy: [],
    problem: undefined,
  };
}

/**
 * Takes part in one peering object until the signal aborts. The operator is paused from the
 * start until the object's first listing shows that no live peer outranks it, so a lower
 * instance never handles an object before it knows of a higher one.
 *
 * @example Peering in namespace `ns1` (the reactor does this for every served namespace)
 * ```ts ignore
 * await peering.peer({ transport, resource, namespace: "ns1", identity, settings: settings.peering,
 *   clock, paused, signal });
 * ```
 */
export async function peer(options: PeeringOptions): Promise<void> {
  const { settings, paused } = options;
  const status = options.status ??
    newPeeringStatus(options.resource, options.namespace, settings, options.identity);
  const where = objectName(options.resource, options.namespace, settings.name);
  // On from the start: nothing is handled before the first listing shows who else is there.
  const conflicts = paused.make(true, `peering ${where}`);
  const expired = paused.make(false, `peering ${where}: our keep-alive has expired`);
  const state = new PeeringState(options, status, conflicts, where);
  let wrote = false;
  try {
    await Promise.all([
      keepalive(options, state, expired, () => {
        wrote = true;
      }),
      observe(options, state),
    ]);
  } finally {
    state.dispose();
    paused.drop(conflicts);
    paused.drop(expired);
    // Leave the peering: the others need not wait for our entry to expire.
    if (wrote) {
      await touch(options, null).catch((error) =>
        log.warning(`Could not remove this operator from the peering ${where}: ${messageOf(error)}`)
      );
    }
  }
}

/** Writes our entry (or removes it with `null`); false when the peering object is missing. */
async function touch(
  options: PeeringOptions,
  entry: ReturnType<typeof peers.entryOf> | null,
  signal?: AbortSignal,
): Promise<boolean> {
  return await patchStatus(options, { [options.identity]: entry }, signal);
}

/** Merge-patches `status` of the peering object (its status subresource, if it has one). */
async function patchStatus(
  options: PeeringOptions,
  entries: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<boolean> {
  const subresource = options.resource.subresources?.includes("status") ? "status" : undefined;
  try {
    await api.patchObject(options.transport, options.resource, options.settings.name, {
      status: entries,
    }, {
      namespace: options.namespace,
      type: "merge",
      signal,
      ...(subresource ? { subresource } : {}),
    });
    return true;
  } catch (error) {
    if (error instanceof errors.ApiNotFoundError) return false;
    throw error;
  }
}

/**
 * Renews our entry every `lifetime - 5..10` s while the peering object exists (as the watch
 * sees it: nothing is written to a missing one); pauses if it could not for a whole lifetime.
 */
async function keepalive(
  options: PeeringOptions,
  state: PeeringState,
  expired: toggles.Toggle,
  wrote: () => void,
): Promise<void> {
  const { settings, clock, signal } = options;
  const random = options.random ?? Math.random;
  const lifetimeMs = settings.lifetimeSeconds * 1000;
  let lastOk: number | undefined;
  let failing = false;
  while (!signal.aborted) {
    let delaySeconds = peers.keepaliveSeconds(settings.lifetimeSeconds, random);
    try {
      await state.present.waitFor(true, signal);
    } catch {
      break;
    }
    try {
      const now = clock.now();
      const found = await touch(
        options,
        peers.entryOf(settings.priority, settings.lifetimeSeconds, now),
        signal,
      );
      if (found) wrote();
      lastOk = now;
      expired.set(false);
      if (failing) log.info(`Keep-alives in the peering ${state.where} work again`);
      failing = false;
      if (!settings.stealth) {
        const result = found ? "ok" : "the object is missing";
        log.debug(`Keep-alive in the peering ${state.where}: ${result}`);
      }
    } catch (error) {
      if (signal.aborted) break;
      const forbidden = error instanceof errors.ApiForbiddenError;
      const reason = forbidden
        ? `forbidden by RBAC; grant patch on ${references.fullName(options.resource)}`
        : messageOf(error);
      if (!failing) log.error(`The keep-alive in the peering ${state.where} failed: ${reason}`);
      failing = true;
      state.status.problem = `keep-alive failed: ${reason}`;
      // Once our entry has expired, others take over: we must not run meanwhile. (Where RBAC
      // forbids peering altogether and it is optional, others cannot see us anyway.)
      const expiredNow = lastOk === undefined || clock.now() - lastOk >= lifetimeMs;
      if (expiredNow && !(forbidden && !settings.mandatory)) expired.set(true);
      delaySeconds = Math.min(delaySeconds, 5); // retry soon
    }
    try {
      await clock.sleep(delaySeconds * 1000, signal);
    } catch {
      break;
    }
  }
}

/** Follows the peering object and keeps the `conflicts` toggle up to date. */
async function observe(options: PeeringOptions, state: PeeringState): Promise<void> {
  const fieldSelector = `metadata.name=${options.settings.name}`;
  try {
    for await (
      const batch of watching.watchBatches(options.transport, options.resource, {
        namespace: options.namespace,
        fieldSelector,
        signal: options.signal,
        settings: options.watching,
        ...(options.random ? { random: options.random } : {}),
      })
    ) {
      for (const event of batch) {
        switch (event.type) {
          case "LISTED":
          case "ADDED":
          case "MODIFIED":
            state.body = event.object;
            break;
          case "DELETED":
            state.body = undefined;
            break;
          case "SYNCED":
            state.synced = true;
            break;
          case "ERROR":
            state.failed(event.error);
            continue;
        }
      }
      await state.evaluate();
    }
  } catch (error) {
    if (!options.signal.aborted) throw error;
  }
}

/** What one engine knows of its peering object, and the decisions made on it. */
class PeeringState {
  synced = false;
  /** On while the watch shows the peering object: only then are keep-alives written. */
  readonly present = new toggles.Toggle(false, "the peering object exists");
  readonly status: PeeringStatus;
  readonly where: string;
  #body: api.KubernetesObject | undefined;
  readonly #options: PeeringOptions;
  readonly #conflicts: toggles.Toggle;
  #said = new Set<string>();
  #recheck: AbortController | undefined;
  #frozen = false;

  constructor(
    options: PeeringOptions,
    status: PeeringStatus,
    conflicts: toggles.Toggle,
    where: string,
  ) {
    this.#options = options;
    this.status = status;
    this.#conflicts = conflicts;
    this.where = where;
  }

  /** The peering object as last seen; undefined while it does not exist. */
  get body(): api.KubernetesObject | undefined {
    return this.#body;
  }

  set body(body: api.KubernetesObject | undefined) {
    this.#body = body;
    this.present.set(body !== undefined);
  }

  /**
   * A failed watch: say why once; the watcher retries by itself. Forbidden by RBAC, optional
   * peering is given up (as if the object did not exist) until the watch works; required
   * peering keeps the operator paused.
   */
  failed(error: errors.KubernetesError): void {
    const name = references.fullName(this.#options.resource);
    const grant = `grant get, list, watch and patch on ${name}`;
    if (error instanceof errors.ApiForbiddenError) {
      if (this.#options.settings.mandatory) {
        const problem = `Cannot watch the peering ${this.where}: forbidden by RBAC; ${grant}`;
        this.status.problem = problem;
        this.#once("watch forbidden", () => log.error(`${problem}, or run with --standalone`));
      } else if (!this.synced) {
        const problem = `Cannot watch the peering ${this.where}: forbidden by RBAC`;
        this.#set(false, [], problem);
        this.#once("watch forbidden", () =>
          log[this.#options.withLease ? "debug" : "warning"](
            `${problem}: running without peering, so other instances are not paused; ` +
              `${grant} to coordinate, or run with --standalone to say that this is the only one`,
          ));
      }
      return;
    }
    const problem = `Cannot watch the peering ${this.where}: ${error.message}`;
    this.status.problem = problem;
    this.#once(`watch ${error.name}`, () => log.error(problem));
  }

  /** Pauses or resumes by what the object says now. */
  async evaluate(): Promise<void> {
    if (!this.synced) return;
    const { settings, identity, clock } = this.#options;
    this.#cancelRecheck();
    if (this.body === undefined) {
      this.#frozen = false;
      if (settings.mandatory) {
        this.#set(true, [], "the peering object does not exist");
        this.#once("missing", () =>
          log.error(
            `The peering ${this.where} does not exist: this operator stays paused until it is ` +
              `created (see examples/peering.yaml), or run with --standalone`,
          ));
      } else {
        this.#set(false, [], "the peering object does not exist");
        this.#once("missing", () =>
          log[this.#options.withLease ? "debug" : "warning"](
            `The peering ${this.where} does not exist: running without peering, so other ` +
              `instances are not paused; create it (see examples/peering.yaml), or run with ` +
              `--standalone to say that this is the only one`,
          ));
      }
      return;
    }
    this.#said.delete("missing");
    const now = clock.now();
    const found = peers.parsePeers((this.body as { status?: unknown }).status, now);
    for (const { identity: id, problem } of found.malformed) {
      const fix = id
        ? `remove it: kubectl patch ${this.#kubectlTarget()} --type=merge -p '{"status":{"${id}":null}}'`
        : "fix or recreate the object";
      this.#once(`malformed ${id} ${problem}`, () =>
        log.warning(
          `Ignoring the entry "${id}" in the peering ${this.where}: ${problem}; ${fix}`,
        ));
    }
    const verdict = peers.judge(found.peers, identity, settings.priority);
    if (verdict.dead.length > 0) await this.#clean(verdict.dead);
    if (verdict.higher.length > 0) {
      this.#frozen = false;
      const by = verdict.higher.map(peers.describe);
      if (!this.#conflicts.on || this.status.state !== "paused") {
        log.info(`Pausing operations in favour of ${by.join(", ")} in the peering ${this.where}`);
      }
      this.#set(true, by, undefined);
    } else if (verdict.same.length > 0 && !this.#options.withLease) {
      const by = verdict.same.map(peers.describe);
      if (!this.#frozen) {
        log.warning(
          `Pausing: ${by.join(", ")} in the peering ${this.where} has the same priority ` +
            `${settings.priority}, so all of them pause (Kopf's rule); give each instance its ` +
            `own --priority, or run one replica, or use --peering lease`,
        );
      }
      this.#frozen = true;
      this.#set(true, by, undefined);
    } else {
      this.#frozen = false;
      if (this.#conflicts.on && this.status.state === "paused") {
        log.info(
          `Resuming operations: no peer outranks this operator in the peering ${this.where}`,
        );
      }
      this.#set(false, [], undefined);
    }
    if (verdict.recheckAt !== undefined) this.#scheduleRecheck(verdict.recheckAt);
  }

  dispose(): void {
    this.#cancelRecheck();
    this.present.set(false);
  }

  #set(on: boolean, by: string[], problem: string | undefined): void {
    this.status.state = on ? "paused" : "active";
    this.status.pausedBy = by;
    this.status.problem = problem;
    this.#conflicts.set(on);
  }

  /** Dead peers are removed by whoever notices them (as Kopf does); failures only logged. */
  async #clean(dead: peers.Peer[]): Promise<void> {
    const entries = Object.fromEntries(dead.map((p) => [p.identity, null]));
    log.info(
      `Removing dead peers from the peering ${this.where}: ${dead.map(peers.describe).join(", ")}`,
    );
    try {
      await patchStatus(this.#options, entries, this.#options.signal);
    } catch (error) {
      if (!this.#options.signal.aborted) {
        log.warning(`Could not remove the dead peers from ${this.where}: ${messageOf(error)}`);
      }
    }
  }

  /** When the blocking peers' entries expire, judge again (no event may come if they died). */
  #scheduleRecheck(at: number): void {
    const { clock, signal } = this.#options;
    const timer = new AbortController();
    this.#recheck = timer;
    const onStop = () => timer.abort();
    signal.addEventListener("abort", onStop, { once: true });
    clock.sleep(Math.max(0, at - clock.now()) + 1, timer.signal).then(
      () => {
        signal.removeEventListener("abort", onStop);
        if (this.#recheck === timer) this.evaluate().catch(() => {});
      },
      () => signal.removeEventListener("abort", onStop),
    );
  }

  #cancelRecheck(): void {
    this.#recheck?.abort();
    this.#recheck = undefined;
  }

  #once(key: string, say: () => void): void {
    if (this.#said.has(key)) return;
    this.#said.add(key);
    say();
  }

  #kubectlTarget(): string {
    const { resource, namespace, settings } = this.#options;
    const target = `${resource.plural}.${resource.group} ${settings.name}`;
    return namespace ? `${target} -n ${namespace}` : target;
  }
}

/** `kopfpeerings.v1.kopf.dev "default" in namespace "ns1"` as log lines name it. */
function objectName(
  resource: references.Resource,
  namespace: string | undefined,
  name: string,
): string {
  const scope = namespace ? ` in namespace "${namespace}"` : "";
  return `"${name}" (${references.fullName(resource)})${scope}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Options of `detectIdentity()`. */
export interface IdentityOptions {
  /** The environment, for `POD_ID` and the user name. @default {Deno.env} */
  env?: (name: string) => string | undefined;
  /** The host name. @default {Deno.hostname()} */
  hostname?: () => string;
  now?: number;
  random?: () => number;
  /** For `kopf freeze`/`resume`: a stable `user@host` without the time and random part. */
  manual?: boolean;
}

/**
 * This instance's peer identity, as Kopf makes it: `$POD_ID` when set (the pod's name through
 * the downward API), else `user@host/<YYYYmmddHHMMSS>/<3 characters>`.
 *
 * @example
 * ```ts
 * import { detectIdentity } from "./peering.ts";
 * detectIdentity({ env: (n) => (n === "POD_ID" ? "operator-7d9f-abcde" : undefined) }); // "operator-7d9f-abcde"
 * ```
 */
export function detectIdentity(options: IdentityOptions = {}): string {
  const env = options.env ?? readEnv;
  const pod = env("POD_ID");
  if (pod) return pod;
  const user = env("USER") ?? env("LOGNAME") ?? env("USERNAME") ?? "unknown";
  const host = (options.hostname ?? readHostname)();
  if (options.manual) return `${user}@${host}`;
  const stamp = new Date(options.now ?? Date.now()).toISOString().replace(/[-:T]/g, "").slice(
    0,
    14,
  );
  const random = options.random ?? Math.random;
  const letters = "abcdefhijklmnopqrstuvwxyz0123456789"; // Kopf's alphabet (no "g")
  const rnd = Array.from({ length: 3 }, () => letters[Math.floor(random() * letters.length)])
    .join("");
  return `${user}@${host}/${stamp}/${rnd}`;
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: Kopf's fallbacks apply
  }
}

function readHostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost"; // no --allow-sys
  }
}
