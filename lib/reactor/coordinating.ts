// Coordination of several instances of one operator: decides the peering mode (standalone,
// Kopf's peering objects, or a Lease), runs one peering engine per peering object (per served
// namespace, or one cluster-wide), and in the Lease mode the leader election too (where the
// peering objects are served, a developer's `--dev` still pauses the leader). Called by
// running.ts; the watchers pause through the operator's toggle set, never through this module.

import { getLogger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import * as toggles from "../async/toggles.ts";
import type * as transports from "../k8s/transport.ts";
import * as leases from "../engines/leases.ts";
import * as peering from "../engines/peering.ts";
import type * as operatorSettings from "../settings/operator.ts";
import * as references from "../structs/references.ts";

const log = getLogger(["kopf", "peering"]);

/** The peering state, updated in place; the liveness endpoint shows it. */
export interface PeeringReport {
  /** `starting` until the operator has connected, then what the settings chose. */
  mode: "starting" | "standalone" | "kopf" | "lease";
  identity: string;
  /** The operator's pause: on while any reason (its member toggles) holds. */
  readonly paused: toggles.ToggleSet;
  /** Per peering object (Kopf mode). */
  readonly peerings: Map<string, peering.PeeringStatus>;
  /** The election (Lease mode). */
  lease: (leases.LeaseStatus & { readonly lease: string }) | undefined;
}

/**
 * A fresh report, for `operator({ peering })` and the liveness endpoint: the operator fills it
 * in as it runs.
 *
 * @example Watching whether this instance is the active one
 * ```ts ignore
 * import * as kopf from "jsr:@kopf/kopf";
 * const peering = kopf.newPeeringReport();
 * const running = kopf.operator({ namespaces: ["default"], peering });
 * peering.paused.listen((paused) => console.log(paused ? "paused" : "active"));
 * await running;
 * ```
 */
export function newReport(identity = ""): PeeringReport {
  return {
    mode: "starting",
    identity,
    paused: new toggles.ToggleSet(),
    peerings: new Map(),
    lease: undefined,
  };
}

/** The report as JSON for the liveness endpoint: active or paused, and by what. */
export function describe(report: PeeringReport): Record<string, unknown> {
  return {
    mode: report.mode,
    identity: report.identity,
    state: stateOf(report),
    /** The peers this operator pauses for. */
    pausedBy: [...report.peerings.values()].flatMap((p) => p.pausedBy),
    /** What holds the pause: peering objects, the Lease, a missing peering resource. */
    reasons: report.paused.reasons(),
    ...(report.peerings.size ? { peerings: [...report.peerings.values()] } : {}),
    ...(report.lease ? { lease: report.lease } : {}),
  };
}

/**
 * `starting` until the operator connected and every peering object was read once (it is paused
 * meanwhile, but not for a peer), then `paused` or `active`.
 */
function stateOf(report: PeeringReport): "starting" | "paused" | "active" {
  if (report.mode === "starting") return "starting";
  if ([...report.peerings.values()].some((p) => p.state === "starting")) return "starting";
  return report.paused.on ? "paused" : "active";
}

/** What coordination needs from the operator. */
export interface CoordinationOptions {
  readonly transport: transports.Transport;
  readonly settings: operatorSettings.OperatorSettings;
  readonly clock: clocks.Clock;
  /** The operator serves the whole cluster (then peering is cluster-wide, unless set). */
  readonly clusterwide: boolean;
  /** The connection's default namespace: where the Lease lives unless set. */
  readonly defaultNamespace: string | undefined;
  readonly report: PeeringReport;
}

interface Engine {
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

/** Starts and stops the peering engines as the served namespaces and resources change. */
export class Coordination {
  readonly #options: CoordinationOptions;
  /** The peering engines by peering object. */
  readonly #engines = new Map<string, Engine>();
  /** The leader election, in the Lease mode. */
  #election: Engine | undefined;
  readonly #missing: toggles.Toggle;
  #missingSaid: boolean | undefined;
  #stopped = false;

  constructor(options: CoordinationOptions) {
    this.#options = options;
    const { settings, report } = options;
    this.#missing = report.paused.make(false, "peering: the peering resource is not served");
    const peeringSettings = settings.peering;
    if (peeringSettings.standalone) {
      report.mode = "standalone";
      log.info("Running standalone: no other instance of this operator is paused or noticed");
    } else if (peeringSettings.mode === "lease") {
      report.mode = "lease";
      this.#startLease();
    } else {
      report.mode = "kopf";
    }
  }

  /** Whether the operator is paused right now. */
  get paused(): toggles.ToggleSet {
    return this.#options.report.paused;
  }

  /**
   * Brings the peering engines in line with what is served: call it with every discovery
   * result and namespace change, before the watchers start (so they start paused).
   */
  reconcile(served: readonly references.Resource[], namespaces: ReadonlySet<string | undefined>) {
    const mode = this.#options.report.mode;
    if (this.#stopped || (mode !== "kopf" && mode !== "lease")) return;
    const { settings } = this.#options;
    const clusterwide = settings.peering.clusterwide ?? this.#options.clusterwide;
    const resource = peeringResource(served, !clusterwide);
    const wanted = new Map<string, string | undefined>();
    if (resource) {
      for (const namespace of clusterwide ? [undefined] : namespaces) {
        wanted.set(engineKey(resource, namespace), namespace);
      }
    }
    if (mode === "kopf") this.#sayMissing(resource === undefined, clusterwide);
    for (const [key, engine] of this.#engines) {
      if (wanted.has(key)) continue;
      engine.stop.abort();
      this.#engines.delete(key);
      this.#options.report.peerings.delete(key);
    }
    for (const [key, namespace] of wanted) {
      if (!this.#engines.has(key) && resource) this.#startPeering(key, resource, namespace);
    }
  }

  /** Stops every engine: our peering entries are removed, a held Lease is released. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const engines = [...this.#engines.values(), ...(this.#election ? [this.#election] : [])];
    for (const engine of engines) engine.stop.abort();
    await Promise.all(engines.map((e) => e.done));
    this.#engines.clear();
  }

  #sayMissing(missing: boolean, clusterwide: boolean): void {
    const { settings } = this.#options;
    this.#missing.set(missing && settings.peering.mandatory);
    if (this.#missingSaid === missing) return;
    this.#missingSaid = missing;
    const kind = clusterwide ? "ClusterKopfPeering" : "KopfPeering";
    if (!missing) return;
    if (settings.peering.mandatory) {
      log.error(
        `Peering "${settings.peering.name}" is required, but the cluster does not serve ${kind} ` +
          `(kopf.dev/v1): this operator stays paused until the CRD is applied ` +
          `(examples/peering.yaml), or run with --standalone`,
      );
    } else {
      // Info, not a warning: most clusters have no peering, and a single instance needs none.
      log.info(
        `The cluster does not serve ${kind} (kopf.dev/v1): running without peering, so other ` +
          `instances are not paused; apply examples/peering.yaml to coordinate, or run with ` +
          `--standalone to say that this is the only one`,
      );
    }
  }

  #startPeering(
    key: string,
    resource: references.Resource,
    namespace: string | undefined,
  ): void {
    const { transport, settings, clock, report } = this.#options;
    const stop = new AbortController();
    const status = peering.newPeeringStatus(resource, namespace, settings.peering, report.identity);
    report.peerings.set(key, status);
    // peer() joins the pause at once (before its first await): the watchers start paused.
    const done = peering.peer({
      transport,
      resource,
      namespace,
      identity: report.identity,
      settings: settings.peering,
      watching: settings.watching,
      clock,
      paused: report.paused,
      signal: stop.signal,
      status,
      // With a Lease, the replicas (of one priority) are told apart by it, not by peering.
      withLease: report.mode === "lease",
    }).catch((error) => {
      if (!stop.signal.aborted) {
        log.error(`The peering ${status.object} failed: ${error}`, { error });
      }
    });
    this.#engines.set(key, { stop, done });
  }

  #startLease(): void {
    const { transport, settings, clock, report, defaultNamespace } = this.#options;
    const lease = settings.peering.lease;
    const namespace = lease.namespace ?? defaultNamespace ?? "default";
    const name = lease.name ?? `kopf-leader-${settings.peering.name}`;
    const status = { ...leases.newLeaseStatus(), lease: `${namespace}/${name}` };
    report.lease = status;
    const notLeading = report.paused.make(true, `lease ${namespace}/${name}: not the leader`);
    const stop = new AbortController();
    const done = leases.elect({
      transport,
      namespace,
      name,
      identity: report.identity,
      settings: lease,
      clock,
      signal: stop.signal,
      notLeading,
      status,
    }).catch((error) => {
      if (!stop.signal.aborted) log.error(`The leader election failed: ${error}`, { error });
    });
    this.#election = { stop, done };
  }
}

/** The served peering resource of the scope: `kopf.dev` first, the legacy `zalando.org` next. */
function peeringResource(
  served: readonly references.Resource[],
  namespaced: boolean,
): references.Resource | undefined {
  for (const wanted of peering.PEERING_RESOURCES) {
    if (wanted.namespaced !== namespaced) continue;
    const found = served.find((r) =>
      r.group === wanted.group && r.plural === wanted.plural && r.version === wanted.version
    );
    if (found) return found;
  }
  return undefined;
}

function engineKey(resource: references.Resource, namespace: string | undefined): string {
  return namespace === undefined
    ? references.fullName(resource)
    : `${references.fullName(resource)}@${namespace}`;
}
