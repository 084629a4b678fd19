// Tunables of daemons and timers (Kopf's `settings.background`): how often a daemon that does
// not exit is checked again, and how long a stop waits for an "instant" exit before it comes
// back later. Plain data with defaults; engines/daemons.ts reads them, no I/O here.

/** How daemons and timers are stopped. */
export interface BackgroundSettings {
  /**
   * How often a stopping daemon without a `cancellationTimeout` (or a stopping timer in the
   * middle of its call) is checked again while its object waits to be deleted (Kopf: 60 s).
   */
  cancellationPollingSeconds: number;
  /**
   * How many zero-time turns of the event loop a stop gives a daemon or timer to exit at once,
   * so that an object whose daemons exit promptly is released in the same cycle (Kopf: 10).
   */
  instantExitZeroTimeCycles: number;
  /**
   * The grid of the timers' wake-ups, in milliseconds: ticks due within the same slot of it
   * share one wake-up of the process, so a tick is late by less than this, never early (ours;
   * Kopf sleeps per timer). 0 wakes at each due time; the default 20 ms cuts the CPU of 1,000
   * timers spread over a second by about a third (bench/timers.md).
   */
  coalescingMs: number;
}

/**
 * The defaults, as Kopf's: a check every 60 s of daemons that take their time to exit.
 *
 * @example Checking stuck daemons more often
 * ```ts
 * import { defaultBackground } from "./background.ts";
 * const background = defaultBackground();
 * background.cancellationPollingSeconds = 10;
 * ```
 */
export function defaultBackground(): BackgroundSettings {
  return {
    cancellationPollingSeconds: 60,
    instantExitZeroTimeCycles: 10,
    coalescingMs: 20,
  };
}
