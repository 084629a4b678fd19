// The driver's side of the load: namespaces, creating, updating and deleting BenchObjects (at
// once with bounded concurrency, or at a steady rate), a watch that notes when each object's
// status becomes visible, when each update's value shows in the status, and when the object is
// gone, the end-state check, and the clean-up. Called by the
// scenarios; it uses the framework's own client (lib/k8s) with the driver's User-Agent.

import * as api from "../../lib/k8s/api.ts";
import * as errors from "../../lib/k8s/errors.ts";
import type * as transports from "../../lib/k8s/transport.ts";
import * as watching from "../../lib/k8s/watching.ts";
import * as references from "../../lib/structs/references.ts";
import type * as operators from "./operators.ts";
import * as plane from "./plane.ts";

/** Requests in flight while creating or deleting "at once". */
const CONCURRENCY = 64;
const NAMESPACE_GONE_TIMEOUT_MS = 300_000;
const POLL_MS = 200;

/** Namespaces (core v1): each run's own, made and removed by the drivers. */
export const NAMESPACES: references.Resource = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

interface BenchStatus {
  message?: string;
  startedAt?: number;
  h1?: string;
  h2?: string;
  h3?: string;
  /** The `spec.value` the update handler saw (variant `update`). */
  observed?: number;
}
type BenchObject = api.KubernetesObject & { status?: BenchStatus };

/** What the driver knows of one object; times are epoch ms of the driver's clock. */
export interface Timeline {
  /** Just before the create request was sent. */
  createRequestedAt?: number;
  /** status.startedAt as the operator's handler wrote it. */
  startedAt?: number;
  /** When the driver's watch first saw the object handled. */
  visibleAt?: number;
  /** Just before the delete request was sent. */
  deleteRequestedAt?: number;
  /** When the driver's watch saw the object deleted. */
  goneAt?: number;
}

/** One update of `spec.value`; times are epoch ms of the driver's clock. */
export interface Update {
  readonly name: string;
  /** Unique within the run, so the status tells which update it answers. */
  readonly value: number;
  /** Just before the patch request was sent. */
  requestedAt?: number;
  /** When the patch's response arrived: the update is stored by then. */
  respondedAt?: number;
  /** When the driver's watch first saw `status.observed == value`. */
  visibleAt?: number;
}

/** Whether an object's status is what the variant's handlers write once done. */
export function isHandled(variant: operators.Variant, name: string, status?: BenchStatus): boolean {
  if (status?.message !== `handled ${name}`) return false;
  return variant !== "three" || (status.h1 === "done" && status.h2 === "done" &&
    status.h3 === "done");
}

