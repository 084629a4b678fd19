// Turns the runs into the results: min and median of every figure across repetitions, per
// scenario and operator, and the markdown tables of medians with the ratios ours ÷ Kopf and
// ours ÷ controller-runtime. Pure functions; bench/run.ts writes what they return.

import type * as options from "./options.ts";
import type * as scenarios from "./scenarios.ts";
import * as stats from "./stats.ts";

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
export const SCENARIO_TITLES: Record<options.ScenarioName, (sizes: options.Sizes) => string> = {
  burst: (s) => `burst: ${s.burstObjects} creates at once`,
  steady: (s) => `steady: ${s.steadyRatePerSecond} creates/s for ${s.steadySeconds} s`,
  idle: (s) => `idle: ${s.idleObjects} objects held`,
  deletion: (s) => `deletion: ${s.burstObjects} objects with finalizers`,
  restart: (s) => `restart with ${s.burstObjects} handled objects`,
  three: (s) => `three handlers: ${s.burstObjects} creates at once`,
};

/** Min, median and every value of one figure across repetitions. */
export interface Aggregate {
  readonly median: number;
  readonly min: number;
  readonly values: number[];
}

/** scenario → figure → operator → aggregate. */
export type Summary = Record<string, Record<string, Record<string, Aggregate>>>;

/** Aggregates the runs; request counts by verb become figures named `requests: <verb> <res>`. */
export function summarise(runs: readonly scenarios.RunResult[]): Summary {
  const values: Record<string, Record<string, Record<string, number[]>>> = {};
  const add = (scenario: string, figure: string, operator: string, value: number) => {
    ((values[scenario] ??= {})[figure] ??= {})[operator] ??= [];
    values[scenario]![figure]![operator]!.push(value);
  };
  for (const run of runs) {
    for (const [figure, value] of Object.entries(run.figures)) {
      if (Number.isFinite(value)) add(run.scenario, figure, run.operator, value);
    }
    for (const [key, value] of Object.entries(run.requests?.perObject ?? {})) {
      add(run.scenario, `requests: ${key}`, run.operator, value);
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
  return summary;
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
  scenarioNames: readonly options.ScenarioName[],
  sizes: options.Sizes,
  which: "median" | "min" = "median",
): string {
  const lines = [
    "| scenario | figure | ours | Kopf | controller-runtime | ours ÷ Kopf | ours ÷ c-r |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const scenario of scenarioNames) {
    const figures = summary[scenario];
    if (!figures) continue;
    let first = true;
    for (const [figure, label] of Object.entries(FIGURES)) {
      const byOperator = figures[figure];
      if (!byOperator) continue;
      const [ours, kopf, go] = (["deno", "kopf", "go"] as const).map((op) =>
        byOperator[op]?.[which]
      );
      const title = first ? SCENARIO_TITLES[scenario](sizes) : "";
      first = false;
      const shown = SCENARIO_LABELS[scenario]?.[figure] ?? label;
      lines.push(
        `| ${title} | ${shown} | ${format(ours)} | ${format(kopf)} | ${format(go)} | ${
          ratio(ours, kopf)
        } | ${ratio(ours, go)} |`,
      );
    }
  }
  return lines.join("\n");
}

/** The second table: API requests per object by verb and resource (medians). */
export function requestsTable(
  summary: Summary,
  scenarioNames: readonly options.ScenarioName[],
): string {
  const lines = [
    "| scenario | request | ours | Kopf | controller-runtime |",
    "| --- | --- | ---: | ---: | ---: |",
  ];
  for (const scenario of scenarioNames) {
    const figures = summary[scenario];
    if (!figures) continue;
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
