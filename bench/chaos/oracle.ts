// The oracle: from the ledger (what the driver did and saw), the final listing and the handlers'
// invocation log, it decides which objects were lost, which handlers re-ran although their
// success was recorded, and how long each fault took to recover from. Pure functions, no I/O;
// called by bench/chaos/run.ts after the run, and live by the schedule (`caughtUp`).

import type * as api from "../../lib/k8s/api.ts";
import type * as handlers from "./handlers.ts";
import * as ledgers from "./ledger.ts";

/** One line of the invocation log, as bench/chaos/handlers.ts writes them. */
export type Invocation = handlers.Invocation;

/** A fault as the schedule injected it. */
export interface FaultWindow {
  readonly kind: string;
  /** Epoch ms: the fault began. */
  readonly injectedAt: number;
  /** Epoch ms: the driver stopped disturbing (the process restarted, the server is back…). */
  readonly healedAt: number;
}

/** An object that did not end as expected. */
export interface Lost {
  readonly name: string;
  readonly why: string;
  /** The fault in force when its last request was made (or the CRD removal that stuck). */
  readonly fault: string;
}

/** A handler that ran again although its success (or at least its result) had been recorded. */
export interface Rerun {
  readonly name: string;
  readonly handler: string;
  readonly seq: number;
  readonly at: number;
  readonly by: string;
  /**
   * `recorded`: the body it got said its success was recorded; `after-recorded`: the driver had
   * seen the success recorded (the diff-base) before the invocation began, so the operator
   * worked on a stale body; `partial`: the driver had seen the handler's result in the status,
   * but not the success recorded — the status and the diff-base are written by two requests,
   * and the operator died between them (at least once, not a successful re-run).
   */
  readonly kind: "recorded" | "after-recorded" | "partial";
  readonly fault: string;
}

/** The oracle's verdict on a run. */
export interface Verdict {
  readonly lost: Lost[];
  /** Objects that exist although their create was refused: the API misbehaved, or we did. */
  readonly phantoms: string[];
  readonly reruns: Rerun[];
  /** Invocations beyond the first per object, handler and seq that are not re-runs above. */
  readonly repeatedBeforeRecorded: number;
  readonly invocations: { create: number; update: number; delete: number };
  /** Invocations by a replica that did not hold the Lease then (with 2 replicas). */
  readonly byNonLeader: number;
  readonly objects: {
    created: number;
    createsRefused: number;
    uncertain: number;
    updates: number;
    deletes: number;
    swept: number;
    presentAtEnd: number;
  };
}

/** A Lease holder from `at` on. */
export interface Holder {
  readonly at: number;
  readonly holder: string;
}

type Listed = api.KubernetesObject & { spec?: { seq?: number }; status?: unknown };

/** How far a Lease observation may lag the handlers' own clock readings. */
const LEADER_MARGIN_MS = 1_500;

/** Judges the run. `stuck` are objects whose finalizers the driver had to remove itself. */
export function judge(input: {
  ledger: ledgers.Ledger;
  final: readonly Listed[];
  invocations: readonly Invocation[];
  faults: readonly FaultWindow[];
  stuck: ReadonlySet<string>;
  holders?: readonly Holder[];
}): Verdict {
  const { ledger, faults } = input;
  const present = new Map(input.final.map((o) => [o.metadata?.name ?? "", o]));
  const lost: Lost[] = [];
  const phantoms: string[] = [];
  const objects = {
    created: 0,
    createsRefused: 0,
    uncertain: 0,
    updates: 0,
    deletes: 0,
    swept: 0,
    presentAtEnd: present.size,
  };
  for (const record of ledger.objects.values()) {
    const create = record.operations[0];
    const last = record.operations.at(-1);
    const fault = faultAt(faults, last?.requestedAt ?? 0);
    const object = present.get(record.name);
    const deleted = record.operations.some((op) => op.kind === "delete" && op.outcome === "ok");
    objects.updates += record.operations.filter((op) => op.kind === "update" && op.outcome === "ok")
      .length;
    if (deleted) objects.deletes++;
    if (record.sweptInEpoch !== undefined) objects.swept++;
    if (record.uncertain) objects.uncertain++;
    if (create?.outcome === "refused") {
      objects.createsRefused++;
      if (object) phantoms.push(record.name);
      continue;
    }
    if (create?.outcome === "ok") objects.created++;
    if (input.stuck.has(record.name)) {
      lost.push({
        name: record.name,
        why: "the CRD removal waited for its finalizer, which the operator never removed",
        fault: "crd",
      });
      continue;
    }
    if (!object) {
      const expectedGone = deleted || record.sweptInEpoch !== undefined || record.uncertain ||
        create?.outcome !== "ok";
      if (!expectedGone) lost.push({ name: record.name, why: "gone, yet never deleted", fault });
      continue;
    }
    if (object.metadata?.deletionTimestamp !== undefined) {
      lost.push({ name: record.name, why: "deleted, but its finalizer was never released", fault });
      continue;
    }
    if (deleted || record.sweptInEpoch !== undefined) {
      lost.push({ name: record.name, why: "deleted, yet present without a deletion", fault });
      continue;
    }
    const seq = typeof object.spec?.seq === "number" ? object.spec.seq : 0;
    const status = object.status as { create?: unknown } | undefined;
    const handled = ledgers.handledSeq(object.status);
    if (status?.create === undefined) {
      lost.push({ name: record.name, why: "its create handler's result is not recorded", fault });
    } else if (handled !== seq) {
      lost.push({
        name: record.name,
        why: `its latest spec (seq ${seq}) is not handled: handled seq ${handled}`,
        fault,
      });
    }
  }

  const reruns: Rerun[] = [];
  const seen = new Map<string, number>();
  const invocations = { create: 0, update: 0, delete: 0 };
  let byNonLeader = 0;
  let repeated = 0;
  for (const inv of [...input.invocations].sort((a, b) => a.at - b.at)) {
    invocations[inv.handler]++;
    if (input.holders && input.holders.length > 0 && !heldBy(input.holders, inv.by, inv.at)) {
      byNonLeader++;
    }
    const fault = faultAt(faults, inv.at);
    const key = `${inv.uid} ${inv.handler} ${inv.handler === "delete" ? "" : inv.seq}`;
    const count = (seen.get(key) ?? 0) + 1;
    seen.set(key, count);
    const base = { name: inv.name, handler: inv.handler, seq: inv.seq, at: inv.at, by: inv.by };
    const record = ledger.objects.get(inv.name);
    if (inv.recorded) {
      reruns.push({ ...base, kind: "recorded", fault });
    } else if (inv.handler !== "delete" && seenBefore(record?.recorded, inv)) {
      reruns.push({ ...base, kind: "after-recorded", fault });
    } else if (inv.handler !== "delete" && seenBefore(record?.handled, inv)) {
      reruns.push({ ...base, kind: "partial", fault });
    } else if (count > 1) {
      repeated++; // at least once: an earlier run's success was never recorded
    }
  }
  return {
    lost,
    phantoms,
    reruns,
    repeatedBeforeRecorded: repeated,
    invocations,
    byNonLeader,
    objects,
  };
}

