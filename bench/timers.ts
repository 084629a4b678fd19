// The cost of timers (issue 12): our operator and Python Kopf 1.45.2 in turn on one private
// control plane, each with one timer per object that writes nothing to the API: 1,000 objects
// at an interval of 1 s and 10,000 at 10 s. Once every object has ticked, a window is measured:
// ticks, the operator's CPU per tick, its RSS, and the lateness of each tick (the gap between
// an object's consecutive ticks minus the interval). Medians of the repetitions, ratios ours ÷
// Kopf under `ratios`. Writes bench/results/timers-<date>.{json,md}; the method: bench/timers.md.
// Usage: deno task bench:timers [--quick] [--reps N] [--objects 1000|10000 (one size only)]

import { parseArgs } from "node:util";
import * as api from "../lib/k8s/api.ts";
import * as kubeconfig from "../lib/k8s/kubeconfig.ts";
import * as transports from "../lib/k8s/transport.ts";
import * as cluster from "../tools/control-plane/cluster.ts";
import * as crds from "../tests/_fixtures/crds.ts";
import * as objects from "./driver/objects.ts";
import * as benchPlane from "./driver/plane.ts";
import * as sampling from "./driver/sampling.ts";
import * as stats from "./driver/stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    reps: { type: "string", default: "1" },
    objects: { type: "string" },
  },
});
const REPS = Number(values.reps);
const ALL_SIZES = values.quick
  ? [{ objects: 100, interval: 1, windowSeconds: 15 }, {
    objects: 500,
    interval: 10,
    windowSeconds: 30,
  }]
  : [{ objects: 1000, interval: 1, windowSeconds: 60 }, {
    objects: 10000,
    interval: 10,
    windowSeconds: 120,
  }];
const SIZES = ALL_SIZES.filter((size) =>
  values.objects === undefined || size.objects === Number(values.objects)
);
if (SIZES.length === 0) {
  throw new Error(
    `bench:timers --objects ${values.objects}: no such size; use one of ${
      ALL_SIZES.map((s) => s.objects).join(", ")
    }`,
  );
}
const REPO = new URL("../", import.meta.url).pathname;
const FIRST_TICKS_TIMEOUT_MS = 900_000;
const RESOURCE = benchPlane.BENCH_OBJECTS;
const NAMESPACES = objects.NAMESPACES;
type OperatorName = "deno" | "kopf";
const OPERATORS: OperatorName[] = ["deno", "kopf"];

function say(line: string): void {
  console.error(`timers: ${line}`);
}

const kopfPath = new TextDecoder().decode(
  (await new Deno.Command("bash", { args: [`${REPO}tools/kopf/venv.sh`], stderr: "inherit" })
    .output()).stdout,
).trim();

function command(operator: OperatorName, namespace: string): { cmd: string; args: string[] } {
  return operator === "deno"
    ? {
      cmd: Deno.execPath(),
      args: [
        "run",
        "-A",
        `${REPO}cli.ts`,
        "run",
        "-q",
        "--standalone",
        "-n",
        namespace,
        `${REPO}bench/operators/deno/timers.ts`,
      ],
    }
    : {
      cmd: kopfPath,
      args: [
        "run",
        "-q",
        "--standalone",
        "-n",
        namespace,
        `${REPO}bench/operators/kopf/timers.py`,
      ],
    };
}

const plane = await cluster.startControlPlane({ controllerManager: false });
using transport = new transports.Transport(
  await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath }),
);
await crds.installCrd(transport, {
  group: "bench.kopf.dev",
  plural: "benchobjects",
  kind: "BenchObject",
});

interface Run {
  operator: OperatorName;
  objects: number;
  interval: number;
  rep: number;
  ticks: number;
  cpuSeconds: number;
  cpuMsPerTick: number;
  peakRssMiB: number;
  meanRssMiB: number;
  latenessMs: { p50: number; p99: number; max: number };
  firstTicksSeconds: number;
}
const runs: Run[] = [];
try {
  for (const size of SIZES) {
    for (let rep = 1; rep <= REPS; rep++) {
      for (const operator of OPERATORS) {
        const run = await measure(operator, size, rep);
        runs.push(run);
        say(
          `${operator} ${size.objects} × ${size.interval} s #${rep}: ${run.ticks} ticks, ` +
            `${run.cpuMsPerTick.toFixed(3)} CPU ms/tick, lateness p50 ${run.latenessMs.p50} ` +
            `p99 ${run.latenessMs.p99} ms, peak RSS ${run.peakRssMiB.toFixed(1)} MiB`,
        );
      }
    }
  }
} finally {
  await plane.stop();
}

