// The soak's memory figure: the operator's RSS sampled over time (VmRSS from /proc), and the
// slope of a least-squares line through the samples after a warm-up, in MiB per hour — a leak
// shows as a steady climb that V8's garbage collector's saw-tooth does not hide. Pure functions
// over samples; the sampling itself is bench/driver/sampling.ts, called by bench/chaos/run.ts.

/** One RSS sample of one process. */
export interface RssSample {
  readonly at: number;
  readonly ident: string;
  readonly pid: number;
  readonly rssBytes: number;
}

/** The slope and the figures around it. */
export interface RssTrend {
  readonly ident: string;
  readonly pid: number;
  /** Samples used (after the warm-up). */
  readonly samples: number;
  readonly firstMiB: number;
  readonly lastMiB: number;
  readonly peakMiB: number;
  /** Least-squares slope over the samples after the warm-up; undefined with fewer than 2. */
  readonly slopeMiBPerHour: number | undefined;
}

const MiB = 1024 * 1024;
const HOUR_MS = 3_600_000;

/** The least-squares slope of `points` (y per x); undefined for fewer than 2 distinct x. */
export function slope(points: readonly (readonly [number, number])[]): number | undefined {
  if (points.length < 2) return undefined;
  const n = points.length;
  const meanX = points.reduce((s, [x]) => s + x, 0) / n;
  const meanY = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  }
  return den === 0 ? undefined : num / den;
}

/** Per process (the longest-lived of each replica), the RSS trend after `warmUpUntil`. */
export function trends(samples: readonly RssSample[], warmUpUntil: number): RssTrend[] {
  const byPid = new Map<number, RssSample[]>();
  for (const sample of samples) {
    const list = byPid.get(sample.pid) ?? [];
    list.push(sample);
    byPid.set(sample.pid, list);
  }
  const longest = new Map<string, RssSample[]>();
  for (const list of byPid.values()) {
    const ident = list[0]!.ident;
    if ((longest.get(ident)?.length ?? 0) < list.length) longest.set(ident, list);
  }
  return [...longest.values()].map((list) => {
    const after = list.filter((s) => s.at >= warmUpUntil);
    const perHour = slope(after.map((s) => [s.at / HOUR_MS, s.rssBytes / MiB] as const));
    return {
      ident: list[0]!.ident,
      pid: list[0]!.pid,
      samples: after.length,
      firstMiB: round((after[0] ?? list[0]!).rssBytes / MiB),
      lastMiB: round(list.at(-1)!.rssBytes / MiB),
      peakMiB: round(Math.max(...list.map((s) => s.rssBytes)) / MiB),
      slopeMiBPerHour: perHour === undefined ? undefined : round(perHour),
    };
  });
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
