// Toggles: named on/off flags that tasks wait on, and a set of them that is "on" while any of
// its members is. The reactor pauses while the operator's set is on (a higher-priority peer,
// a lost leader election, a missing peering resource). Knows nothing of Kubernetes.

import * as signals from "./signals.ts";

/** Something to be told when a toggle flips. */
export type ToggleListener = (on: boolean) => void;

/** A named on/off flag that can be waited for. */
export class Toggle {
  readonly name: string;
  #on: boolean;
  #listeners = new Set<ToggleListener>();

  constructor(initial = false, name = "") {
    this.#on = initial;
    this.name = name;
  }

  /** Whether it is on. */
  get on(): boolean {
    return this.#on;
  }

  /** Sets the state; listeners hear only real flips. */
  set(on: boolean): void {
    if (this.#on === on) return;
    this.#on = on;
    for (const listener of [...this.#listeners]) listener(on);
  }

  /** Calls `listener` on every flip until the returned function is called. */
  listen(listener: ToggleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the toggle is in `state` (at once if it is); rejects if the signal aborts. */
  waitFor(state: boolean, signal?: AbortSignal): Promise<void> {
    return waitFor(this, state, signal);
  }
}

/**
 * Toggles whose union is one flag: on while any member is on. The operator's "paused" state is
 * one: each peering object and the leader election hold a member.
 *
 * @example Pausing while any reason holds
 * ```ts
 * import { ToggleSet } from "./toggles.ts";
 * const paused = new ToggleSet();
 * const peering = paused.make(false, "peering default@ns1");
 * peering.set(true);
 * paused.on; // true
 * paused.reasons(); // ["peering default@ns1"]
 * ```
 */
export class ToggleSet {
  #members = new Map<Toggle, () => void>();
  #listeners = new Set<ToggleListener>();
  #on = false;

  /** Whether any member is on. */
  get on(): boolean {
    return this.#on;
  }

  /** The names of the members that are on. */
  reasons(): string[] {
    return [...this.#members.keys()].filter((t) => t.on).map((t) => t.name);
  }

  /** A new member, already part of the union. */
  make(initial = false, name = ""): Toggle {
    const toggle = new Toggle(initial, name);
    this.add(toggle);
    return toggle;
  }

  /** Makes an existing toggle a member. */
  add(toggle: Toggle): void {
    if (this.#members.has(toggle)) return;
    this.#members.set(toggle, toggle.listen(() => this.#update()));
    this.#update();
  }

  /** Removes a member (its state no longer counts). */
  drop(toggle: Toggle): void {
    this.#members.get(toggle)?.();
    this.#members.delete(toggle);
    this.#update();
  }

  /** Calls `listener` on every flip of the union until the returned function is called. */
  listen(listener: ToggleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the union is in `state`; rejects if the signal aborts first. */
  waitFor(state: boolean, signal?: AbortSignal): Promise<void> {
    return waitFor(this, state, signal);
  }

  #update(): void {
    const on = [...this.#members.keys()].some((t) => t.on);
    if (on === this.#on) return;
    this.#on = on;
    for (const listener of [...this.#listeners]) listener(on);
  }
}

interface Waitable {
  readonly on: boolean;
  listen(listener: ToggleListener): () => void;
}

function waitFor(flag: Waitable, state: boolean, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (flag.on === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const unlisten = flag.listen((on) => {
      if (on !== state) return;
      unlisten();
      unsubscribe?.();
      resolve();
    });
    const unsubscribe = signal && signals.onAbort(signal, (reason) => {
      unlisten();
      reject(reason);
    });
  });
}
