// Per-object workers: events are keyed by object (uid), each object is processed serially and
// different objects in parallel (bounded), events that arrive during processing coalesce
// (the latest state wins), retries are timers (no busy loop, no touch writes), and unexpected
// framework errors throttle only their object. Knows nothing of what processing does.

import type * as clocks from "../async/clock.ts";

/** One event for an object, as the watcher delivered it (or a replay for a retry). */
export interface ObjectEvent<T = Record<string, unknown>> {
  /** `undefined` for objects of a listing. */
  readonly type: "ADDED" | "MODIFIED" | "DELETED" | undefined;
  readonly object: T;
  /** Re-processing of the last known state for a retry, not a new event. */
  readonly replay?: boolean;
}

/** What the worker learnt from processing one event. */
export interface Processed {
  /** Seconds until the object must be processed again without a new event. */
  readonly delay?: number | undefined;
  /** The object is gone: forget it. */
  readonly gone?: boolean;
}

/** Per-object state the queue keeps between events. */
export interface Slot<T, M> {
  readonly key: string;
  /** What processing keeps for the object (memo, resume flags, consistency expectations). */
  readonly memory: M;
  /** The last event waiting or to be replayed by a retry timer; dropped when neither. */
  last: ObjectEvent<T> | undefined;
}

/** How the queue processes events. */
export interface QueueOptions<T, M> {
  /** How many objects are processed at once. */
  readonly workerLimit: number;
  readonly clock: clocks.Clock;
  /** The object's key: its uid (or namespace/name when it has none). */
  readonly keyOf: (object: T) => string;
  /** Memory for an object seen for the first time. */
  readonly newMemory: (event: ObjectEvent<T>) => M;
  /** Called when an event arrives, before it is queued (e.g. to note consistency). */
  readonly onArrival?: (slot: Slot<T, M>, event: ObjectEvent<T>) => void;
  /** Processes one event of one object. Throwing counts as a framework error. */
  readonly process: (slot: Slot<T, M>, event: ObjectEvent<T>) => Promise<Processed>;
  /** Called with the error and the delay when processing threw. */
  readonly onError: (slot: Slot<T, M>, error: unknown, delaySeconds: number) => void;
  /** Delays after consecutive framework errors of one object; the last one repeats. */
  readonly errorDelaysSeconds: readonly number[];
}

interface State<T, M> extends Slot<T, M> {
  pending: ObjectEvent<T> | undefined;
  /** Since when (clock ms) the pending event waits; for the metrics' oldest waiting age. */
  pendingSince: number;
  running: boolean;
  queued: boolean;
  timer: AbortController | undefined;
  errors: number;
}

/** Why a retry timer is cancelled: a newer event came, or the queue closed. Never shown. */
const CANCELLED = new DOMException("The retry timer was cancelled", "AbortError");

/** The per-object work queue of one watcher. */
export class ObjectQueue<T, M> {
  readonly #options: QueueOptions<T, M>;
  readonly #slots = new Map<string, State<T, M>>();
  // A FIFO with a moving head: Array#shift is O(n), quadratic over a listing of 100,000.
  #ready: string[] = [];
  #readyHead = 0;
  #active = 0;
  #closed = false;
  #held = false;
  #idle = Promise.withResolvers<void>();

  constructor(options: QueueOptions<T, M>) {
    this.#options = options;
    this.#idle.resolve();
  }

