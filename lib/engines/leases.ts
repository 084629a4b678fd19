// Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it:
// candidates try to take the Lease every retry period, the leader renews it, and steps down
// when it could not renew within the renew deadline. The reactor starts it in the "lease" peering
// mode and pauses while `notLeading` is on. It never trusts the record's timestamps over its own
// clock (clock skew), never acts while not leading, and never logs credentials.

import type { Logger } from "@logtape/logtape";
import { getLogger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import * as signals from "../async/signals.ts";
import type * as toggles from "../async/toggles.ts";
import * as api from "../k8s/api.ts";
import * as errors from "../k8s/errors.ts";
import type * as transports from "../k8s/transport.ts";
import type * as peeringSettings from "../settings/peering.ts";
import type * as references from "../structs/references.ts";

/** The Lease resource (namespaced). */
export const LEASES: references.Resource = {
  group: "coordination.k8s.io",
  version: "v1",
  plural: "leases",
  kind: "Lease",
  namespaced: true,
};

/** client-go's JitterFactor of candidates' retries: a period of `p` waits `p..2.2p`. */
const JITTER_FACTOR = 1.2;

/** The election record: a Lease's `spec`. Times are MicroTime strings. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [key: string]: unknown;
}

/** A Lease object. */
export interface Lease extends api.KubernetesObject {
  spec?: LeaseRecord;
}

/** Live state of an election, updated in place; the liveness endpoint reads it. */
export interface LeaseStatus {
  leading: boolean;
  /** The current holder as last seen, if any. */
  holder: string | undefined;
  /** leaseTransitions as last seen. */
  transitions: number;
  /** When we last renewed successfully (clock ms), if leading. */
  renewedAt: number | undefined;
}

/** What an election needs. */
export interface ElectionOptions {
  readonly transport: transports.Transport;
  readonly namespace: string;
  readonly name: string;
  /** Who we are in `holderIdentity`; unique per instance (e.g. the pod name). */
  readonly identity: string;
  readonly settings: peeringSettings.LeaseSettings;
  readonly clock: clocks.Clock;
  /** Stops the election (graceful: releases the lease when leading and releaseOnCancel). */
  readonly signal: AbortSignal;
  /** On while this instance is NOT the leader (the operator pauses); off while it leads. The caller creates it "on". */
  readonly notLeading: toggles.Toggle;
  readonly status?: LeaseStatus;
  /** @default {Math.random} */
  readonly random?: () => number;
  /** @default {getLogger(["kopf", "peering"])} */
  readonly logger?: Logger;
}

/**
 * What one attempt does with the record as it is: create the Lease (`acquire`, there is none),
 * `renew` our own, `takeover` an expired or released one, or `wait` while another holds it.
 */
export type Decision = "acquire" | "renew" | "takeover" | "wait";

/**
 * Decides one attempt, as client-go's tryAcquireOrRenew does. `observedAt` is when we (by our
 * own clock) last saw the record change: another holder's lease is valid until `observedAt`
 * plus the record's duration, whatever its `renewTime` says, so clock skew does not matter.
 *
 * @example
 * ```ts
 * import { decide } from "./leases.ts";
 * const record = { holderIdentity: "other", leaseDurationSeconds: 15 };
 * decide(record, 0, 10_000, "me"); // "wait"
 * decide(record, 0, 15_000, "me"); // "takeover"
 * decide(undefined, 0, 0, "me"); // "acquire"
 * ```
 */
export function decide(
  record: LeaseRecord | undefined,
  observedAt: number,
  now: number,
  identity: string,
  defaultDurationSeconds = 15,
): Decision {
  if (record === undefined) return "acquire";
  const holder = record.holderIdentity ?? "";
  if (holder === identity) return "renew";
  if (holder !== "" && observedAt + durationMs(record, defaultDurationSeconds) > now) return "wait";
  return "takeover";
}

/**
 * The record to write for a decision: `acquireTime` and `leaseTransitions` carry over on a
 * renewal, a takeover counts one more transition, a new Lease starts at 0.
 */
export function nextRecord(
  decision: Exclude<Decision, "wait">,
  old: LeaseRecord | undefined,
  now: number,
  identity: string,
  leaseDurationSeconds: number,
): LeaseRecord {
  const time = microTime(now);
  const transitions = old?.leaseTransitions ?? 0;
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: decision === "renew" ? (old?.acquireTime ?? time) : time,
    renewTime: time,
    leaseTransitions: decision === "acquire"
      ? 0
      : decision === "renew"
      ? transitions
      : transitions + 1,
  };
}