/** The names of `count` objects: `obj-00000`, …. */
export function names(count: number, prefix = "obj"): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(5, "0")}`);
}

/**
 * Watches the namespace's BenchObjects for the whole run and keeps a timeline per name;
 * `until()` waits for a condition over the timelines, with a deadline.
 */
export class Tracker implements AsyncDisposable {
  readonly timelines = new Map<string, Timeline>();
  readonly #stop = new AbortController();
  readonly #waiters = new Set<() => void>();
  /** Updates sent and not yet seen in a status: name → value → update. */
  readonly #pendingUpdates = new Map<string, Map<number, Update>>();
  readonly #synced: Promise<void>;
  readonly #done: Promise<void>;
  #failure: unknown;

  /**
   * `transport` sends the driver's requests; `watchTransport` (a connection of its own) carries
   * the watch.
   */
  constructor(
    readonly transport: transports.Transport,
    readonly watchTransport: transports.Transport,
    readonly namespace: string,
    readonly variant: operators.Variant,
  ) {
    let synced!: () => void;
    this.#synced = new Promise((resolve) => synced = resolve);
    this.#done = this.#follow(synced).catch((error) => {
      this.#failure = error;
      this.#wake();
    });
  }

  /** The timeline of `name`, created on first use. */
  of(name: string): Timeline {
    let timeline = this.timelines.get(name);
    if (!timeline) this.timelines.set(name, timeline = {});
    return timeline;
  }

  /** Makes every wait fail with `error` from now on. */
  fail(error: unknown): void {
    this.#failure ??= error;
    this.#wake();
  }

  /** Resolves once the watch listed the namespace. */
  synced(): Promise<void> {
    return this.#synced;
  }

  /** Waits until `condition()` holds (checked after each watch batch) or the deadline passes. */
  async until(what: string, timeoutMs: number, condition: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.#failure) throw this.#failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, Math.min(left, 1000));
        function wake() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(wake);
      });
    }
  }

  /** Waits until every one of `names` is handled. */
  handled(names: readonly string[], timeoutMs: number): Promise<void> {
    return this.until(
      `${names.length} objects to be handled`,
      timeoutMs,
      this.#all(names, (timeline) => timeline?.visibleAt !== undefined),
    );
  }

  /** Waits until the status of every one of `updates` carried its value. */
  updated(updates: readonly Update[], timeoutMs: number): Promise<void> {
    let i = 0;
    return this.until(`${updates.length} updates to be handled`, timeoutMs, () => {
      while (i < updates.length && updates[i]!.visibleAt !== undefined) i++;
      return i === updates.length;
    });
  }

  /** Waits until every one of `names` is gone. */
  gone(names: readonly string[], timeoutMs: number): Promise<void> {
    return this.until(
      `${names.length} objects to be gone`,
      timeoutMs,
      this.#all(names, (timeline) => timeline?.goneAt !== undefined),
    );
  }

  /** A condition over all names that never looks at a name twice once it holds for it. */
  #all(names: readonly string[], holds: (timeline: Timeline | undefined) => boolean) {
    let i = 0;
    return () => {
      while (i < names.length && holds(this.timelines.get(names[i]!))) i++;
      return i === names.length;
    };
  }

  async #follow(synced: () => void): Promise<void> {
    const stream = watching.watchBatches<BenchObject>(this.watchTransport, plane.BENCH_OBJECTS, {
      namespace: this.namespace,
      signal: this.#stop.signal,
    });
    for await (const batch of stream) {
      const now = Date.now();
      for (const event of batch) {
        if (event.type === "SYNCED") synced();
        if (event.type === "ERROR" || event.type === "SYNCED") continue;
        const name = event.object.metadata?.name ?? "";
        const timeline = this.of(name);
        const observed = event.object.status?.observed;
        if (typeof observed === "number") this.#sawObserved(name, observed, now);
        if (event.type === "DELETED") {
          timeline.goneAt ??= now;
        } else if (
          timeline.visibleAt === undefined &&
          isHandled(this.variant, name, event.object.status)
        ) {
          timeline.visibleAt = now;
          const startedAt = event.object.status?.startedAt;
          if (typeof startedAt === "number") timeline.startedAt = startedAt;
        }
      }
      this.#wake();
    }
  }

  /** Notes an update before its request, so its status is recognised whenever it comes. */
  expect(update: Update): void {
    let pending = this.#pendingUpdates.get(update.name);
    if (!pending) this.#pendingUpdates.set(update.name, pending = new Map());
    pending.set(update.value, update);
  }

  #sawObserved(name: string, value: number, now: number): void {
    const pending = this.#pendingUpdates.get(name);
    const update = pending?.get(value);
    if (!update) return;
    update.visibleAt = now;
    pending!.delete(value);
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}

/** Creates the namespace. */
export async function createNamespace(transport: transports.Transport, name: string) {
  await api.createObject(transport, NAMESPACES, { metadata: { name } });
}

/** Creates one object, noting the time just before the request. */
export async function createOne(tracker: Tracker, name: string): Promise<void> {
  tracker.of(name).createRequestedAt = Date.now();
  await api.createObject(tracker.transport, plane.BENCH_OBJECTS, {
    metadata: { name, namespace: tracker.namespace },
    spec: { name },
  });
}

/** Creates the objects as fast as the API server takes them, `CONCURRENCY` in flight. */
export async function createAtOnce(tracker: Tracker, names: readonly string[]): Promise<void> {
  await pool(names, (name) => createOne(tracker, name));
}

/** Creates the objects at a steady rate, open loop: a slow response does not delay the next. */
export function createAtRate(
  tracker: Tracker,
  names: readonly string[],
  perSecond: number,
): Promise<void> {
  return atRate(names, perSecond, (name) => createOne(tracker, name));
}

/**
 * Sends the updates (a merge patch of `spec.value`) at a steady rate, open loop, noting the time
 * before each request and of its response.
 */
export function updateAtRate(
  tracker: Tracker,
  updates: readonly Update[],
  perSecond: number,
): Promise<void> {
  return atRate(updates, perSecond, async (update) => {
    tracker.expect(update);
    update.requestedAt = Date.now();
    await api.patchObject(tracker.transport, plane.BENCH_OBJECTS, update.name, {
      spec: { value: update.value },
    }, { namespace: tracker.namespace });
    update.respondedAt = Date.now();
  });
}

/** Starts `work` for each item at `perSecond`, not waiting for the previous ones to end. */
async function atRate<T>(
  items: readonly T[],
  perSecond: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  const began = Date.now();
  const pending: Promise<void>[] = [];
  for (const [i, item] of items.entries()) {
    const due = began + (i * 1000) / perSecond;
    const wait = due - Date.now();
    // Pacing the load, not synchronising with anything: the schedule is the experiment.
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(work(item));
  }
  await Promise.all(pending);
}

/** Deletes the objects, `CONCURRENCY` in flight, noting the time just before each request. */
export async function deleteAtOnce(tracker: Tracker, names: readonly string[]): Promise<void> {
  await pool(names, async (name) => {
    tracker.of(name).deleteRequestedAt = Date.now();
    await api.deleteObject(tracker.transport, plane.BENCH_OBJECTS, name, {
      namespace: tracker.namespace,
    });
  });
}

async function pool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

/**
 * Lists the namespace and compares it with what must be there: exactly `expected`, each handled
 * (with `expected` empty: nothing at all), and `status.observed` equal to the last value sent to
 * each object in `observed`. Returns the mismatches, one line each (at most 10, then a count).
 */
export async function checkEndState(
  transport: transports.Transport,
  namespace: string,
  variant: operators.Variant,
  expected: readonly string[],
  observed: ReadonlyMap<string, number> = new Map(),
): Promise<string[]> {
  const { items } = await api.listObjects<BenchObject>(transport, plane.BENCH_OBJECTS, {
    namespace,
    limit: 5000,
  });
  const problems: string[] = [];
  const wanted = new Set(expected);
  const seen = new Set<string>();
  for (const object of items) {
    const name = object.metadata?.name ?? "";
    seen.add(name);
    if (!wanted.has(name)) {
      problems.push(`${name}: exists but should not`);
    } else if (
      !isHandled(variant, name, object.status) ||
      (observed.has(name) && object.status?.observed !== observed.get(name))
    ) {
      const value = observed.has(name) ? ` (spec.value ${observed.get(name)})` : "";
      problems.push(`${name}: status is ${JSON.stringify(object.status ?? null)}${value}`);
    }
  }
  for (const name of expected) if (!seen.has(name)) problems.push(`${name}: missing`);
  if (problems.length > 10) {
    return [...problems.slice(0, 10), `… and ${problems.length - 10} more`];
  }
  return problems;
}

/**
 * Deletes every BenchObject of the namespace and waits until they are gone, then deletes the
 * namespace without waiting: the objects go in one collection delete (the namespace controller
 * would take longer), and an empty namespace costs the next run nothing, while waiting for the
 * namespace controller to finalise it would cost ~5 s per run. Finalizers that a stopped operator
 * left behind are removed, or the objects would never go.
 */
export async function deleteNamespace(transport: transports.Transport, namespace: string) {
  const path = references.path(plane.BENCH_OBJECTS, { namespace });
  await transport.request("DELETE", path);
  const deadline = Date.now() + NAMESPACE_GONE_TIMEOUT_MS;
  for (;;) {
    const { items } = await api.listObjects<BenchObject>(transport, plane.BENCH_OBJECTS, {
      namespace,
      limit: 5000,
    });
    if (items.length === 0) break;
    const held = items.filter((object) => (object.metadata?.finalizers ?? []).length > 0);
    await pool(held, async (object) => {
      await api.patchObject(transport, plane.BENCH_OBJECTS, object.metadata?.name ?? "", {
        metadata: { finalizers: null },
      }, { namespace }).catch((error) => {
        if (!(error instanceof errors.ApiNotFoundError)) throw error;
      });
    });
    if (Date.now() > deadline) {
      throw new Error(`The objects of "${namespace}" were not gone within 300 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  await api.deleteObject(transport, NAMESPACES, namespace).catch((error) => {
    if (!(error instanceof errors.ApiNotFoundError)) throw error;
  });
}
