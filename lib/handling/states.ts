// The progress of changing handlers across cycles: per handler, when it started, how often it
// ran, whether it is sleeping until a retry, and how it ended. Converts to and from Kopf's
// progress records (same fields and timestamp format) so a Kopf operator can take over.
// Time comes from an injected clock; persistence goes through a ProgressStorage. No I/O.

import type * as clocks from "../async/clock.ts";
import type * as progress from "../persistence/progress.ts";
import type * as patches from "../structs/patches.ts";
import type * as outcomes from "./outcomes.ts";

/** The state of one handler. Times are clock milliseconds. */
export interface HandlerState {
  /** Used for this cycle's done/delays (true) or only carried for counting and purging. */
  readonly active: boolean;
  readonly started: number;
  readonly stopped: number | undefined;
  readonly delayed: number | undefined;
  /** The reason the handler ran for: "create", "update", …; undefined for records of old. */
  readonly purpose: string | undefined;
  readonly retries: number;
  readonly success: boolean;
  readonly failure: boolean;
  readonly message: string | undefined;
  readonly subrefs: readonly string[];
  /** The record as read from storage, to skip writing it back unchanged. */
  readonly origin: progress.ProgressRecord | undefined;
}

/** Success and failure counts of a set of handlers. */
export interface Counters {
  success: number;
  failure: number;
  running: number;
}

/** Formats a time as Kopf does: ISO 8601 with microseconds and an explicit UTC offset. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000+00:00");
}

/**
 * Parses Kopf's timestamps: with or without fractions (any digits), with `Z`, an offset, or
 * none at all (older Kopf versions wrote naive UTC times).
 */
