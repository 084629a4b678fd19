// Lease leader election on a real API server, with our operator as child processes (`kopf run
// --peering lease:NAME`): replicas SIGKILLed one leader after another under a steady create
// load hand over with every object handled, no handler re-run after its success, and never two
// leaders handling at once; a graceful stop releases the Lease, so the next leader takes over
// within a retry period or two instead of waiting for the Lease to expire.

import { deepEqual, equal, ok } from "node:assert/strict";
import { parse, stringify } from "yaml";
import * as leases from "../../lib/engines/leases.ts";
import * as api from "../../lib/k8s/api.ts";
import * as errors from "../../lib/k8s/errors.ts";
import * as watching from "../../lib/k8s/watching.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as peers from "../_fixtures/peers.ts";

/**
 * Short Lease timings ("duration,renew,retry" seconds: lease 6 s, renew deadline 4 s, retry 1 s,
 * instead of client-go's 15/10/2) keep the test short; the peering_operator.ts fixture's startup
 * handler applies them.
 */
const LEASE_TIMINGS = "6,4,1";
const LEASE_DURATION_MS = 6_000;
const RETRY_PERIOD_MS = 1_000;
/** client-go's JitterFactor: a candidate retries every `p..2.2p`. */
const MAX_RETRY_MS = RETRY_PERIOD_MS * 2.2;
const KILLS = 5;
const LOAD_INTERVAL_MS = 150;
/** Objects a new leader completes before it is killed in turn: it handles, not just holds. */
const HANDLED_BEFORE_KILL = 3;
const LOG_TAIL_LINES = 40;
const DIFFBASE = "kopf.zalando.org/last-handled-configuration";

/** The admin kubeconfig with the test namespace as its context's: ours puts its Lease there. */
async function namespacedKubeconfig(w: e2e.World): Promise<string> {
  const config = parse(await Deno.readTextFile(w.kubeconfigPath)) as {
    "current-context": string;
    contexts: { name: string; context: Record<string, unknown> }[];
  };
  for (const entry of config.contexts) {
    if (entry.name === config["current-context"]) entry.context.namespace = w.namespace;
  }
  const path = await Deno.makeTempFile({ prefix: "kopf-leases-kubeconfig-" });
  await Deno.writeTextFile(path, stringify(config));
  return path;
}

/** A Lease record as the watch saw it, with when (epoch ms) it arrived. */
interface Seen {
  readonly at: number;
  readonly spec: leases.LeaseRecord;
}

/** Every version of one Lease from now on, watched in the background until disposed. */
function leaseHistory(w: e2e.World, name: string): { readonly seen: Seen[] } & AsyncDisposable {
  const seen: Seen[] = [];
  const stop = new AbortController();
  const done = (async () => {
    const events = watching.watch<leases.Lease>(w.transport, leases.LEASES, {
      namespace: w.namespace,
      fieldSelector: `metadata.name=${name}`,
      signal: stop.signal,
    });
    for await (const event of events) {
      if (event.type === "LISTED" || event.type === "ADDED" || event.type === "MODIFIED") {
        seen.push({ at: Date.now(), spec: event.object.spec ?? {} });
      }
    }
  })().catch(() => {});
  return {
    seen,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await done;
    },
  };
}

/** Where ours put the Lease: the test namespace (from the kubeconfig), else "default". */
async function findLease(
  w: e2e.World,
  name: string,
): Promise<{ namespace: string; lease: leases.Lease }> {
  for (const namespace of [w.namespace, "default"]) {
    try {
      const lease = await api.getObject<leases.Lease>(w.transport, leases.LEASES, name, {
        namespace,
      });
      return { namespace, lease };
    } catch (error) {
      if (!(error instanceof errors.ApiNotFoundError)) throw error;
    }
  }
  throw new Error(`Cannot find Lease "${name}": not in "${w.namespace}", not in "default"`);
}

