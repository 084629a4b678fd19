// Turns the runs into the results: min and median of every figure across repetitions, per case
// and operator, the marginal cost per object across the sizes of `scaling`, the ratios ours ÷
// Kopf and ours ÷ controller-runtime of every median, and the markdown tables. Pure functions;
// bench/run.ts writes what they return.

import type * as options from "./options.ts";
import type * as runs from "./runs.ts";
import * as stats from "./stats.ts";

/** The summary's key of the marginal figures of `scaling` (the sizes are `scaling-<N>`). */
export const SCALING_MARGINAL = "scaling";

/** A figure's label in the table; ↑ higher is better, ↓ lower is better. */
export const FIGURES: Record<string, string> = {
  throughput: "objects handled/s ↑",
  handlerStartP50Ms: "create→handler start p50, ms ↓",
  handlerStartP99Ms: "create→handler start p99, ms ↓",
  visibleP50Ms: "create→status visible p50, ms ↓",
  visibleP99Ms: "create→status visible p99, ms ↓",
  goneP50Ms: "delete→gone p50, ms ↓",
  goneP99Ms: "delete→gone p99, ms ↓",
  requestsPerObject: "API requests/object ↓",
  writesPerObject: "API writes/object ↓",
  writesAfterRestart: "writes to handled objects after restart ↓",
  updateVisibleP50Ms: "update response→status visible p50, ms ↓",
  updateVisibleP99Ms: "update response→status visible p99, ms ↓",
  updatesMissed: "updates never handled (must be 0) ↓",
  requestsPerUpdate: "API requests/update in the window ↓",
  writesPerUpdate: "API writes/update in the window ↓",
  churnCpuSeconds: "CPU in the churn window, s ↓",
  cpuMsPerUpdate: "CPU per update, ms ↓",
  churnPeakRssMiB: "peak RSS in the churn window, MiB ↓",
  churnMeanRssMiB: "mean RSS in the churn window, MiB ↓",
  churnServerCpuSeconds: "kube-apiserver + etcd CPU in the churn window, s ↓",
  handlingCpuSeconds: "CPU from the first create to the end of the settle, s ↓",
  cpuMsPerObject: "CPU per object, ms ↓",
  peakRssKiBPerObject: "peak RSS ÷ objects, KiB ↓",
  idleRssKiBPerObject: "idle RSS ÷ objects, KiB ↓",
  cpuMsPerObjectMarginal: "CPU per added object, ms ↓",
  peakRssKiBPerObjectMarginal: "peak RSS per added object, KiB ↓",
  idleRssKiBPerObjectMarginal: "idle RSS per added object, KiB ↓",
  startToFirstHandlerSeconds: "spawn→first handler, s ↓",
  restartToHandledSeconds: "restart→new object's status visible, s ↓",
  peakRssMiB: "peak RSS, MiB ↓",
  idleRssMiB: "idle RSS, MiB ↓",
  cpuSeconds: "CPU, s ↓",
  serverCpuSeconds: "kube-apiserver + etcd CPU, s ↓",
};

/** Labels that differ in one scenario. */
const SCENARIO_LABELS: Partial<Record<options.ScenarioName, Record<string, string>>> = {
  deletion: { throughput: "objects deleted/s ↑" },
  restart: { startToFirstHandlerSeconds: "restart→first handler, s ↓" },
};

/** What the scenarios are, for the table. */
export const SCENARIO_TITLES: Record<
  options.ScenarioName,
  (sizes: options.Sizes, chosen: options.Case) => string
> = {
  burst: (s) => `burst: ${s.burstObjects} creates at once`,
  steady: (s) => `steady: ${s.steadyRatePerSecond} creates/s for ${s.steadySeconds} s`,
  idle: (s) => `idle: ${s.idleObjects} objects held`,
  deletion: (s) => `deletion: ${s.burstObjects} objects with finalizers`,
  restart: (s) => `restart with ${s.burstObjects} handled objects`,
  three: (s) => `three handlers: ${s.burstObjects} creates at once`,
  churn: (s) =>
    `churn: ${s.churnPercentPerSecond}% of ${s.churnObjects} objects updated per second for ${s.churnSeconds} s`,
  scaling: (_, c) => `scaling: ${c.objects} creates at once, then idle`,
};

