// What the results were measured on: CPU model, cores, memory, OS, and the load of the machine
// at the start. Called once by bench/run.ts; reads /proc and /etc, never writes.

/** The machine, as written into the results. */
export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly kernel: string;
  /** The 1-minute load average when the run began: other work on the machine shows here. */
  readonly loadAverage1m: number;
}

/** Describes this machine. */
export async function describe(): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const osRelease = await Deno.readTextFile("/etc/os-release").catch(() => "");
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round((Deno.systemMemoryInfo().total / 2 ** 30) * 10) / 10,
    os: /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(osRelease)?.[1] ?? Deno.build.os,
    kernel: Deno.osRelease(),
    loadAverage1m: Deno.loadavg()[0] ?? 0,
  };
}
