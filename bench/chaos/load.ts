// The load generator: creates, updates (a new spec.seq) and deletes KopfExamples in the chaos
// namespace at a fixed rate, open loop, keeping a population around the target, and notes every
// request and its outcome in the ledger. The driver's requests go straight to kube-apiserver
// (not through the operator's proxies) on a transport without retries (plane.loadTransport),
// so each outcome is known or marked unknown. Called by bench/chaos/run.ts (the steady load) and the `throttle` fault (a burst).

import * as api from "../../lib/k8s/api.ts";
import * as errors from "../../lib/k8s/errors.ts";
import type * as transports from "../../lib/k8s/transport.ts";
import type * as references from "../../lib/structs/references.ts";
import type * as ledgers from "./ledger.ts";
import * as plane from "./plane.ts";
import type * as randoms from "./random.ts";

/** Requests of the load in flight at most; a tick beyond that is skipped (and counted). */
const MAX_IN_FLIGHT = 32;
/** Requests in flight while filling the population at the start or in a burst. */
const FILL_CONCURRENCY = 16;

/** The load on one namespace. */
export class Load {
  #inFlight = new Set<Promise<void>>();
  #running: Promise<void> | undefined;
  #stop = new AbortController();

  constructor(
    readonly transport: transports.Transport,
    readonly resource: references.Resource,
    readonly ledger: ledgers.Ledger,
    readonly random: randoms.Random,
    readonly options: { objects: number; ratePerSecond: number },
  ) {}

  /** Creates `count` objects, `FILL_CONCURRENCY` at a time; resolves when all answered. */
  async fill(count: number): Promise<void> {
    let left = count;
    const worker = async () => {
      while (left > 0) {
        left--;
        await this.#create();
      }
    };
    await Promise.all(Array.from({ length: Math.min(FILL_CONCURRENCY, count) }, worker));
  }

  /** Starts the steady load; `stop()` ends it. */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** Stops the steady load and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running;
    await Promise.all([...this.#inFlight]);
  }

  async #loop(): Promise<void> {
    const began = Date.now();
    for (let tick = 0; !this.#stop.signal.aborted; tick++) {
      const due = began + (tick * 1000) / this.options.ratePerSecond;
      const wait = due - Date.now();
      // Pacing the load, not waiting for anything: the schedule is the experiment.
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.#stop.signal.aborted) break;
      if (this.#inFlight.size >= MAX_IN_FLIGHT) {
        this.ledger.skipped++;
        continue;
      }
      const request = this.#next();
      this.#inFlight.add(request);
      request.finally(() => this.#inFlight.delete(request));
    }
  }

  /** One operation, chosen so the population stays around the target. */
  #next(): Promise<void> {
    const live = this.ledger.liveCount;
    // Below the target, creates outweigh deletes; above it, deletes do: the population
    // returns to the target after a burst or a CRD removal.
    const [create, update] = live < this.options.objects ? [0.5, 0.9] : [0.2, 0.7];
    const roll = this.random.next();
    if (live === 0 || roll < create) return this.#create();
    const record = this.ledger.liveAt(this.random.index(live));
    if (roll < update) return this.#update(record);
    return this.#delete(record);
  }

  async #create(): Promise<void> {
    const record = this.ledger.newObject();
    const operation: ledgers.Operation = { kind: "create", seq: 0, requestedAt: Date.now() };
    record.operations.push(operation);
    const duringRemoval = this.ledger.crdRemovalSince !== undefined;
    await this.#send(operation, () =>
      api.createObject(this.transport, this.resource, {
        metadata: { name: record.name, namespace: plane.NAMESPACE },
        spec: { seq: 0 },
      }));
    // A create that overlapped a CRD removal may have gone into the terminating CRD and been
    // swept with it, or into the new one: whether it exists at the end is not known in advance.
    const raced = duringRemoval || this.ledger.crdRemovalSince !== undefined ||
      this.ledger.epoch !== record.epoch;
    if (operation.outcome === "unknown" || (operation.outcome === "ok" && raced)) {
      record.uncertain = true;
    }
    if (operation.outcome === "refused") this.ledger.retire(record.name);
  }

  async #update(record: ledgers.ObjectRecord): Promise<void> {
    const seq = record.nextSeq++;
    const operation: ledgers.Operation = { kind: "update", seq, requestedAt: Date.now() };
    record.operations.push(operation);
    await this.#send(
      operation,
      () =>
        api.patchObject(this.transport, this.resource, record.name, { spec: { seq } }, {
          namespace: plane.NAMESPACE,
        }),
    );
  }

  async #delete(record: ledgers.ObjectRecord): Promise<void> {
    this.ledger.retire(record.name);
    const operation: ledgers.Operation = { kind: "delete", seq: -1, requestedAt: Date.now() };
    record.operations.push(operation);
    await this.#send(operation, () =>
      api.deleteObject(this.transport, this.resource, record.name, {
        namespace: plane.NAMESPACE,
      }));
  }

  /** Sends once (no retries) and notes the outcome. */
  async #send(operation: ledgers.Operation, send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
      operation.outcome = "ok";
    } catch (error) {
      if (error instanceof errors.ApiError && error.code !== 504) {
        operation.outcome = "refused";
        operation.code = error.code;
      } else if (isConnectionRefused(error)) {
        operation.outcome = "refused"; // never reached a server: surely not applied
        operation.code = 0;
      } else {
        operation.outcome = "unknown";
      }
    }
    operation.respondedAt = Date.now();
  }
}

/** Whether the request failed to connect at all (kube-apiserver stopped): nothing was sent. */
function isConnectionRefused(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (/connection refused|os error 111/i.test(e.message)) return true;
  }
  return false;
}