/** The record of a released Lease (as client-go writes it): no holder, valid for 1 s. */
export function releasedRecord(old: LeaseRecord | undefined, now: number): LeaseRecord {
  const time = microTime(now);
  return {
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTime: time,
    renewTime: time,
    leaseTransitions: old?.leaseTransitions ?? 0,
  };
}

/** When we saw a record change, by our clock. */
export interface Observation {
  readonly record: LeaseRecord;
  readonly at: number;
  readonly raw: string;
}

/** The observation after seeing `record` at `now`: the old one if the record did not change. */
export function observe(
  previous: Observation | undefined,
  record: LeaseRecord,
  now: number,
): Observation {
  const raw = JSON.stringify(Object.entries(record).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
  return previous?.raw === raw ? previous : { record, at: now, raw };
}

/** A new status: not leading, nothing seen. */
export function newLeaseStatus(): LeaseStatus {
  return { leading: false, holder: undefined, transitions: 0, renewedAt: undefined };
}

/**
 * MicroTime formatting: exactly 6 fractional digits.
 *
 * @example
 * ```ts
 * import { microTime } from "./leases.ts";
 * microTime(Date.UTC(2026, 11, 7, 1, 50, 0, 123)); // "2026-12-07T01:50:00.123000Z"
 * ```
 */
export function microTime(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.min(999, Math.floor((ms - whole) * 1000));
  return new Date(whole).toISOString().replace(/Z$/, `${String(micros).padStart(3, "0")}Z`);
}

/**
 * Runs until the signal aborts; resolves after the release. Never rejects for API errors (they
 * are logged and retried). `notLeading` goes off while we lead and on as soon as we stop.
 *
 * @example Lead while the process runs
 * ```ts ignore
 * const notLeading = new toggles.Toggle(true, "lease");
 * const stop = new AbortController();
 * const done = elect({
 *   transport, namespace: "default", name: "my-operator", identity: Deno.hostname(),
 *   settings: peeringSettings.defaultPeering().lease, clock: clocks.realClock,
 *   signal: stop.signal, notLeading,
 * });
 * await notLeading.waitFor(false); // we lead now
 * stop.abort();
 * await done; // the Lease is released
 * ```
 */
export async function elect(options: ElectionOptions): Promise<void> {
  if (!options.identity) {
    throw new Error(
      `Cannot elect a leader of Lease "${options.namespace}/${options.name}": the identity is empty`,
    );
  }
  await new Election(options).run();
}

class Election {
  readonly #o: ElectionOptions;
  readonly #status: LeaseStatus;
  readonly #random: () => number;
  readonly #logger: Logger;
  readonly #ref: string;
  /** The Lease as last read or written, for its resourceVersion. */
  #lease: Lease | undefined;
  #observed: Observation | undefined;
  #leading = false;
  /** The last failure logged at its full level; repeats go to debug. */
  #lastFailure: string | undefined;

  constructor(options: ElectionOptions) {
    this.#o = options;
    this.#status = options.status ?? newLeaseStatus();
    this.#random = options.random ?? Math.random;
    this.#logger = options.logger ?? getLogger(["kopf", "peering"]);
    this.#ref = `${options.namespace}/${options.name}`;
  }

  async run(): Promise<void> {
    const { signal, settings, identity } = this.#o;
    this.#logger.info("Trying to acquire Lease {lease} as {identity}", {
      lease: this.#ref,
      identity,
    });
    while (!signal.aborted) {
      if (!await this.#campaign()) break;
      if (signal.aborted) {
        this.#leading = true; // acquired just as we stop: give it back without acting
        break;
      }
      this.#becomeLeader();
      await this.#lead();
    }
    // Stop acting first, then let the others know.
    const wasLeading = this.#leading;
    this.#stepDown();
    if (wasLeading && settings.releaseOnCancel) await this.#release();
  }

  /** Tries every retry period (with jitter) until we hold the Lease; false once stopped. */
  async #campaign(): Promise<boolean> {
    const { signal, settings } = this.#o;
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew(signal)) return true;
      const ms = settings.retryPeriodSeconds * 1000 * (1 + this.#random() * JITTER_FACTOR);
      if (!await this.#pause(ms, signal)) return false;
    }
    return false;
  }

  /** Renews every retry period; returns when stopped or when leadership is lost. */
  async #lead(): Promise<void> {
    const { signal, settings, clock } = this.#o;
    const retryMs = settings.retryPeriodSeconds * 1000;
    const deadlineMs = settings.renewDeadlineSeconds * 1000;
    while (!signal.aborted) {
      if (!await this.#pause(retryMs, signal)) return;
      // As client-go: poll at once and every retry period until a renewal succeeds, for at
      // most the renew deadline; a request in flight is cut at the deadline too.
      const deadlineAt = clock.now() + deadlineMs;
      using cut = clockDeadline(clock, signal, deadlineMs);
      let renewed = false;
      while (!renewed && !signal.aborted) {
        renewed = await this.#tryAcquireOrRenew(cut.signal);
        if (renewed || signal.aborted) break;
        const holder = this.#observed?.record.holderIdentity ?? "";
        if (holder !== "" && holder !== this.#o.identity) {
          this.#stepDown();
          this.#logger.info("Lost the lease {lease} to {holder}", { lease: this.#ref, holder });
          return;
        }
        const left = deadlineAt - clock.now();
        if (left <= 0 || !await this.#pause(Math.min(retryMs, left), cut.signal)) break;
      }
      if (signal.aborted) return;
      if (!renewed) {
        this.#stepDown();
        this.#logger.warning(
          "Stopped leading Lease {lease}: could not renew it within {seconds} s; trying to acquire it again",
          { lease: this.#ref, seconds: settings.renewDeadlineSeconds },
        );
        return;
      }
    }
  }

  /** One attempt, as client-go's tryAcquireOrRenew: true if we hold the Lease afterwards. */
  async #tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { transport, namespace, name, identity, settings, clock } = this.#o;
    const now = clock.now();

    // Fast path: while our own lease is valid, renew the copy we wrote last without a GET.
    if (this.#leading && this.#lease && this.#observed && !this.#expired(now)) {
      const record = nextRecord(
        "renew",
        this.#observed.record,
        now,
        identity,
        settings.leaseDurationSeconds,
      );
      try {
        const updated = await api.replaceObject<Lease>(transport, LEASES, name, {
          ...this.#lease,
          spec: record,
        }, { namespace, signal });
        this.#stored(updated);
        return true;
      } catch (error) {
        if (signal.aborted) return false;
        this.#logger.debug("Cannot renew Lease {lease} optimistically; reading it: {error}", {
          lease: this.#ref,
          error,
        });
      }
    }

    let lease: Lease | undefined;
    try {
      lease = await api.getObject<Lease>(transport, LEASES, name, { namespace, signal });
    } catch (error) {
      if (!(error instanceof errors.ApiNotFoundError)) return this.#failed("get", error, signal);
    }

    if (lease === undefined) {
      const record = nextRecord("acquire", undefined, now, identity, settings.leaseDurationSeconds);
      try {
        const created = await api.createObject<Lease>(transport, LEASES, {
          metadata: { name, namespace },
          spec: record,
        }, { namespace, signal });
        this.#stored(created);
        return true;
      } catch (error) {
        if (error instanceof errors.ApiConflictError) {
          this.#logger.debug("Lease {lease} was created by another candidate", {
            lease: this.#ref,
          });
          return false;
        }
        return this.#failed("create", error, signal);
      }
    }

    this.#lease = lease;
    this.#see(lease.spec ?? {});
    const observed = this.#observed!;
    const decision = decide(
      observed.record,
      observed.at,
      now,
      identity,
      settings.leaseDurationSeconds,
    );
    if (decision === "wait") {
      this.#lastFailure = undefined; // reading works again: a new failure is worth a line
      return false;
    }
    const record = nextRecord(
      decision,
      observed.record,
      now,
      identity,
      settings.leaseDurationSeconds,
    );
    try {
      const updated = await api.replaceObject<Lease>(transport, LEASES, name, {
        ...lease,
        spec: record,
      }, { namespace, signal });
      this.#stored(updated);
      return true;
    } catch (error) {
      if (error instanceof errors.ApiConflictError) {
        this.#logger.debug("Lease {lease} changed meanwhile; not acquired this time", {
          lease: this.#ref,
        });
        return false;
      }
      return this.#failed("update", error, signal);
    }
  }

  /** Gives the Lease up (no holder), so that a candidate takes over without waiting. */
  async #release(): Promise<void> {
    const { transport, namespace, name, identity, settings, clock } = this.#o;
    using cut = clockDeadline(clock, undefined, settings.renewDeadlineSeconds * 1000);
    // A renewal cut short by the stop may have landed unseen: on a conflict, re-read once.
    for (let attempt = 0; attempt < 2 && this.#lease; attempt++) {
      try {
        const released = await api.replaceObject<Lease>(transport, LEASES, name, {
          ...this.#lease,
          spec: releasedRecord(this.#lease.spec, clock.now()),
        }, { namespace, signal: cut.signal });
        this.#stored(released);
        this.#logger.info("Released the Lease {lease}", { lease: this.#ref });
        return;
      } catch (error) {
        if (!(error instanceof errors.ApiConflictError) || attempt > 0) {
          this.#logger.warning("Cannot release the Lease {lease}: {error}", {
            lease: this.#ref,
            error,
          });
          return;
        }
      }
      try {
        const lease = await api.getObject<Lease>(transport, LEASES, name, {
          namespace,
          signal: cut.signal,
        });
        this.#lease = lease;
        this.#see(lease.spec ?? {});
        if (lease.spec?.holderIdentity !== identity) return; // someone else holds it already
      } catch (error) {
        this.#logger.warning("Cannot release the Lease {lease}: {error}", {
          lease: this.#ref,
          error,
        });
        return;
      }
    }
  }

  #becomeLeader(): void {
    this.#leading = true;
    this.#status.leading = true;
    this.#status.renewedAt = this.#o.clock.now();
    this.#o.notLeading.set(false);
    this.#logger.info("Became the leader of Lease {lease} (holder {identity})", {
      lease: this.#ref,
      identity: this.#o.identity,
    });
  }

  #stepDown(): void {
    this.#o.notLeading.set(true);
    this.#leading = false;
    this.#status.leading = false;
    this.#status.renewedAt = undefined;
  }

  /** Whether our own last observation of the record has outlived its duration. */
  #expired(now: number): boolean {
    const observed = this.#observed!;
    return observed.at + durationMs(observed.record, this.#o.settings.leaseDurationSeconds) <= now;
  }

  /** Remembers a record we read; logs a change of holder. */
  #see(record: LeaseRecord): void {
    const previous = this.#observed;
    this.#observed = observe(previous, record, this.#o.clock.now());
    const holder = record.holderIdentity ?? "";
    this.#status.holder = holder || undefined;
    this.#status.transitions = record.leaseTransitions ?? 0;
    if (previous?.record.holderIdentity !== record.holderIdentity && !this.#leading) {
      if (holder && holder !== this.#o.identity) {
        this.#logger.info("Lease {lease} is held by {holder}", { lease: this.#ref, holder });
      }
    }
  }

  /** Remembers a Lease we wrote: our write is the latest change we observed. */
  #stored(lease: Lease): void {
    this.#lease = lease;
    this.#see(lease.spec ?? {});
    this.#lastFailure = undefined;
    if (this.#leading) this.#status.renewedAt = this.#o.clock.now();
  }

  /** Logs a failed request once per kind of failure (repeats at debug); always false. */
  #failed(verb: string, error: unknown, signal: AbortSignal): false {
    if (signal.aborted) return false; // stopped or cut at the renew deadline: not an API error
    const key = `${verb} ${error instanceof errors.ApiError ? error.code : String(error)}`;
    const repeated = key === this.#lastFailure;
    this.#lastFailure = key;
    const { namespace } = this.#o;
    const detail = error instanceof errors.ApiError
      ? (error.status.message || error.message)
      : error instanceof Error
      ? error.message
      : String(error);
    const properties = { verb, lease: this.#ref, namespace, error: detail };
    if (error instanceof errors.ApiForbiddenError) {
      const message = "Cannot {verb} Lease {lease}: RBAC must allow get, create and update on " +
        "leases.coordination.k8s.io in the namespace {namespace}; retrying: {error}";
      if (repeated) this.#logger.debug(message, properties);
      else this.#logger.error(message, properties);
    } else {
      const message = "Cannot {verb} Lease {lease}; retrying: {error}";
      if (repeated) this.#logger.debug(message, properties);
      else this.#logger.warning(message, properties);
    }
    return false;
  }

  /** Sleeps on the clock; false if the signal aborted first. */
  async #pause(ms: number, signal: AbortSignal): Promise<boolean> {
    try {
      await this.#o.clock.sleep(ms, signal);
      return true;
    } catch {
      return false;
    }
  }
}

function durationMs(record: LeaseRecord, defaultSeconds: number): number {
  const seconds = record.leaseDurationSeconds;
  return (typeof seconds === "number" && seconds > 0 ? seconds : defaultSeconds) * 1000;
}

/** A signal under `parent` that also aborts after `ms` on the clock (fake time in tests). */
function clockDeadline(
  clock: clocks.Clock,
  parent: AbortSignal | undefined,
  ms: number,
): Disposable & { readonly signal: AbortSignal } {
  const timer = new AbortController();
  const expiry = new AbortController();
  const linked = signals.linkedSignal([parent, expiry.signal]);
  clock.sleep(ms, timer.signal).then(
    () => expiry.abort(new DOMException("The renew deadline passed", "TimeoutError")),
    () => {},
  );
  return {
    signal: linked.signal,
    [Symbol.dispose]() {
      timer.abort();
      linked.dispose();
    },
  };
}