function time(microTime: string | undefined): number {
  const ms = Date.parse(microTime ?? "");
  ok(!Number.isNaN(ms), `a Lease time: ${microTime}`);
  return ms;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface ReplicaOptions {
  readonly kubeconfigPath: string;
  readonly namespace: string;
  readonly invocations: string;
  /** The Lease's name: `--peering lease:NAME`. */
  readonly lease: string;
}

/** Replicas by slot (`r1`…), each restarted with the next incarnation: `r1#0`, `r1#1`, … */
class Replicas {
  /** Every process ever started, for the logs. */
  readonly all: peers.OperatorProcess[] = [];
  readonly #live = new Map<string, { process: peers.OperatorProcess; incarnation: number }>();
  readonly #options: ReplicaOptions;

  constructor(options: ReplicaOptions) {
    this.#options = options;
  }

  start(slot: string): peers.OperatorProcess {
    const incarnation = (this.#live.get(slot)?.incarnation ?? -1) + 1;
    const { kubeconfigPath, namespace, invocations, lease } = this.#options;
    const process = peers.startOurs({
      kubeconfigPath,
      namespace,
      invocations,
      ident: `${slot}#${incarnation}`,
      args: ["--peering", `lease:${lease}`],
      env: { KOPF_TEST_LEASE: LEASE_TIMINGS },
    });
    this.all.push(process);
    this.#live.set(slot, { process, incarnation });
    return process;
  }

  get live(): peers.OperatorProcess[] {
    return [...this.#live.values()].map((r) => r.process);
  }

  byIdent(ident: string): peers.OperatorProcess | undefined {
    return this.live.find((p) => p.ident === ident);
  }

  slotOf(ident: string): string {
    return ident.split("#")[0]!;
  }

  /** The tail of every process's log, for a failure message. */
  logs(): string {
    return this.all.map((p) => {
      const lines = p.log().trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n");
      return `----- ${p.ident} (last ${LOG_TAIL_LINES} lines) -----\n${lines}`;
    }).join("\n");
  }

  /** Stops the live ones gracefully; the exit codes by ident. */
  async stop(): Promise<Map<string, number>> {
    const live = this.live;
    const codes = await Promise.all(live.map((p) => p.stop()));
    return new Map(live.map((p, i) => [p.ident, codes[i]!]));
  }
}

/** Rethrows a failure with the operators' logs attached. */
function withLogs(error: unknown, replicas: Replicas): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`${message}\n\nOperator logs:\n${replicas.logs()}`, { cause: error });
}

/**
 * The objects whose handling is complete: the handler's result in `status.first` and its
 * success recorded (the diff-base annotation, written after the status); name → who handled
 * them (`status.first.by`).
 */
async function handledObjects(w: e2e.World): Promise<Map<string, string>> {
  const { items } = await api.listObjects(w.transport, w.resource, { namespace: w.namespace });
  const handled = new Map<string, string>();
  for (const o of items) {
    const first = (o as { status?: { first?: { by?: string } } }).status?.first;
    if (first && o.metadata?.annotations?.[DIFFBASE] !== undefined) {
      handled.set(o.metadata.name ?? "", first.by ?? "");
    }
  }
  return handled;
}

/** Creates one KopfExample every LOAD_INTERVAL_MS, on a fixed schedule, until stopped. */
function startLoad(w: e2e.World): {
  /** The objects created so far and when (epoch ms, once the API server answered). */
  readonly created: { name: string; at: number }[];
  readonly failures: unknown[];
  stop(): Promise<void>;
} {
  const created: { name: string; at: number }[] = [];
  const failures: unknown[] = [];
  let stopped = false;
  const began = Date.now();
  const done = (async () => {
    for (let n = 0; !stopped; n++) {
      const name = `obj-${n}`;
      try {
        await api.createObject(w.transport, w.resource, {
          metadata: { name },
          spec: { n },
        }, { namespace: w.namespace });
        created.push({ name, at: Date.now() });
      } catch (error) {
        failures.push(error);
      }
      const wait = began + (n + 1) * LOAD_INTERVAL_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();
  return {
    created,
    failures,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** The current holder of the Lease as the watch saw it last ("" or undefined when none). */
function holderNow(history: { readonly seen: Seen[] }): string | undefined {
  return history.seen.at(-1)?.spec.holderIdentity;
}

Deno.test({
  name:
    "Lease: 3 replicas, the leader SIGKILLed 5 times under a steady create load: every object handled, never two leaders at once",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("leases-kill");
    const kubeconfigPath = await namespacedKubeconfig(w);
    const invocations = await Deno.makeTempFile({ prefix: "kopf-leases-invocations-" });
    const lease = `kopf-leases-${crypto.randomUUID().slice(0, 8)}`;
    await using history = leaseHistory(w, lease);
    const replicas = new Replicas({ kubeconfigPath, namespace: w.namespace, invocations, lease });
    const load = startLoad(w);
    try {
      for (const slot of ["r1", "r2", "r3"]) replicas.start(slot);
      const invoked = () => peers.readInvocations(invocations);

      const found = await crdFixtures.eventually(
        () => findLease(w, lease),
        `Lease "${lease}" to be created`,
        60_000,
      );
      equal(found.namespace, w.namespace, "the Lease is in the connection's default namespace");

      const failoverToHandling: number[] = [];
      const failoverToHolder: number[] = [];
      for (let kill = 0; kill < KILLS; kill++) {
        // A leader that has caught up before it is killed (it completed a few objects and all
        // created before it took the Lease), so that only the handlers in flight at the kill
        // can run again; and every other replica up as a candidate.
        const leader = await crdFixtures.eventually(
          async () => {
            const record = history.seen.at(-1)?.spec;
            const process = record?.holderIdentity
              ? replicas.byIdent(record.holderIdentity)
              : undefined;
            if (!process) return undefined;
            const acquiredAt = time(record?.acquireTime);
            const handled = await handledObjects(w);
            const own = [...handled.values()].filter((by) => by === process.ident).length;
            const behind = load.created.filter((c) => c.at < acquiredAt && !handled.has(c.name));
            return own >= HANDLED_BEFORE_KILL && behind.length === 0 ? process : undefined;
          },
          `a leader that completed ${HANDLED_BEFORE_KILL} objects and caught up before kill #${
            kill + 1
          }`,
          60_000,
        );
        await crdFixtures.eventually(
          async () => {
            const states = await Promise.all(replicas.live.map((p) => p.peering()));
            return states.every((s) => s?.state !== undefined) || undefined;
          },
          `every replica to answer its liveness before kill #${kill + 1}`,
          60_000,
        );
        const states = await Promise.all(
          replicas.live.map(async (p) => [p.ident, (await p.peering())?.state]),
        );
        deepEqual(
          states.filter(([, state]) => state === "active").map(([ident]) => ident),
          [leader.ident],
          `only the Lease holder is active before kill #${kill + 1}: ${JSON.stringify(states)}`,
        );

        const killedAt = Date.now();
        leader.kill("SIGKILL");
        await leader.status;
        replicas.start(replicas.slotOf(leader.ident));

        const taken = await crdFixtures.eventually(
          () =>
            history.seen.find((s) =>
              s.at >= killedAt && !!s.spec.holderIdentity && s.spec.holderIdentity !== leader.ident
            ),
          `a new Lease holder after kill #${kill + 1} of ${leader.ident}`,
          60_000,
        );
        const next = taken.spec.holderIdentity!;
        const first = await crdFixtures.eventually(
          async () => (await invoked()).find((i) => i.by === next),
          `the first invocation by the new leader ${next}`,
          60_000,
        );
        // Safety: the new leader took the Lease only after it expired (its duration after the
        // killed leader's last renewal that anyone saw), whatever the moment of the kill.
        const renewed = history.seen.findLast((s) =>
          s.at <= taken.at && s.spec.holderIdentity === leader.ident
        );
        ok(renewed, `a renewal by ${leader.ident} seen before the takeover`);
        const expiredFor = time(taken.spec.acquireTime) - time(renewed.spec.renewTime);
        ok(
          expiredFor >= LEASE_DURATION_MS,
          `${next} took the Lease ${expiredFor} ms after the last renewal by ${leader.ident}`,
        );
        failoverToHolder.push(time(taken.spec.acquireTime) - killedAt);
        failoverToHandling.push(first.at - killedAt);
        console.error(
          `leases: kill #${kill + 1} of ${leader.ident}: ${next} holds the Lease after ` +
            `${failoverToHolder.at(-1)} ms (${expiredFor} ms after the last renewal), handles ` +
            `after ${failoverToHandling.at(-1)} ms`,
        );
      }

      await load.stop();
      deepEqual(load.failures, [], "every create of the load succeeded");
      const created = new Set(load.created.map((c) => c.name));
      const handled = await crdFixtures.eventually(
        async () => {
          const handled = await handledObjects(w);
          return [...created].every((name) => handled.has(name)) ? handled : undefined;
        },
        `every one of ${created.size} objects to be handled (status.first, success recorded)`,
        120_000,
      );
      equal(handled.size, created.size, "no other objects were handled");

      const all = await invoked();
      deepEqual(
        [...created].filter((name) => !all.some((i) => i.name === name)),
        [],
        "every created object has an invocation",
      );
      deepEqual(
        all.filter((i) => i.recorded),
        [],
        "handlers invoked although their success was already recorded",
      );
      const intervals = new Map<string, { by: string; start: number; end: number }>();
      for (const i of all) {
        const interval = intervals.get(i.by) ?? { by: i.by, start: i.at, end: i.at };
        interval.start = Math.min(interval.start, i.at);
        interval.end = Math.max(interval.end, i.at);
        intervals.set(i.by, interval);
      }
      const sorted = [...intervals.values()].sort((a, b) => a.start - b.start);
      for (let k = 1; k < sorted.length; k++) {
        ok(
          sorted[k - 1]!.end < sorted[k]!.start,
          `two leaders handled at once: ${JSON.stringify(sorted[k - 1])} overlaps ` +
            JSON.stringify(sorted[k]),
        );
      }
      ok(sorted.length >= KILLS + 1, `each leader handled: ${JSON.stringify(sorted)}`);
      ok(
        failoverToHolder.every((ms) => ms < LEASE_DURATION_MS + 2 * MAX_RETRY_MS + 2_000),
        `each takeover within the lease duration and a retry or two: ${failoverToHolder}`,
      );
      const reruns = all.length - new Set(all.map((i) => i.name)).size;
      console.error(
        `leases: failover (SIGKILL → first handler of the new leader) p50 ` +
          `${percentile(failoverToHandling, 50)} ms, max ${Math.max(...failoverToHandling)} ms; ` +
          `(SIGKILL → new holder) p50 ${percentile(failoverToHolder, 50)} ms, max ` +
          `${Math.max(...failoverToHolder)} ms; ${created.size} objects, ${all.length} ` +
          `invocations (${reruns} re-runs of handlers cut by a kill), ${sorted.length} leaders`,
      );
    } catch (error) {
      throw withLogs(error, replicas);
    } finally {
      await load.stop();
      await replicas.stop();
      await Deno.remove(invocations).catch(() => {});
      await Deno.remove(kubeconfigPath).catch(() => {});
    }
  },
});

Deno.test({
  name: "Lease: a graceful stop of the leader hands over at once",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("leases-stop");
    const kubeconfigPath = await namespacedKubeconfig(w);
    const invocations = await Deno.makeTempFile({ prefix: "kopf-leases-invocations-" });
    const lease = `kopf-leases-${crypto.randomUUID().slice(0, 8)}`;
    await using history = leaseHistory(w, lease);
    const replicas = new Replicas({ kubeconfigPath, namespace: w.namespace, invocations, lease });
    const handled = (name: string, by: string) =>
      crdFixtures.eventually(
        async () =>
          (await peers.readInvocations(invocations)).some((i) => i.name === name && i.by === by) ||
          undefined,
        `${name} to be handled by ${by}`,
        30_000,
      );
    try {
      for (const slot of ["g1", "g2"]) replicas.start(slot);
      const [leader, other] = await crdFixtures.eventually(
        async () => {
          const holder = holderNow(history);
          const leader = holder ? replicas.byIdent(holder) : undefined;
          const other = replicas.live.find((p) => p !== leader);
          if (!leader || !other) return undefined;
          const [ours, theirs] = await Promise.all([leader.peering(), other.peering()]);
          return ours?.state === "active" && theirs?.state === "paused"
            ? [leader, other] as const
            : undefined;
        },
        "one replica leading, the other paused",
        60_000,
      );
      equal((await findLease(w, lease)).namespace, w.namespace);
      await api.createObject(w.transport, w.resource, { metadata: { name: "before" } }, {
        namespace: w.namespace,
      });
      await handled("before", leader.ident);
      const transitions = history.seen.at(-1)!.spec.leaseTransitions ?? 0;

      const stoppedAt = Date.now();
      equal(await leader.stop(), 0, "a SIGTERM stops the leader gracefully");
      const released = await crdFixtures.eventually(
        () => history.seen.find((s) => s.at >= stoppedAt && s.spec.holderIdentity === ""),
        "the Lease to be released",
        30_000,
      );
      const taken = await crdFixtures.eventually(
        () =>
          history.seen.find((s) => s.at >= released.at && s.spec.holderIdentity === other.ident),
        `${other.ident} to take the Lease`,
        30_000,
      );
      equal(released.spec.leaseTransitions, transitions, "a release is no transition");
      equal(taken.spec.leaseTransitions, transitions + 1, "the takeover is one transition");
      const handover = time(taken.spec.acquireTime) - time(released.spec.renewTime);
      const sinceStop = time(taken.spec.acquireTime) - stoppedAt;
      ok(
        handover <= MAX_RETRY_MS + 500,
        `the next leader takes a released Lease within its retry period: ${handover} ms`,
      );
      ok(
        sinceStop < LEASE_DURATION_MS,
        `the next leader did not wait for the Lease to expire: ${sinceStop} ms after SIGTERM`,
      );
      await crdFixtures.eventually(
        async () => (await other.peering())?.state === "active" || undefined,
        `${other.ident} to be active`,
        10_000,
      );
      await api.createObject(w.transport, w.resource, { metadata: { name: "after" } }, {
        namespace: w.namespace,
      });
      await handled("after", other.ident);
      console.error(
        `leases: graceful handover ${handover} ms after the release, ${sinceStop} ms after ` +
          `SIGTERM (the leader's stop took ${time(released.spec.renewTime) - stoppedAt} ms)`,
      );
    } catch (error) {
      throw withLogs(error, replicas);
    } finally {
      await replicas.stop();
      await Deno.remove(invocations).catch(() => {});
      await Deno.remove(kubeconfigPath).catch(() => {});
    }
  },
});
