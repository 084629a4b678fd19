// Capped exponential backoff with full jitter, the schedule client-go's reflector and kube-rs
// use for reconnects (800 ms doubling to 30 s, reset after 2 min without failures).
// Pure arithmetic over an injectable clock and random source; knows nothing of Kubernetes.

import type * as clock from "./clock.ts";

/** How a backoff grows. All durations in milliseconds. */
export interface BackoffOptions {
  /** The first delay. @default {800} */
  initialMs?: number;
  /** The largest delay. @default {30_000} */
  maxMs?: number;
  /** The growth factor per failure. @default {2} */
  factor?: number;
  /** 0 = no jitter, 1 = a random delay anywhere in [0, delay]. @default {1} */
  jitter?: number;
  /** Failures older than this are forgotten: the next delay is the initial one. @default {120_000} */
  resetAfterMs?: number;
  /** The clock that `resetAfterMs` is measured on. */
  clock?: clock.Clock;
  /** A random source in [0, 1); tests pin it. */
  random?: () => number;
}

/** A stateful backoff: call `next()` after each failure, `reset()` after a success. */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #jitter: number;
  readonly #resetAfterMs: number;
  readonly #clock: clock.Clock | undefined;
  readonly #random: () => number;
  #attempt = 0;
  #lastFailureAt = -Infinity;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 800;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#factor = options.factor ?? 2;
    this.#jitter = options.jitter ?? 1;
    this.#resetAfterMs = options.resetAfterMs ?? 120_000;
    this.#clock = options.clock;
    this.#random = options.random ?? Math.random;
  }

  /** The number of consecutive failures counted so far. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Records a failure and returns how long to wait before the next try. */
  next(): number {
    const now = this.#clock?.now() ?? Date.now();
    if (now - this.#lastFailureAt > this.#resetAfterMs) this.#attempt = 0;
    this.#lastFailureAt = now;
    const base = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt);
    this.#attempt++;
    return Math.round(base * (1 - this.#jitter * this.#random()));
  }

  /** Forgets all failures. */
  reset(): void {
    this.#attempt = 0;
    this.#lastFailureAt = -Infinity;
  }
}