/**
 * When the effect of an applied request became visible to the driver: for a create or update,
 * the first handled seq at or above the request's (or the object's end, which supersedes it);
 * for a delete, the object's end. Undefined while not (yet) visible.
 */
export function satisfiedAt(
  record: ledgers.ObjectRecord,
  op: ledgers.Operation,
): number | undefined {
  const gone = record.goneAt;
  if (op.kind === "delete") return gone;
  const handled = record.handled.find(([seq]) => seq >= op.seq)?.[1];
  if (handled === undefined) return gone;
  return gone === undefined ? handled : Math.min(handled, gone);
}

/** Recovery from one fault, from the ledger and the invocation log. */
export interface Recovery {
  /**
   * Healed → the first handler success the driver saw of an invocation that began after the
   * healing (what the old process still finished does not count).
   */
  readonly firstSuccessMs: number | undefined;
  /**
   * Healed → every request applied before that first success is handled (or its object gone):
   * the backlog of the outage drained. At least `firstSuccessMs`.
   */
  readonly caughtUpMs: number | undefined;
  /** Requests of that backlog whose effect never became visible. */
  readonly unsatisfied: number;
}

/** How long the run took to recover from the fault healed at `healedAt`. */
export function recovery(
  ledger: ledgers.Ledger,
  invocations: readonly Invocation[],
  healedAt: number,
): Recovery {
  let first: number | undefined;
  for (const inv of invocations) {
    if (inv.at < healedAt) continue;
    const record = ledger.objects.get(inv.name);
    if (!record) continue;
    const at = inv.handler === "delete"
      ? (record.goneAt !== undefined && record.goneAt >= inv.at ? record.goneAt : undefined)
      : record.handled.find(([seq, at]) => seq >= inv.seq && at >= inv.at)?.[1];
    if (at !== undefined && (first === undefined || at < first)) first = at;
  }
  const until = first ?? healedAt;
  let latest = until;
  let unsatisfied = 0;
  for (const record of ledger.objects.values()) {
    for (const op of record.operations) {
      if (op.outcome !== "ok" || op.requestedAt > until) continue;
      const at = satisfiedAt(record, op);
      if (at === undefined) unsatisfied++;
      else if (at > latest) latest = at;
    }
  }
  return {
    firstSuccessMs: first === undefined ? undefined : first - healedAt,
    caughtUpMs: first === undefined || unsatisfied > 0 ? undefined : latest - healedAt,
    unsatisfied,
  };
}

/**
 * Whether every request applied up to `until` has its effect visible now: the schedule waits
 * for `caughtUp(ledger, now − lag)` before the next fault.
 */
export function caughtUp(ledger: ledgers.Ledger, until: number): boolean {
  for (const record of ledger.objects.values()) {
    for (const op of record.operations) {
      if (op.outcome !== "ok" || op.requestedAt > until) continue;
      if (satisfiedAt(record, op) === undefined) return false;
    }
  }
  return true;
}

/** The kind of the fault whose window (injection to the next injection) holds `at`. */
export function faultAt(faults: readonly FaultWindow[], at: number): string {
  let found = "none";
  for (const fault of faults) {
    if (fault.injectedAt <= at) found = fault.kind;
    else break;
  }
  return found;
}

/** Whether the driver saw a seq at or above the invocation's before it began. */
function seenBefore(
  seen: readonly (readonly [number, number])[] | undefined,
  inv: Invocation,
): boolean {
  return seen?.some(([seq, at]) => seq >= inv.seq && at < inv.at) ?? false;
}

function heldBy(holders: readonly Holder[], by: string, at: number): boolean {
  return [at - LEADER_MARGIN_MS, at, at + LEADER_MARGIN_MS].some((t) =>
    holderAt(holders, t) === by
  );
}

function holderAt(holders: readonly Holder[], at: number): string | undefined {
  let holder: string | undefined;
  for (const h of holders) {
    if (h.at <= at) holder = h.holder;
    else break;
  }
  return holder;
}
