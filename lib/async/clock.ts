// The injectable clock: every timer and "now" in the framework goes through a Clock, so
// tests run on fake time instead of sleeping. Knows nothing of Kubernetes.

import * as signals from "./signals.ts";

/** A source of time and timers; the real one wraps `Date.now` and `setTimeout`. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds, or rejects with the signal's reason once aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The wall clock, with abortable timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, signal),
};

/** Sleeps for `ms` milliseconds; rejects with the signal's reason if it is aborted first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe?.();
      resolve();
    }, Math.max(0, ms));
    const unsubscribe = signal && signals.onAbort(signal, (reason) => {
      clearTimeout(timer);
      reject(reason);
    });
  });
}

/**
 * A manual clock for tests: time moves only when `advance()` is called, and sleepers whose
 * deadline has passed wake in deadline order.
 */
export class FakeClock implements Clock {
  #now: number;
  #sleepers: { at: number; resolve: () => void }[] = [];

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const sleeper = {
        at: this.#now + Math.max(0, ms),
        resolve: () => {
          unsubscribe?.();
          resolve();
        },
      };
      const unsubscribe = signal && signals.onAbort(signal, (reason) => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(reason);
      });
      this.#sleepers.push(sleeper);
    });
  }

  /** How many sleepers are waiting: lets a test wait until the code under test is asleep. */
  get sleepers(): number {
    return this.#sleepers.length;
  }

  /** The earliest deadline of the sleepers, if any sleep. */
  get nextWakeAt(): number | undefined {
    return this.#sleepers.length ? Math.min(...this.#sleepers.map((s) => s.at)) : undefined;
  }

  /** Moves time forward and wakes every sleeper whose deadline has come. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#now);
    for (const s of due) s.resolve();
  }
}
