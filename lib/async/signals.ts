// Abort signals for short-lived work under long-lived ones: a request under the operator's stop
// signal, a watch connection under its watcher's. Deno 2.9's AbortSignal.any keeps every
// dependent signal alive as long as its sources live, and AbortSignal.timeout its timer until it
// fires: per request, that grew the heap for good. And an EventTarget's listeners are a list:
// each add and remove scans it, so 1,000 waiting requests made each one cost 12 µs; `onAbort`
// keeps one listener per signal and a Set behind it. Knows nothing of Kubernetes.

/** A signal linked to its parents and a timeout, released with `dispose` (or `using`). */
export interface LinkedSignal extends Disposable {
  /** Aborts when any parent aborts (with its reason) or when the timeout passes. */
  readonly signal: AbortSignal;
  /** Whether it was the timeout that aborted it. */
  readonly timedOut: boolean;
  /** Unregisters from the parents and clears the timer; the signal stays as it is. */
  dispose(): void;
}

/** The callbacks waiting for each signal behind its one "abort" listener, in their order. */
const waiting = new WeakMap<AbortSignal, Set<(reason: unknown) => void>>();

/**
 * Calls `callback` with the reason once `signal` aborts, as `addEventListener("abort", …,
 * { once: true })` would, but in O(1) however many wait on the same signal (an EventTarget scans
 * its listeners on every add and remove). Returns the function that unsubscribes it. Nothing is
 * called for a signal that has aborted already: check `signal.aborted` first. What a callback
 * throws is reported and does not keep the others from being called.
 *
 * @example A wait under the operator's stop signal, let go when it is over
 * ```ts
 * import { onAbort } from "./signals.ts";
 * const stop = new AbortController();
 * const unsubscribe = onAbort(stop.signal, (reason) => console.log("stopped:", reason));
 * unsubscribe(); // the work ended first
 * ```
 */
export function onAbort(signal: AbortSignal, callback: (reason: unknown) => void): () => void {
  if (signal.aborted) return () => {};
  const callbacks = waiting.get(signal) ?? listen(signal);
  // A wrapper, so that the same function subscribed twice is called twice and unsubscribed once.
  const entry = (reason: unknown) => callback(reason);
  callbacks.add(entry);
  return () => {
    callbacks.delete(entry);
  };
}

/**
 * The one listener of a signal, made apart from `onAbort`: a closure made there would keep the
 * first subscriber's callback (and all it holds) for as long as the signal lives.
 */
function listen(signal: AbortSignal): Set<(reason: unknown) => void> {
  const callbacks = new Set<(reason: unknown) => void>();
  waiting.set(signal, callbacks);
  signal.addEventListener("abort", () => {
    waiting.delete(signal);
    for (const each of callbacks) {
      try {
        each(signal.reason);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    callbacks.clear();
  }, { once: true });
  return callbacks;
}

/**
 * Links a new signal to `parents` and, if finite, a timeout of `timeoutMs`. Dispose it once the
 * work is done: the parents then hold nothing of it.
 *
 * @example A request with a 60 s timeout under the operator's stop signal
 * ```ts
 * import { linkedSignal } from "./signals.ts";
 * const stop = new AbortController();
 * using linked = linkedSignal([stop.signal], 60_000);
 * await fetch("data:,ok", { signal: linked.signal });
 * ```
 */
export function linkedSignal(
  parents: readonly (AbortSignal | undefined)[],
  timeoutMs = Infinity,
): LinkedSignal {
  const controller = new AbortController();
  const listening: (() => void)[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const dispose = () => {
    for (const unsubscribe of listening) unsubscribe();
    listening.length = 0;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  for (const parent of parents) {
    if (!parent) continue;
    if (parent.aborted) {
      controller.abort(parent.reason);
      break;
    }
    listening.push(onAbort(parent, (reason) => {
      controller.abort(reason);
      dispose();
    }));
  }
  if (controller.signal.aborted) dispose();
  else if (Number.isFinite(timeoutMs)) {
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException("Signal timed out.", "TimeoutError"));
      dispose();
    }, Math.max(0, timeoutMs));
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    dispose,
    [Symbol.dispose]: dispose,
  };
}