  /** How many objects the queue knows. */
  /**
   * Objects known, events waiting (not being processed), and how long the oldest has waited:
   * for the metrics, read at scrape time (a walk over the objects).
   */
  stats(): { known: number; waiting: number; oldestWaitingSeconds: number } {
    const now = this.#options.clock.now();
    let waiting = 0;
    let oldest = now;
    for (const slot of this.#slots.values()) {
      if (!slot.pending || slot.running) continue;
      waiting++;
      if (slot.pendingSince < oldest) oldest = slot.pendingSince;
    }
    return { known: this.#slots.size, waiting, oldestWaitingSeconds: (now - oldest) / 1000 };
  }

  get size(): number {
    return this.#slots.size;
  }

  /** How many objects are being processed right now. */
  get active(): number {
    return this.#active;
  }

  /** Accepts an event; it replaces any event of the same object still waiting. */
  push(event: ObjectEvent<T>): void {
    if (this.#closed) return;
    const key = this.#options.keyOf(event.object);
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = {
        key,
        memory: this.#options.newMemory(event),
        last: undefined,
        pending: undefined,
        pendingSince: 0,
        running: false,
        queued: false,
        timer: undefined,
        errors: 0,
      };
      this.#slots.set(key, slot);
    }
    this.#options.onArrival?.(slot, event);
    // A replay never overrides a real event: the real one is newer or equal.
    if (event.replay && slot.pending) return;
    if (!slot.pending) slot.pendingSince = this.#options.clock.now();
    slot.pending = event;
    slot.last = event;
    this.#cancelTimer(slot);
    this.#enqueue(slot);
  }

  /**
   * Starts no more processing until `release()`: events and retries wait, coalesced as usual.
   * Running work goes on. For a paused operator, whose watch relists before it releases.
   */
  hold(): void {
    this.#held = true;
  }

  /** Processes what waited while held. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#pump();
  }

  /** Whether the queue is held. */
  get held(): boolean {
    return this.#held;
  }

  /** Whether an event of the object waits to be processed (not a retry timer's replay). */
  pending(key: string): boolean {
    return this.#slots.get(key)?.pending !== undefined;
  }

  /** Stops accepting events and cancels retry timers; resolves when running work is done. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const slot of this.#slots.values()) this.#cancelTimer(slot);
    this.#ready = [];
    this.#readyHead = 0;
    await this.#idle.promise;
  }

  #enqueue(slot: State<T, M>): void {
    if (slot.running || slot.queued) return; // the running worker picks the pending event up
    slot.queued = true;
    this.#ready.push(slot.key);
    this.#pump();
  }

  #pump(): void {
    while (
      !this.#closed && !this.#held && this.#active < this.#options.workerLimit &&
      this.#readyHead < this.#ready.length
    ) {
      const key = this.#ready[this.#readyHead++]!;
      if (this.#readyHead === this.#ready.length) {
        this.#ready = [];
        this.#readyHead = 0;
      } else if (this.#readyHead >= 1024 && this.#readyHead * 2 >= this.#ready.length) {
        this.#ready = this.#ready.slice(this.#readyHead); // drop the consumed half
        this.#readyHead = 0;
      }
      const slot = this.#slots.get(key);
      if (!slot) continue;
      slot.queued = false;
      if (this.#active === 0) this.#idle = Promise.withResolvers<void>();
      this.#active++;
      slot.running = true;
      this.#work(slot).finally(() => {
        slot.running = false;
        this.#active--;
        if (slot.pending && !this.#closed) this.#enqueue(slot);
        if (this.#active === 0) this.#idle.resolve();
        this.#pump();
      });
    }
  }

  /** Processes the object's events until none is pending (each object serially). */
  async #work(slot: State<T, M>): Promise<void> {
    while (slot.pending && !this.#closed) {
      const event = slot.pending;
      slot.pending = undefined;
      let outcome: Processed;
      try {
        outcome = await this.#options.process(slot, event);
        slot.errors = 0;
      } catch (error) {
        const delays = this.#options.errorDelaysSeconds;
        const delay = delays[Math.min(slot.errors, delays.length - 1)] ?? 60;
        slot.errors++;
        this.#options.onError(slot, error, delay);
        outcome = { delay };
      }
      if (outcome.gone) {
        this.#cancelTimer(slot);
        this.#slots.delete(slot.key);
        return;
      }
      if (outcome.delay !== undefined && !slot.pending) this.#schedule(slot, outcome.delay);
    }
    // Nothing will replay it: do not keep the body of every idle object in memory.
    if (!slot.timer && !slot.pending) slot.last = undefined;
  }

  /** Re-processes the object's last state after `seconds`, unless a new event comes first. */
  #schedule(slot: State<T, M>, seconds: number): void {
    this.#cancelTimer(slot);
    const timer = new AbortController();
    slot.timer = timer;
    this.#options.clock.sleep(Math.max(0, seconds) * 1000, timer.signal).then(() => {
      if (slot.timer !== timer || this.#closed || !slot.last) return;
      slot.timer = undefined;
      this.push({ ...slot.last, replay: true });
    }, () => {});
  }

  #cancelTimer(slot: State<T, M>): void {
    slot.timer?.abort(CANCELLED); // a constant: a new DOMException per event is costly
    slot.timer = undefined;
  }
}
