// Samples an operator's memory and CPU from /proc: VmRSS of the process and every descendant
// (found through /proc/<pid>/task/<tid>/children), and utime + stime (plus the children's that
// were waited for). Called by the scenarios around each operator instance; Linux only.

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux we run on). */
const USER_HZ = 100;

/** One RSS sample. */
export interface Sample {
  /** Epoch ms. */
  readonly at: number;
  readonly rssBytes: number;
}

/** Samples a process tree every `intervalMs` until stopped; `peakRssBytes` is kept live. */
export class Sampler implements Disposable {
  readonly samples: Sample[] = [];
  peakRssBytes = 0;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(readonly pid: number, intervalMs = 150) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes one sample now (also called by the timer). */
  sample(): Sample | undefined {
    const rssBytes = treeRssBytes(this.pid);
    if (rssBytes === undefined) return undefined;
    const sample = { at: Date.now(), rssBytes };
    this.samples.push(sample);
    this.peakRssBytes = Math.max(this.peakRssBytes, rssBytes);
    return sample;
  }

  /** The mean RSS of the samples taken since `since` (epoch ms). */
  meanRssSince(since: number): number | undefined {
    return this.rssWithin(since, Infinity)?.meanBytes;
  }

  /** The peak and mean RSS of the samples taken from `from` to `to` (epoch ms, inclusive). */
  rssWithin(from: number, to: number): { peakBytes: number; meanBytes: number } | undefined {
    const within = this.samples.filter((sample) => sample.at >= from && sample.at <= to);
    if (within.length === 0) return undefined;
    return {
      peakBytes: Math.max(...within.map((sample) => sample.rssBytes)),
      meanBytes: within.reduce((sum, sample) => sum + sample.rssBytes, 0) / within.length,
    };
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}

/** The process and its descendants, depth first. */
export function tree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = [...Deno.readDirSync(`/proc/${pids[i]}/task`)].map((entry) => entry.name);
    } catch {
      continue; // gone meanwhile
    }
    for (const tid of tasks) {
      try {
        const children = Deno.readTextFileSync(`/proc/${pids[i]}/task/${tid}/children`);
        for (const child of children.trim().split(/\s+/)) if (child) pids.push(Number(child));
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return pids;
}

/** VmRSS of the tree in bytes; undefined once the root process is gone. */
export function treeRssBytes(pid: number): number | undefined {
  let total: number | undefined;
  for (const member of tree(pid)) {
    try {
      const status = Deno.readTextFileSync(`/proc/${member}/status`);
      const kib = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
      total = (total ?? 0) + kib * 1024;
    } catch {
      if (member === pid) return undefined;
    }
  }
  return total;
}

/** CPU seconds (user + system) of the tree, including children it waited for. */
export function treeCpuSeconds(pid: number): number | undefined {
  let ticks: number | undefined;
  for (const member of tree(pid)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${member}/stat`);
      // The fields after the command (which may hold spaces and ")"): state is field 3.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(fields[i]));
      ticks = (ticks ?? 0) + utime! + stime! + cutime! + cstime!;
    } catch {
      if (member === pid) return undefined;
    }
  }
  return ticks === undefined ? undefined : ticks / USER_HZ;
}
