// A seeded random source for the chaos run, so that a seed replays the same schedule of faults
// and the same load (as far as timing on a shared machine allows). Called by the schedule and
// the load generator; pure, no I/O.

/** A deterministic stream of numbers in [0, 1) from a 32-bit seed (mulberry32). */
export class Random {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** The next number in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A number in [min, max). */
  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** A whole number in [0, count). */
  index(count: number): number {
    return Math.floor(this.next() * count);
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Cannot pick from an empty list");
    return items[this.index(items.length)]!;
  }

  /** A shuffled copy of `items` (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.index(i + 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }

  /** An independent stream for another consumer, so one's draws do not shift the other's. */
  fork(): Random {
    return new Random(Math.floor(this.next() * 4294967296));
  }
}

/** A fresh 32-bit seed when none is given. */
export function freshSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
