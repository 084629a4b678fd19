/**
 * Test helpers for operator authors: run an operator in-process and wait for outcomes.
 *
 * This version exports the injectable clock that the framework's timers use, so tests can
 * move time instead of sleeping. The in-process operator runner follows with the runtime.
 *
 * @example Moving time forward in a test
 * ```ts
 * import { FakeClock } from "./testing.ts";
 * const clock = new FakeClock();
 * const woke = clock.sleep(1000);
 * clock.advance(1000);
 * await woke;
 * ```
 *
 * @module
 */

export { FakeClock } from "./lib/async/clock.ts";
export type { Clock } from "./lib/async/clock.ts";
