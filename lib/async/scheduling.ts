// One scheduler for many timers: a binary heap of due times with a single sleeping clock timer,
// so 10,000 timers cost one sleep, not 10,000. The timers engine (engines/daemons.ts) schedules
// each timer's next tick here. Knows nothing of Kubernetes; never runs a callback early, and
// wakes on a coarse grid so that timers due close together share one wake-up of the process.

import type * as clocks from "./clock.ts";

/** One scheduled call; `cancel()` it to drop it (cheap, O(log n)). */
export interface Scheduled {
  /** When it is due, in clock milliseconds. */
  readonly at: number;
  /** Whether it is still waiting (neither called nor cancelled). */
  readonly pending: boolean;
  /** Drops the call if it is still waiting; does nothing otherwise. */
  cancel(): void;
}

/** A call in the heap: a class, as a timer tick makes one (a literal made two closures more). */
class Entry implements Scheduled {
  constructor(
    /** The scheduler's one remover, shared by its entries. */
    readonly remove: (entry: Entry) => void,
    readonly at: number,
    readonly seq: number,
    readonly callback: () => void,
    public index: number, // its place in the heap; -1 once out of it
  ) {}

  get pending(): boolean {
    return this.index >= 0;
  }

  cancel(): void {
    this.remove(this);
  }
}

/** Why the one sleep is cut short: an earlier entry came, or the scheduler closed. Never shown. */
const RESCHEDULED = new DOMException("The scheduler's sleep was rescheduled", "AbortError");

/**
 * Calls callbacks at their due times (clock milliseconds), the earliest first, and among equal
 * times in the order they were scheduled. One clock sleep at a time waits for the earliest entry.
 * Callbacks run synchronously in the scheduler's wake-up; what throws is reported to `onError`
 * and does not stop the others.
 *
 * With `coalescingMs` above 0, the sleep ends on the next multiple of it (in clock milliseconds)
 * at or after the earliest due time, and every entry due by then runs in that one wake-up: a
 * call is late by less than `coalescingMs`, never early. Timers spread evenly over a second then
 * cost a few wake-ups of the process instead of one each (each wake-up of the event loop costs
 * about as much CPU as a timer's whole tick).
 *
 * @example Two calls on fake time
 * ```ts
 * import { FakeClock } from "./clock.ts";
 * import { Scheduler } from "./scheduling.ts";
 * const clock = new FakeClock(0);
 * const scheduler = new Scheduler({ clock });
 * const calls: string[] = [];
 * scheduler.schedule(2000, () => calls.push("later"));
 * scheduler.schedule(1000, () => calls.push("sooner"));
 * clock.advance(2000);
 * await Promise.resolve();
 * // calls: ["sooner", "later"]
 * scheduler.close();
 * ```
 */
export class Scheduler {
  readonly #clock: clocks.Clock;
  readonly #onError: (error: unknown) => void;
  readonly #coalescingMs: number;
  readonly #heap: Entry[] = [];
  #seq = 0;
  #sleep: AbortController | undefined;
  #sleepUntil = Infinity;
  #closed = false;
  readonly #remover = (entry: Entry) => this.#remove(entry);

  constructor(
    options: {
      clock: clocks.Clock;
      onError?: (error: unknown) => void;
      /** The wake-up grid in milliseconds (0: wake at each due time exactly). */
      coalescingMs?: number;
    },
  ) {
    this.#clock = options.clock;
    const coalescingMs = options.coalescingMs ?? 0;
    if (!(coalescingMs >= 0 && Number.isFinite(coalescingMs))) {
      throw new RangeError(
        `settings.background.coalescingMs must be a finite number ≥ 0 (0 disables it), not ${coalescingMs}`,
      );
    }
    this.#coalescingMs = coalescingMs;
    this.#onError = options.onError ?? ((error) =>
      queueMicrotask(() => {
        throw error;
      }));
  }

  /** How many calls are waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** When the earliest call is due, if any waits. */
  get nextAt(): number | undefined {
    return this.#heap[0]?.at;
  }

  /** Calls `callback` at `atMs` (clock milliseconds; at once, on the next wake-up, if past). */
  schedule(atMs: number, callback: () => void): Scheduled {
    const heap = this.#heap;
    const entry = new Entry(this.#remover, atMs, this.#seq++, callback, heap.length);
    if (this.#closed) {
      entry.index = -1;
      return entry;
    }
    heap.push(entry);
    this.#up(entry.index);
    this.#arm();
    return entry;
  }

  /** Calls `callback` after `ms` milliseconds from now. */
  after(ms: number, callback: () => void): Scheduled {
    return this.schedule(this.#clock.now() + Math.max(0, ms), callback);
  }

  /** Drops every waiting call and the sleep; later `schedule()` calls are ignored. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#heap) entry.index = -1;
    this.#heap.length = 0;
    this.#disarm();
  }

  #remove(entry: Entry): void {
    const index = entry.index;
    if (index < 0) return;
    const heap = this.#heap;
    const last = heap.pop()!;
    entry.index = -1;
    if (last !== entry) {
      heap[index] = last;
      last.index = index;
      this.#down(index);
      this.#up(last.index);
    }
    // The sleep may now wake early for nothing: it finds nothing due and sleeps again.
  }

  /** Sleeps until the earliest entry's wake-up, unless already sleeping until then or sooner. */
  #arm(): void {
    const first = this.#heap[0];
    if (first === undefined || this.#closed) return;
    const grid = this.#coalescingMs;
    const until = grid > 0 ? Math.ceil(first.at / grid) * grid : first.at;
    if (this.#sleep !== undefined && this.#sleepUntil <= until) return;
    this.#disarm();
    const sleep = new AbortController();
    this.#sleep = sleep;
    this.#sleepUntil = until;
    this.#clock.sleep(Math.max(0, until - this.#clock.now()), sleep.signal).then(() => {
      if (this.#sleep !== sleep) return;
      this.#sleep = undefined;
      this.#sleepUntil = Infinity;
      this.#fire();
    }, () => {});
  }

  #disarm(): void {
    this.#sleep?.abort(RESCHEDULED);
    this.#sleep = undefined;
    this.#sleepUntil = Infinity;
  }

  #fire(): void {
    const now = this.#clock.now();
    const heap = this.#heap;
    while (!this.#closed && heap.length > 0 && heap[0]!.at <= now) {
      const entry = heap[0]!;
      this.#remove(entry);
      try {
        entry.callback();
      } catch (error) {
        this.#onError(error);
      }
    }
    this.#arm();
  }

  #less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #swap(i: number, j: number): void {
    const heap = this.#heap;
    const a = heap[i]!;
    const b = heap[j]!;
    heap[i] = b;
    heap[j] = a;
    a.index = j;
    b.index = i;
  }

  #up(index: number): void {
    const heap = this.#heap;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#less(heap[index]!, heap[parent]!)) return;
      this.#swap(index, parent);
      index = parent;
    }
  }

  #down(index: number): void {
    const heap = this.#heap;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let least = index;
      if (left < heap.length && this.#less(heap[left]!, heap[least]!)) least = left;
      if (right < heap.length && this.#less(heap[right]!, heap[least]!)) least = right;
      if (least === index) return;
      this.#swap(index, least);
      index = least;
    }
  }
}
