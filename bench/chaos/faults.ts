// The seven faults of the chaos run, each an injector that disturbs, heals, and returns when
// it stopped disturbing, with what it did: SIGKILL and restart, kube-apiserver stopped and
// started, etcd compacted (and the operator's connections cut, so its watches resume from a
// compacted resourceVersion), the proxy frozen then dropped, 429s from API Priority and
// Fairness, the CRD deleted and recreated, and the active replica killed for another to take
// over. Called by bench/chaos/schedule.ts; the method is in docs/chaos.md.

import * as cluster from "../../tools/control-plane/cluster.ts";
import * as api from "../../lib/k8s/api.ts";
import * as errors from "../../lib/k8s/errors.ts";
import type * as transports from "../../lib/k8s/transport.ts";
import type * as references from "../../lib/structs/references.ts";
import * as controlPlanes from "../../tests/_fixtures/control_plane.ts";
import * as crdFixtures from "../../tests/_fixtures/crds.ts";
import type * as ledgers from "./ledger.ts";
import type * as loads from "./load.ts";
import type * as options from "./options.ts";
import type * as oracles from "./oracle.ts";
import * as planes from "./plane.ts";
import type * as randoms from "./random.ts";
import * as replicasModule from "./replicas.ts";

const POLL_MS = 250;
const THROTTLE_NAME = "kopf-chaos-throttle";
const BALLAST_NAME = "kopf-chaos-ballast";
/**
 * The ballast's shares: with the built-in levels' ~245 shares and the default 600 seats, the
 * throttled level's 1 share gets ceil(600 × 1 / 5246) = 1 seat.
 */
const BALLAST_SHARES = 5000;
/** How long the APF configuration may take to be in force (its status says so). */
const APF_READY_TIMEOUT_MS = 10_000;
/** How long a CRD removal may wait for its objects' finalizers after the recovery cap. */
const STUCK_GRACE_MS = 30_000;

/** What an injector needs. */
export interface Context {
  readonly plane: planes.Plane;
  readonly replicas: readonly replicasModule.Replica[];
  readonly load: loads.Load;
  readonly ledger: ledgers.Ledger;
  readonly random: randoms.Random;
  readonly options: options.Options;
  /** Objects whose finalizers the driver removed itself (a CRD removal stuck on them). */
  readonly stuck: Set<string>;
  readonly log: (line: string) => void;
}

/** One injected fault, as the report lists it. */
export interface FaultRecord extends oracles.FaultWindow {
  readonly kind: options.FaultName;
  readonly details: Record<string, unknown>;
}

type Injector = (context: Context) => Promise<FaultRecord>;