/** The rows of the tables: every case, and the marginal figures after the last `scaling` size. */
export function sections(
  cases: readonly options.Case[],
  sizes: options.Sizes,
): { key: string; title: string }[] {
  const out: { key: string; title: string }[] = [];
  const scaling = cases.filter((c) => c.scenario === "scaling").map((c) => c.objects ?? 0);
  for (const chosen of cases) {
    out.push({ key: chosen.key, title: SCENARIO_TITLES[chosen.scenario](sizes, chosen) });
    if (scaling.length >= 2 && chosen === cases.findLast((c) => c.scenario === "scaling")) {
      const [least, most] = [Math.min(...scaling), Math.max(...scaling)];
      out.push({
        key: SCALING_MARGINAL,
        title: `scaling: cost per added object, ${least} → ${most} objects`,
      });
    }
  }
  return out;
}

/** Min, median and every value of one figure across repetitions. */
export interface Aggregate {
  readonly median: number;
  readonly min: number;
  readonly values: number[];
}

/** case key → figure → operator → aggregate. */
export type Summary = Record<string, Record<string, Record<string, Aggregate>>>;

/**
 * Aggregates the runs by case key; request counts by verb become figures named
 * `requests: <verb> <res>`; the sizes of `scaling` also give the marginal figures.
 */
export function summarise(runs: readonly runs.RunResult[]): Summary {
  const values: Record<string, Record<string, Record<string, number[]>>> = {};
  const add = (scenario: string, figure: string, operator: string, value: number) => {
    ((values[scenario] ??= {})[figure] ??= {})[operator] ??= [];
    values[scenario]![figure]![operator]!.push(value);
  };
  for (const run of runs) {
    for (const [figure, value] of Object.entries(run.figures)) {
      if (Number.isFinite(value)) add(run.key, figure, run.operator, value);
    }
    const requests = run.requests?.perObject ?? run.requests?.perUpdate ?? {};
    for (const [key, value] of Object.entries(requests)) {
      add(run.key, `requests: ${key}`, run.operator, value);
    }
  }
  const summary: Summary = {};
  for (const [scenario, figures] of Object.entries(values)) {
    for (const [figure, operators] of Object.entries(figures)) {
      for (const [operator, list] of Object.entries(operators)) {
        ((summary[scenario] ??= {})[figure] ??= {})[operator] = {
          median: stats.round(stats.median(list)!),
          min: stats.round(stats.min(list)!),
          values: list,
        };
      }
    }
  }
  const marginal = marginals(summary, runs);
  if (marginal) summary[SCALING_MARGINAL] = marginal;
  return summary;
}

/**
 * The cost of one more object between the smallest and the largest size of `scaling`, from the
 * medians: (figure at the largest − at the smallest) ÷ the difference in objects. Undefined
 * with fewer than two sizes.
 */
function marginals(
  summary: Summary,
  all: readonly runs.RunResult[],
): Record<string, Record<string, Aggregate>> | undefined {
  const sizes = new Map<number, string>();
  // The size from the key (`scaling-<N>`): a failed run may not have counted its objects.
  for (const run of all) {
    if (run.scenario === "scaling") sizes.set(Number(run.key.split("-")[1]), run.key);
  }
  if (sizes.size < 2) return undefined;
  const counts = [...sizes.keys()].sort((a, b) => a - b);
  const least = counts[0]!;
  const most = counts[counts.length - 1]!;
  const [low, high] = [summary[sizes.get(least)!], summary[sizes.get(most)!]];
  const derived: Record<string, Record<string, Aggregate>> = {};
  const derive = (name: string, from: string, scale: number) => {
    for (const operator of Object.keys(high?.[from] ?? {})) {
      const a = low?.[from]?.[operator]?.median;
      const b = high?.[from]?.[operator]?.median;
      if (a === undefined || b === undefined) continue;
      const value = stats.round(((b - a) * scale) / (most - least));
      (derived[name] ??= {})[operator] = { median: value, min: value, values: [value] };
    }
  };
  derive("cpuMsPerObjectMarginal", "handlingCpuSeconds", 1000);
  derive("peakRssKiBPerObjectMarginal", "peakRssMiB", 1024);
  derive("idleRssKiBPerObjectMarginal", "idleRssMiB", 1024);
  return derived;
}

/** ours ÷ `<operator>` of one figure's medians; 1 when both are 0, null when only the other is. */
export type Ratios = Record<string, Record<string, Record<string, number | null>>>;