async function measure(
  operator: OperatorName,
  size: { objects: number; interval: number; windowSeconds: number },
  rep: number,
): Promise<Run> {
  const namespace = `timers-${operator}-${size.objects}-${rep}`;
  await api.createObject(transport, NAMESPACES, { metadata: { name: namespace } });
  const ticksPath = await Deno.makeTempFile({ prefix: `timers-${operator}-` });
  const { cmd, args } = command(operator, namespace);
  const child = new Deno.Command(cmd, {
    args,
    cwd: REPO,
    env: {
      KUBECONFIG: plane.kubeconfigPath,
      TIMER_INTERVAL: String(size.interval),
      TIMER_TICKS: ticksPath,
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const started = Date.now();
    const names = Array.from({ length: size.objects }, (_, i) => `t${i}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names.slice(i, i + 50).map((name) =>
          api.createObject(transport, RESOURCE, { metadata: { name }, spec: {} }, { namespace })
        ),
      );
    }
    // The window opens once every object has ticked: all timers are running.
    await crds.eventually(
      async () => new Set((await readTicks(ticksPath)).map((t) => t.name)).size >= size.objects,
      `every ${operator} timer to tick once`,
      FIRST_TICKS_TIMEOUT_MS,
    );
    const firstTicksSeconds = (Date.now() - started) / 1000;
    using sampler = new sampling.Sampler(child.pid, 500);
    const from = Date.now();
    const cpuBefore = sampling.treeCpuSeconds(child.pid) ?? 0;
    // A measurement window, not a synchronisation: the timers run on their own meanwhile.
    await new Promise((resolve) => setTimeout(resolve, size.windowSeconds * 1000));
    const cpuSeconds = (sampling.treeCpuSeconds(child.pid) ?? 0) - cpuBefore;
    const to = Date.now();
    const ticks = (await readTicks(ticksPath)).filter((t) => t.at >= from && t.at <= to);
    const byName = new Map<string, number[]>();
    for (const t of ticks) byName.set(t.name, [...byName.get(t.name) ?? [], t.at]);
    const lateness: number[] = [];
    for (const times of byName.values()) {
      times.sort((a, b) => a - b);
      for (let i = 1; i < times.length; i++) {
        lateness.push(times[i]! - times[i - 1]! - size.interval * 1000);
      }
    }
    const within = sampler.samples.filter((sample) => sample.at >= from && sample.at <= to)
      .map((sample) => sample.rssBytes);
    return {
      operator,
      objects: size.objects,
      interval: size.interval,
      rep,
      ticks: ticks.length,
      cpuSeconds,
      cpuMsPerTick: ticks.length ? (cpuSeconds * 1000) / ticks.length : NaN,
      peakRssMiB: (within.length ? Math.max(...within) : NaN) / 2 ** 20,
      meanRssMiB: (within.length ? within.reduce((a, b) => a + b, 0) / within.length : NaN) /
        2 ** 20,
      latenessMs: {
        p50: stats.percentile(lateness, 50) ?? NaN,
        p99: stats.percentile(lateness, 99) ?? NaN,
        max: stats.percentile(lateness, 100) ?? NaN,
      },
      firstTicksSeconds,
    };
  } finally {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    await child.status;
    clearTimeout(timer);
    await Deno.remove(ticksPath).catch(() => {});
  }
}

async function readTicks(path: string): Promise<{ name: string; at: number }[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((l) => l.includes(" ")).map((line) => {
    const [name, at] = line.split(" ");
    return { name: name!, at: Number(at) };
  });
}

const FIGURES = ["cpuMsPerTick", "latenessP50Ms", "latenessP99Ms", "peakRssMiB", "ticks"] as const;
type Figure = (typeof FIGURES)[number];
function figure(run: Run, name: Figure): number {
  if (name === "latenessP50Ms") return run.latenessMs.p50;
  if (name === "latenessP99Ms") return run.latenessMs.p99;
  return run[name];
}
const summary = SIZES.map((size) => {
  const key = `${size.objects}x${size.interval}s`;
  const medians = Object.fromEntries(OPERATORS.map((operator) => {
    const mine = runs.filter((r) =>
      r.operator === operator && r.objects === size.objects && r.interval === size.interval
    );
    return [
      operator,
      Object.fromEntries(
        FIGURES.map((f) => [f, stats.median(mine.map((r) => figure(r, f))) ?? NaN]),
      ),
    ];
  })) as Record<OperatorName, Record<Figure, number>>;
  const ratios = Object.fromEntries(FIGURES.map((f) => [f, medians.deno[f] / medians.kopf[f]]));
  return { key, ...size, medians, ratios };
});
const date = new Date().toISOString().slice(0, 10);
const commit = new TextDecoder().decode(
  (await new Deno.Command("git", { args: ["describe", "--always", "--dirty"], cwd: REPO }).output())
    .stdout,
).trim() || "unknown";
const out = `${REPO}bench/results/${values.quick ? "quick-" : ""}timers-${date}${
  values.objects === undefined ? "" : `-${values.objects}`
}`;
await Deno.writeTextFile(
  `${out}.json`,
  JSON.stringify(
    {
      date,
      commit,
      reps: REPS,
      loadAverage: Deno.loadavg(),
      ratios: Object.fromEntries(summary.map((s) => [s.key, s.ratios])),
      summary,
      runs,
    },
    null,
    2,
  ) + "\n",
);
const fmt = (
  x: number,
) => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(3)) : "–");
const md = [
  `# Timers: ours and Kopf 1.45.2 (${date}, ${commit})`,
  "",
  `${REPS} repetition(s), medians; one timer per object writing nothing to the API; the method:`,
  "bench/timers.md. Load average at the end: " +
  Deno.loadavg().map((l) => l.toFixed(2)).join(", ") + ".",
  "",
  "| objects × interval | figure | ours | Kopf | ours ÷ Kopf |",
  "| --- | --- | ---: | ---: | ---: |",
  ...summary.flatMap((s) =>
    FIGURES.map((f, i) =>
      `| ${i === 0 ? `${s.objects} × ${s.interval} s` : ""} | ${f} | ${fmt(s.medians.deno[f])} | ${
        fmt(s.medians.kopf[f])
      } | ${fmt(s.ratios[f]!)} |`
    )
  ),
  "",
].join("\n");
await Deno.writeTextFile(`${out}.md`, md);
console.log(md);