/** The injectors by fault name. */
export const INJECTORS: Record<options.FaultName, Injector> = {
  async kill(context) {
    const replica = await activeReplica(context);
    const injectedAt = Date.now();
    const killed = await replica.kill();
    replica.start();
    return {
      kind: "kill",
      injectedAt,
      healedAt: Date.now(),
      details: { replica: replica.ident, pid: killed?.pid },
    };
  },

  async apiserver(context) {
    const down = context.random.between(...context.options.apiserverDownSeconds);
    const injectedAt = Date.now();
    await cluster.stopApiserver(context.plane.dir);
    const stoppedAt = Date.now();
    await delay(down * 1000);
    const starting = Date.now();
    try {
      await cluster.startApiserverAgain(context.plane.dir);
    } catch (error) {
      // Once more: the whole run depends on it.
      context.log(`apiserver: the restart failed (${error}); trying again`);
      await cluster.startApiserverAgain(context.plane.dir);
    }
    const healedAt = Date.now();
    return {
      kind: "apiserver",
      injectedAt,
      healedAt,
      details: {
        stopSeconds: seconds(stoppedAt - injectedAt),
        downSeconds: seconds(starting - stoppedAt),
        startSeconds: seconds(healedAt - starting),
      },
    };
  },

  async compaction(context) {
    const { proxies } = context.plane;
    const injectedAt = Date.now();
    // The operator's resume point must be older than the compacted revision: its connections
    // are held still (no event reaches it meanwhile), two writes of something else move the
    // revision past its last event, etcd is compacted, and then its connections are cut.
    for (const proxy of proxies) proxy.freeze();
    let dropped = 0;
    try {
      for (let i = 0; i < 2; i++) await bumpRevision(context);
      await controlPlanes.compactEtcd(context.plane.dir);
    } finally {
      for (const proxy of proxies) {
        dropped += proxy.drop();
        proxy.thaw();
      }
    }
    return {
      kind: "compaction",
      injectedAt,
      healedAt: Date.now(),
      details: { connectionsDropped: dropped, watchCache: context.options.watchCache },
    };
  },

  async proxy(context) {
    const replica = await activeReplica(context);
    const proxy = context.plane.proxies[context.replicas.indexOf(replica)]!;
    const frozen = context.random.between(...context.options.freezeSeconds);
    const injectedAt = Date.now();
    const open = proxy.open;
    proxy.freeze();
    let dropped = 0;
    try {
      await delay(frozen * 1000);
    } finally {
      dropped = proxy.drop();
      proxy.thaw();
    }
    return {
      kind: "proxy",
      injectedAt,
      healedAt: Date.now(),
      details: {
        replica: replica.ident,
        frozenSeconds: seconds(frozen * 1000),
        connectionsOpen: open,
        connectionsDropped: dropped,
      },
    };
  },

  async throttle(context) {
    const window = context.random.between(...context.options.throttleSeconds);
    const before = await rejectedRequests(context);
    const injectedAt = Date.now();
    const burst = Math.max(20, Math.round(context.options.objects / 4));
    let inForceAt = injectedAt;
    let rejected = 0;
    try {
      await applyThrottle(context);
      inForceAt = Date.now();
      // A burst, so that the operator has more than one request to make at a time.
      const bursting = context.load.fill(burst);
      await delay(window * 1000);
      rejected = (await rejectedRequests(context)) - before;
      await bursting;
    } finally {
      await removeThrottle(context);
    }
    return {
      kind: "throttle",
      injectedAt,
      healedAt: Date.now(),
      details: {
        windowSeconds: seconds(window * 1000),
        inForceAfterSeconds: seconds(inForceAt - injectedAt),
        burstCreates: burst,
        rejected429: rejected,
      },
    };
  },

  async crd(context) {
    const { transport } = context.plane;
    const injectedAt = Date.now();
    context.ledger.beginCrdRemoval(injectedAt);
    await api.deleteObject(transport, crdFixtures.crds, planes.CRD_NAME);
    const stuck = await waitCrdGone(context);
    const goneAt = Date.now();
    const swept = context.ledger.sweep();
    await crdFixtures.installCrd(transport, planes.CRD_OPTIONS);
    context.ledger.endCrdRemoval();
    const healedAt = Date.now();
    return {
      kind: "crd",
      injectedAt,
      healedAt,
      details: {
        removalSeconds: seconds(goneAt - injectedAt),
        recreateSeconds: seconds(healedAt - goneAt),
        objectsSwept: swept,
        stuckOnFinalizers: stuck,
      },
    };
  },

  async leader(context) {
    const replica = await activeReplica(context);
    const injectedAt = Date.now();
    const killed = await replica.kill();
    // Nothing to heal: the other replica must take over by itself, then this one comes back.
    const others = context.replicas.filter((r) => r !== replica);
    let takeoverMs: number | undefined;
    const deadline = injectedAt + context.options.recoveryCapSeconds * 1000;
    while (Date.now() < deadline) {
      const states = await Promise.all(others.map((r) => r.probe()));
      if (states.some((s) => s?.peeringState === "active")) {
        takeoverMs = Date.now() - injectedAt;
        break;
      }
      await delay(POLL_MS);
    }
    replica.start();
    return {
      kind: "leader",
      injectedAt,
      healedAt: injectedAt,
      details: { replica: replica.ident, pid: killed?.pid, takeoverMs },
    };
  },
};

/** The replica that handles now: the only one, or the one whose liveness says `active`. */
async function activeReplica(context: Context): Promise<replicasModule.Replica> {
  const [first] = context.replicas;
  if (context.replicas.length === 1) return first!;
  const states = await Promise.all(context.replicas.map((r) => r.probe()));
  const active = context.replicas.find((_, i) => states[i]?.peeringState === "active");
  if (active) return active;
  const holder = await leaseHolder(context.plane.loadTransport).catch(() => undefined);
  return context.replicas.find((r) => r.ident === holder) ?? first!;
}

const LEASES: references.Resource = {
  group: "coordination.k8s.io",
  version: "v1",
  plural: "leases",
  kind: "Lease",
  namespaced: true,
};

/** The Lease's holderIdentity, or "" when nobody holds it. */
export async function leaseHolder(transport: transports.Transport): Promise<string> {
  try {
    const lease = await api.getObject<{ spec?: { holderIdentity?: string } }>(
      transport,
      LEASES,
      replicasModule.LEASE_NAME,
      { namespace: planes.NAMESPACE },
    );
    return lease.spec?.holderIdentity ?? "";
  } catch (error) {
    if (error instanceof errors.ApiNotFoundError) return "";
    throw error;
  }
}

const CONFIGMAPS: references.Resource = {
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};

async function bumpRevision(context: Context): Promise<void> {
  await api.createObject(context.plane.transport, CONFIGMAPS, {
    metadata: {
      name: `compaction-${crypto.randomUUID().slice(0, 8)}`,
      namespace: planes.NAMESPACE,
    },
  });
}

const PRIORITY_LEVELS: references.Resource = {
  group: "flowcontrol.apiserver.k8s.io",
  version: "v1",
  plural: "prioritylevelconfigurations",
  kind: "PriorityLevelConfiguration",
  namespaced: false,
};
const FLOW_SCHEMAS: references.Resource = {
  group: "flowcontrol.apiserver.k8s.io",
  version: "v1",
  plural: "flowschemas",
  kind: "FlowSchema",
  namespaced: false,
};