/**
 * The ratios of our medians to Kopf's and to controller-runtime's, for every figure of every
 * case: `ratios[key][figure]["deno/kopf"]`, `…["deno/go"]`. A pair is left out when either
 * operator has no median.
 */
export function ratios(summary: Summary): Ratios {
  const out: Ratios = {};
  for (const [key, figures] of Object.entries(summary)) {
    for (const [figure, byOperator] of Object.entries(figures)) {
      const ours = byOperator.deno?.median;
      if (ours === undefined) continue;
      for (const other of ["kopf", "go"] as const) {
        const theirs = byOperator[other]?.median;
        if (theirs === undefined) continue;
        const value = theirs === 0 ? (ours === 0 ? 1 : null) : stats.round(ours / theirs);
        ((out[key] ??= {})[figure] ??= {})[`deno/${other}`] = value;
      }
    }
  }
  return out;
}

/** Formats a figure: whole numbers from 100 up, three significant digits below. */
export function format(value: number | undefined): string {
  if (value === undefined) return "—";
  if (Math.abs(value) >= 100) return String(Math.round(value));
  if (value === 0) return "0";
  return String(Number(value.toPrecision(3)));
}

function ratio(ours: number | undefined, other: number | undefined): string {
  if (ours === undefined || other === undefined) return "—";
  if (other === 0) return ours === 0 ? "=" : "—";
  return `${(ours / other).toFixed(2)}×`;
}

/** The main table: per scenario and figure, the medians and the ratios of ours to the others. */
export function table(
  summary: Summary,
  cases: readonly options.Case[],
  sizes: options.Sizes,
  which: "median" | "min" = "median",
): string {
  const lines = [
    "| scenario | figure | ours | Kopf | controller-runtime | ours ÷ Kopf | ours ÷ c-r |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const { key, title: heading } of sections(cases, sizes)) {
    const figures = summary[key];
    if (!figures) continue;
    const scenario = cases.find((c) => c.key === key)?.scenario;
    let first = true;
    for (const [figure, label] of Object.entries(FIGURES)) {
      const byOperator = figures[figure];
      if (!byOperator) continue;
      const [ours, kopf, go] = (["deno", "kopf", "go"] as const).map((op) =>
        byOperator[op]?.[which]
      );
      const title = first ? heading : "";
      first = false;
      const shown = (scenario && SCENARIO_LABELS[scenario]?.[figure]) ?? label;
      lines.push(
        `| ${title} | ${shown} | ${format(ours)} | ${format(kopf)} | ${format(go)} | ${
          ratio(ours, kopf)
        } | ${ratio(ours, go)} |`,
      );
    }
  }
  return lines.join("\n");
}

/** Peak RSS of every case (medians) with the ratios: where memory stands at a glance. */
export function peakRssTable(
  summary: Summary,
  cases: readonly options.Case[],
  sizes: options.Sizes,
): string {
  const lines = [
    "| scenario | ours | Kopf | controller-runtime | ours ÷ Kopf | ours ÷ c-r |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const { key, title } of sections(cases, sizes)) {
    const byOperator = summary[key]?.peakRssMiB;
    if (!byOperator) continue;
    const [ours, kopf, go] = (["deno", "kopf", "go"] as const).map((op) => byOperator[op]?.median);
    lines.push(
      `| ${title} | ${format(ours)} | ${format(kopf)} | ${format(go)} | ${ratio(ours, kopf)} | ${
        ratio(ours, go)
      } |`,
    );
  }
  return lines.join("\n");
}

/** The requests table: API requests per object (churn: per update) by verb and resource. */
export function requestsTable(summary: Summary, cases: readonly options.Case[]): string {
  const lines = [
    "| scenario | request | ours | Kopf | controller-runtime |",
    "| --- | --- | ---: | ---: | ---: |",
  ];
  for (const { key } of cases) {
    const figures = summary[key];
    if (!figures) continue;
    const scenario = figures.requestsPerUpdate ? `${key} (per update)` : key;
    let first = true;
    const keys = Object.keys(figures).filter((key) => key.startsWith("requests: ")).sort();
    for (const key of keys) {
      const byOperator = figures[key]!;
      const cells = (["deno", "kopf", "go"] as const).map((op) => format(byOperator[op]?.median));
      lines.push(
        `| ${first ? scenario : ""} | ${key.slice("requests: ".length)} | ${cells.join(" | ")} |`,
      );
      first = false;
    }
  }
  return lines.join("\n");
}
