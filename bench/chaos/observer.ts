// The driver's own watch of the chaos namespace's KopfExamples, straight to kube-apiserver: it
// notes in the ledger when each object's handled seq rises (in its status, and in the diff-base
// annotation that records the success), when its deletion began, and when it
// was gone. Its reconnect
// backoff is capped at 1 s, so after an outage or a CRD removal it sees the world again soon and
// the recovery times are the operator's, not the driver's. Called by bench/chaos/run.ts.

import type * as api from "../../lib/k8s/api.ts";
import type * as transports from "../../lib/k8s/transport.ts";
import * as watching from "../../lib/k8s/watching.ts";
import type * as references from "../../lib/structs/references.ts";
import * as ledgers from "./ledger.ts";
import * as plane from "./plane.ts";

/** The operator's finalizer (Kopf's). */
export const FINALIZER = "kopf.zalando.org/KopfFinalizerMarker";

type Example = api.KubernetesObject & { spec?: { seq?: number }; status?: unknown };

/** Follows the namespace until disposed. */
export class Observer implements AsyncDisposable {
  readonly #stop = new AbortController();
  readonly #done: Promise<void>;
  readonly #synced = Promise.withResolvers<void>();
  /** ERROR events of the driver's own watch (it retries by itself). */
  errors = 0;

  constructor(
    readonly transport: transports.Transport,
    readonly resource: references.Resource,
    readonly ledger: ledgers.Ledger,
  ) {
    this.#done = this.#follow();
  }

  /** Resolves once the first listing is complete. */
  synced(): Promise<void> {
    return this.#synced.promise;
  }

  async #follow(): Promise<void> {
    const stream = watching.watchBatches<Example>(this.transport, this.resource, {
      namespace: plane.NAMESPACE,
      signal: this.#stop.signal,
      settings: { reconnectInitialDelaySeconds: 0.2, reconnectMaxDelaySeconds: 1 },
    });
    try {
      for await (const batch of stream) {
        const now = Date.now();
        for (const event of batch) {
          if (event.type === "SYNCED") this.#synced.resolve();
          else if (event.type === "ERROR") this.errors++;
          else this.#see(event.type, event.object, now);
        }
      }
    } catch (error) {
      if (!this.#stop.signal.aborted) throw error;
    }
  }

  #see(type: string, object: Example, now: number): void {
    const name = object.metadata?.name ?? "";
    const record = this.ledger.objects.get(name);
    if (!record) return; // not the load's (nothing else creates KopfExamples here)
    if (type === "DELETED") {
      if (record.goneAt === undefined) {
        record.goneAt = now;
        if (record.hadFinalizer) this.ledger.successes.push(now);
      }
      return;
    }
    const uid = object.metadata?.uid;
    if (uid !== undefined) record.uid ??= uid;
    const seq = typeof object.spec?.seq === "number" ? object.spec.seq : 0;
    record.specSeq = seq;
    const handled = ledgers.handledSeq(object.status);
    const last = record.handled.at(-1)?.[0] ?? -1;
    if (handled > last) {
      record.handled.push([handled, now]);
      this.ledger.successes.push(now);
    }
    const recorded = ledgers.recordedSeq(object.metadata?.annotations);
    if (recorded > (record.recorded.at(-1)?.[0] ?? -1)) record.recorded.push([recorded, now]);
    record.hadFinalizer = (object.metadata?.finalizers ?? []).includes(FINALIZER);
    if (object.metadata?.deletionTimestamp !== undefined) record.deletionSeenAt ??= now;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}