/**
 * A priority level of one seat that rejects what does not fit (429), nothing lent or borrowed,
 * a ballast level that dilutes the shares (and lends all its seats to the other levels), and
 * a FlowSchema that sends every request of the operator's user to the small level.
 */
async function applyThrottle(context: Context): Promise<void> {
  const { transport } = context.plane;
  await api.createObject(transport, PRIORITY_LEVELS, {
    metadata: { name: THROTTLE_NAME },
    spec: {
      type: "Limited",
      limited: {
        nominalConcurrencyShares: 1,
        lendablePercent: 0,
        borrowingLimitPercent: 0,
        limitResponse: { type: "Reject" },
      },
    },
  } as api.KubernetesObject);
  await api.createObject(transport, PRIORITY_LEVELS, {
    metadata: { name: BALLAST_NAME },
    spec: {
      type: "Limited",
      limited: {
        nominalConcurrencyShares: BALLAST_SHARES,
        lendablePercent: 100,
        limitResponse: { type: "Reject" },
      },
    },
  } as api.KubernetesObject);
  await api.createObject(transport, FLOW_SCHEMAS, {
    metadata: { name: THROTTLE_NAME },
    spec: {
      priorityLevelConfiguration: { name: THROTTLE_NAME },
      matchingPrecedence: 1000,
      distinguisherMethod: { type: "ByUser" },
      rules: [{
        subjects: [{ kind: "User", user: { name: planes.OPERATOR_USER } }],
        resourceRules: [{
          verbs: ["*"],
          apiGroups: ["*"],
          resources: ["*"],
          clusterScope: true,
          namespaces: ["*"],
        }],
        nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
      }],
    },
  } as api.KubernetesObject);
  // In force once the APF controller has seen the schema's level (it is no longer dangling).
  const deadline = Date.now() + APF_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const schema = await api.getObject<{
      status?: { conditions?: { type?: string; status?: string }[] };
    }>(transport, FLOW_SCHEMAS, THROTTLE_NAME);
    const dangling = schema.status?.conditions?.find((c) => c.type === "Dangling");
    if (dangling?.status === "False") return;
    await delay(POLL_MS);
  }
  context.log("throttle: the FlowSchema's status did not confirm it within 10 s; going on");
}

async function removeThrottle(context: Context): Promise<void> {
  const { transport } = context.plane;
  const remove = (resource: references.Resource, name: string) =>
    api.deleteObject(transport, resource, name).catch((error) => {
      if (!(error instanceof errors.ApiNotFoundError)) throw error;
    });
  await remove(FLOW_SCHEMAS, THROTTLE_NAME);
  await remove(PRIORITY_LEVELS, THROTTLE_NAME);
  await remove(PRIORITY_LEVELS, BALLAST_NAME);
}

/** 429s that APF gave the throttled schema, from kube-apiserver's metrics (cumulative). */
async function rejectedRequests(context: Context): Promise<number> {
  const metrics = await context.plane.fetchText("/metrics");
  let total = 0;
  for (const line of metrics.split("\n")) {
    if (
      line.startsWith("apiserver_flowcontrol_rejected_requests_total{") &&
      line.includes(`flow_schema="${THROTTLE_NAME}"`)
    ) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
    }
  }
  return total;
}

/**
 * Waits until the CRD is gone. Its objects go first, each once the operator released its
 * finalizer; past the recovery cap, the driver removes the finalizers itself and returns the
 * names it had to (the oracle counts them lost).
 */
async function waitCrdGone(context: Context): Promise<string[]> {
  const { transport } = context.plane;
  const gone = async () => {
    try {
      await api.getObject(transport, crdFixtures.crds, planes.CRD_NAME);
      return false;
    } catch (error) {
      if (error instanceof errors.ApiNotFoundError) return true;
      throw error;
    }
  };
  const deadline = Date.now() + context.options.recoveryCapSeconds * 1000;
  while (Date.now() < deadline) {
    if (await gone()) return [];
    await delay(POLL_MS);
  }
  const { items } = await api.listObjects(transport, context.plane.resource, {
    namespace: planes.NAMESPACE,
  });
  const stuck = items.map((o) => o.metadata?.name ?? "").filter(Boolean);
  context.log(`crd: the removal still waits for ${stuck.length} objects; removing finalizers`);
  for (const name of stuck) {
    context.stuck.add(name);
    await api.patchObject(transport, context.plane.resource, name, {
      metadata: { finalizers: null },
    }, { namespace: planes.NAMESPACE }).catch(() => {});
  }
  const grace = Date.now() + STUCK_GRACE_MS;
  while (!(await gone())) {
    if (Date.now() > grace) {
      throw new Error(`The CRD "${planes.CRD_NAME}" is not gone even without finalizers`);
    }
    await delay(POLL_MS);
  }
  return stuck;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