export function parseTime(text: string | null | undefined): number | undefined {
  if (!text) return undefined;
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/
    .exec(text.trim());
  if (!match) return undefined;
  const [, date, time, fraction = "", zone = "Z"] = match;
  const ms = fraction.padEnd(3, "0").slice(0, 3);
  const offset = zone === "Z"
    ? "Z"
    : zone.includes(":")
    ? zone
    : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const parsed = Date.parse(`${date}T${time}.${ms}${offset}`);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** A handler that has never run: started now. */
export function fromScratch(now: number, purpose: string | undefined): HandlerState {
  return {
    active: true,
    started: now,
    stopped: undefined,
    delayed: undefined,
    purpose,
    retries: 0,
    success: false,
    failure: false,
    message: undefined,
    subrefs: [],
    origin: undefined,
  };
}

/** A handler's state as read back from its progress record. */
export function fromStorage(record: progress.ProgressRecord, now: number): HandlerState {
  return {
    active: false,
    started: parseTime(record.started) ?? now,
    stopped: parseTime(record.stopped),
    delayed: parseTime(record.delayed),
    purpose: record.purpose || undefined,
    retries: record.retries ?? 0,
    success: record.success ?? false,
    failure: record.failure ?? false,
    message: record.message ?? undefined,
    subrefs: [...(record.subrefs ?? [])],
    origin: record,
  };
}

/** The full record to store, every field present (null where unset), as Kopf stores it. */
export function forStorage(state: HandlerState): progress.ProgressRecord {
  return {
    started: formatTime(state.started),
    stopped: state.stopped === undefined ? null : formatTime(state.stopped),
    delayed: state.delayed === undefined ? null : formatTime(state.delayed),
    purpose: state.purpose ?? null,
    retries: state.retries,
    success: state.success,
    failure: state.failure,
    message: state.message ?? null,
    subrefs: state.subrefs.length ? [...state.subrefs].sort() : null,
  };
}

/** The record as it looks once stored: null fields dropped. Compared with `origin`. */
export function asInStorage(state: HandlerState): Record<string, unknown> {
  return Object.fromEntries(Object.entries(forStorage(state)).filter(([, v]) => v !== null));
}

/** Succeeded or failed for good. */
export function isFinished(state: HandlerState): boolean {
  return state.success || state.failure;
}

/** Waiting for its retry time. */
export function isSleeping(state: HandlerState, now: number): boolean {
  return !isFinished(state) && state.delayed !== undefined && state.delayed > now;
}

/** Ready to run in this cycle. */
export function isAwake(state: HandlerState, now: number): boolean {
  return !isFinished(state) && !isSleeping(state, now);
}

/** The state after one more attempt with this outcome. */
export function withOutcome(
  state: HandlerState,
  outcome: outcomes.Outcome,
  now: number,
): HandlerState {
  return {
    ...state,
    stopped: state.stopped ?? (outcome.final ? now : undefined),
    delayed: outcome.delay !== undefined ? now + outcome.delay * 1000 : undefined,
    success: outcome.final && outcome.error === undefined,
    failure: outcome.final && outcome.error !== undefined,
    retries: state.retries + 1,
    message: outcome.error === undefined ? undefined : outcome.message,
    subrefs: [...new Set([...state.subrefs, ...outcome.subrefs])].sort(),
  };
}

/**
 * The states of the handlers of one object in one cycle: immutable, each step makes a new one.
 */
export class State {
  readonly #states: ReadonlyMap<string, HandlerState>;
  readonly purpose: string | undefined;
  readonly clock: clocks.Clock;

  constructor(states: ReadonlyMap<string, HandlerState>, clock: clocks.Clock, purpose?: string) {
    this.#states = states;
    this.clock = clock;
    this.purpose = purpose;
  }

  /** Reads the records of the given handlers from the storage. */
  static fromStorage(
    body: Record<string, unknown>,
    storage: progress.ProgressStorage,
    handlerIds: Iterable<string>,
    clock: clocks.Clock,
  ): State {
    const now = clock.now();
    const states = new Map<string, HandlerState>();
    for (const id of new Set(handlerIds)) {
      const record = storage.fetch(id, body);
      if (record !== undefined) states.set(id, fromStorage(record, now));
    }
    return new State(states, clock);
  }

  get(id: string): HandlerState | undefined {
    return this.#states.get(id);
  }

  get size(): number {
    return this.#states.size;
  }

  ids(): string[] {
    return [...this.#states.keys()];
  }

  /** Re-purposes the state, or only the given handlers of it. */
  withPurpose(purpose: string | undefined, handlerIds?: Iterable<string>): State {
    const states = new Map(this.#states);
    for (const id of handlerIds ?? []) {
      const state = states.get(id);
      if (state) states.set(id, { ...state, purpose });
    }
    return new State(states, this.clock, purpose);
  }

  /** Activates the handlers of this cycle, creating states for the new ones. */
  withHandlers(handlerIds: Iterable<string>): State {
    const states = new Map(this.#states);
    const now = this.clock.now();
    for (const id of handlerIds) {
      const state = states.get(id);
      states.set(id, state ? { ...state, active: true } : fromScratch(now, this.purpose));
    }
    return new State(states, this.clock, this.purpose);
  }

  /** Applies the outcomes of this cycle's attempts. */
  withOutcomes(outcomes: ReadonlyMap<string, outcomes.Outcome>): State {
    const now = this.clock.now();
    const states = new Map(this.#states);
    for (const [id, outcome] of outcomes) {
      const state = states.get(id);
      if (!state) throw new Error(`Unexpected outcome for the unknown handler "${id}"`);
      states.set(id, withOutcome(state, outcome, now));
    }
    return new State(states, this.clock, this.purpose);
  }

  /** Writes the records that changed since they were read. */
  store(
    body: Record<string, unknown>,
    patch: patches.Patch,
    storage: progress.ProgressStorage,
  ): void {
    for (const [id, state] of this.#states) {
      if (!sameRecord(asInStorage(state), state.origin)) {
        storage.store(id, forStorage(state), body, patch);
      }
    }
    storage.flush();
  }

  /** Removes the records of these handlers, of every known one, and of their sub-handlers. */
  purge(
    body: Record<string, unknown>,
    patch: patches.Patch,
    storage: progress.ProgressStorage,
    handlerIds: Iterable<string>,
  ): void {
    const ids = new Set(handlerIds);
    for (const [id, state] of this.#states) {
      ids.add(id);
      for (const subref of state.subrefs) ids.add(subref);
    }
    for (const id of ids) storage.purge(id, body, patch);
    storage.flush();
  }

  /** Every active handler has finished. */
  get done(): boolean {
    return [...this.#states.values()].every((s) => !s.active || isFinished(s));
  }

  /** Counts of the handlers that belong to another purpose (a superseded cause). */
  get extras(): Map<string, Counters> {
    const result = new Map<string, Counters>();
    for (const s of this.#states.values()) {
      if (s.purpose === undefined || s.purpose === this.purpose) continue;
      const c = result.get(s.purpose) ?? { success: 0, failure: 0, running: 0 };
      if (s.success) c.success++;
      else if (s.failure) c.failure++;
      else c.running++;
      result.set(s.purpose, c);
    }
    return result;
  }

  /** Counts of this purpose's handlers. */
  get counts(): Counters {
    const c: Counters = { success: 0, failure: 0, running: 0 };
    for (const s of this.#states.values()) {
      if (this.purpose !== undefined && s.purpose !== undefined && s.purpose !== this.purpose) {
        continue;
      }
      if (s.success) c.success++;
      else if (s.failure) c.failure++;
      else c.running++;
    }
    return c;
  }

  /** Seconds until each unfinished active handler may run again (0 = now). */
  get delays(): number[] {
    const now = this.clock.now();
    return [...this.#states.values()]
      .filter((s) => s.active && !isFinished(s))
      .map((s) => s.delayed === undefined ? 0 : Math.max(0, (s.delayed - now) / 1000));
  }

  /** Whether the handler may run in this cycle. */
  isAwake(id: string): boolean {
    const state = this.#states.get(id);
    return state !== undefined && isAwake(state, this.clock.now());
  }
}

function sameRecord(a: Record<string, unknown>, b: progress.ProgressRecord | undefined): boolean {
  if (b === undefined) return false;
  const keys = new Set([
    ...Object.keys(a),
    ...Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== null),
  ]);
  for (const key of keys) {
    if (JSON.stringify(a[key]) !== JSON.stringify((b as Record<string, unknown>)[key])) {
      return false;
    }
  }
  return true;
}
