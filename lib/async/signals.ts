// Abort signals for short-lived work under long-lived ones: a request under the operator's stop
// signal, a watch connection under its watcher's. Deno 2.9's AbortSignal.any keeps every
// dependent signal alive as long as its sources live, and AbortSignal.timeout its timer until it
// fires: per request, that grew the heap for good. Knows nothing of Kubernetes.

/** A signal linked to its parents and a timeout, released with `dispose` (or `using`). */
export interface LinkedSignal extends Disposable {
  /** Aborts when any parent aborts (with its reason) or when the timeout passes. */
  readonly signal: AbortSignal;
  /** Whether it was the timeout that aborted it. */
  readonly timedOut: boolean;
  /** Unregisters from the parents and clears the timer; the signal stays as it is. */
  dispose(): void;
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
  const listening: [AbortSignal, () => void][] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const dispose = () => {
    for (const [parent, listener] of listening) parent.removeEventListener("abort", listener);
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
    const listener = () => {
      controller.abort(parent.reason);
      dispose();
    };
    parent.addEventListener("abort", listener, { once: true });
    listening.push([parent, listener]);
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
