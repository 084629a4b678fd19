// What the driver did to each object and what its own watch saw of it: the requests with their
// outcomes, the CRD "epoch" the object was created in, the handled `seq` values with the times
// they became visible, and when it was gone. The load generator and the faults write here; the
// oracle reads it after the run. Plain data and bookkeeping, no I/O.

/** What became of a request: applied, refused by the API (4xx/5xx), or not known (no answer). */
export type Outcome = "ok" | "refused" | "unknown";

/** One request of the driver for one object. */
export interface Operation {
  readonly kind: "create" | "update" | "delete";
  /** The spec's seq the request sets (creates: 0); -1 for deletes. */
  readonly seq: number;
  /** Epoch ms just before the request. */
  readonly requestedAt: number;
  respondedAt?: number;
  outcome?: Outcome;
  /** The HTTP status of a refusal. */
  code?: number;
}

/** One object across the run. */
export interface ObjectRecord {
  readonly name: string;
  /** The CRD epoch when the create was requested (each CRD removal starts a new one). */
  readonly epoch: number;
  readonly operations: Operation[];
  /** The next seq an update will set. */
  nextSeq: number;
  /**
   * Its create raced with a CRD removal (answered after the removal was requested, or the
   * outcome is unknown): whether it exists at the end is not known in advance.
   */
  uncertain: boolean;
  /** The CRD removal (its epoch) that took the object with it. */
  sweptInEpoch?: number;
  /** Observed by the driver's watch: */
  uid?: string;
  /** The latest spec.seq seen. */
  specSeq?: number;
  /** Increases of the handled seq (max of status.create.seq, status.update.seq) with times. */
  readonly handled: [seq: number, at: number][];
  /** Increases of the seq in the diff-base annotation: the framework's record of success. */
  readonly recorded: [seq: number, at: number][];
  /** The operator's finalizer was on the object when last seen. */
  hadFinalizer: boolean;
  deletionSeenAt?: number;
  goneAt?: number;
}

/** The driver's record of the whole run. */
export class Ledger {
  readonly objects = new Map<string, ObjectRecord>();
  /** Times at which the driver saw a handler's effect (a new handled seq, a finalizer released). */
  readonly successes: number[] = [];
  /** Each CRD removal increments it. */
  epoch = 0;
  /** A CRD removal was requested and the CRD is not served again yet. */
  crdRemovalSince: number | undefined;
  /** Ticks of the load generator that found too many requests in flight. */
  skipped = 0;
  readonly #live: string[] = [];
  readonly #liveIndex = new Map<string, number>();
  #counter = 0;

  /** A new record for an object about to be created; it counts as live. */
  newObject(): ObjectRecord {
    const name = `ex-${String(++this.#counter).padStart(6, "0")}`;
    const record: ObjectRecord = {
      name,
      epoch: this.epoch,
      operations: [],
      nextSeq: 1,
      uncertain: false,
      handled: [],
      recorded: [],
      hadFinalizer: false,
    };
    this.objects.set(name, record);
    this.#addLive(name);
    return record;
  }

  /** The objects the load may update or delete. */
  get liveCount(): number {
    return this.#live.length;
  }

  /** The live object at `index` (0 ≤ index < liveCount). */
  liveAt(index: number): ObjectRecord {
    return this.objects.get(this.#live[index]!)!;
  }

  /** No longer live: deleted (or refused to be created); updates and deletes leave it alone. */
  retire(name: string): void {
    const index = this.#liveIndex.get(name);
    if (index === undefined) return;
    const last = this.#live.pop()!;
    this.#liveIndex.delete(name);
    if (last !== name) {
      this.#live[index] = last;
      this.#liveIndex.set(last, index);
    }
  }

  /** A CRD removal is requested: objects created from now on belong to a new epoch. */
  beginCrdRemoval(at: number): void {
    this.epoch++;
    this.crdRemovalSince = at;
  }

  /** The CRD is gone: every object of an earlier epoch that was not deleted went with it. */
  sweep(): number {
    let swept = 0;
    for (const record of this.objects.values()) {
      const refused = record.operations[0]?.outcome === "refused";
      const deleted = record.operations.some((op) => op.kind === "delete" && op.outcome === "ok");
      if (
        record.epoch < this.epoch && record.sweptInEpoch === undefined && !refused && !deleted
      ) {
        record.sweptInEpoch = this.epoch;
        this.retire(record.name);
        swept++;
      }
    }
    return swept;
  }

  /** The CRD is served again. */
  endCrdRemoval(): void {
    this.crdRemovalSince = undefined;
  }

  #addLive(name: string): void {
    this.#liveIndex.set(name, this.#live.length);
    this.#live.push(name);
  }
}

/** The handled seq a status shows: the larger of the create and update handlers' results. */
export function handledSeq(status: unknown): number {
  const results = status as { create?: { seq?: unknown }; update?: { seq?: unknown } } | undefined;
  const seqs = [results?.create?.seq, results?.update?.seq].filter(
    (seq): seq is number => typeof seq === "number",
  );
  return seqs.length === 0 ? -1 : Math.max(...seqs);
}

/** The annotation in which the framework records the essence it handled last (Kopf's). */
export const DIFFBASE = "kopf.zalando.org/last-handled-configuration";

/** The spec's seq in the diff-base annotation; -1 when there is none (or no seq). */
export function recordedSeq(annotations: Readonly<Record<string, string>> | undefined): number {
  const text = annotations?.[DIFFBASE];
  if (text === undefined) return -1;
  try {
    const seq = (JSON.parse(text) as { spec?: { seq?: unknown } }).spec?.seq;
    return typeof seq === "number" ? seq : 0;
  } catch {
    return -1;
  }
}
