// The command line of `deno task bench`, the sizes of every scenario (full, quick, and single
// sizes overridden with --size), and the cases the run loop goes through (a scenario, or one
// size of `scaling`). Called by bench/run.ts before anything starts; a bad flag is a
// `UsageError` (one line, exit 2).

import { parseArgs } from "node:util";

/** The operators the driver knows, in the order of the table. */
export const OPERATORS = ["deno", "kopf", "go"] as const;
/** One of {@link OPERATORS}. */
export type OperatorName = typeof OPERATORS[number];

/** The scenarios, in the order they run and appear in the table. */
export const SCENARIOS = [
  "burst",
  "steady",
  "idle",
  "deletion",
  "restart",
  "three",
  "churn",
  "scaling",
] as const;
/** One of {@link SCENARIOS}. */
export type ScenarioName = typeof SCENARIOS[number];

/** How big each scenario is; `--quick` scales everything down. */
export interface Sizes {
  /** Objects created at once in `burst`, `three`, `deletion` and `restart`. */
  readonly burstObjects: number;
  /** Creates per second in `steady`. */
  readonly steadyRatePerSecond: number;
  /** How long `steady` creates. */
  readonly steadySeconds: number;
  /** Objects held in `idle`. */
  readonly idleObjects: number;
  /** How long `idle` lets the operator settle before the idle RSS is sampled. */
  readonly idleSettleSeconds: number;
  /** How long `idle` samples the idle RSS (the mean of the samples counts). */
  readonly idleSampleSeconds: number;
  /** How long `restart` watches for writes after the restarted operator handled its probe. */
  readonly restartQuietSeconds: number;
  /** Objects held in `churn` (created and handled before the measured window). */
  readonly churnObjects: number;
  /** The share of them updated per second in `churn`, in percent (1: 100/s of 10,000). */
  readonly churnPercentPerSecond: number;
  /** How long `churn` updates: the measured window. */
  readonly churnSeconds: number;
  /** How long `churn` leaves the operator alone between the last handled create and the window. */
  readonly churnSettleSeconds: number;
  /** The sizes of `scaling`, each a case of its own (a burst of that many, then idle). */
  readonly scalingObjects: readonly number[];
  /** Events of the in-process watch-decoding benchmark. */
  readonly watchDecodingEvents: number;
}

/**
 * The sizes of the issues: 1,000 at once, 50/s for 60 s, 10,000 idle (issue 7); 1% of 10,000
 * updated per second for 5 minutes, and 1,000 / 10,000 / 30,000 objects to scale (issue 14).
 */
export const FULL: Sizes = {
  burstObjects: 1000,
  steadyRatePerSecond: 50,
  steadySeconds: 60,
  idleObjects: 10_000,
  idleSettleSeconds: 10,
  idleSampleSeconds: 2,
  restartQuietSeconds: 3,
  churnObjects: 10_000,
  churnPercentPerSecond: 1,
  churnSeconds: 300,
  churnSettleSeconds: 5,
  scalingObjects: [1000, 10_000, 30_000],
  watchDecodingEvents: 20_000,
};

/** A smoke run for CI: every scenario and figure, in a couple of minutes. */
export const QUICK: Sizes = {
  burstObjects: 50,
  steadyRatePerSecond: 50,
  steadySeconds: 5,
  idleObjects: 200,
  idleSettleSeconds: 2,
  idleSampleSeconds: 1,
  restartQuietSeconds: 1,
  churnObjects: 500,
  churnPercentPerSecond: 1,
  churnSeconds: 30,
  churnSettleSeconds: 2,
  scalingObjects: [200, 1000],
  watchDecodingEvents: 5_000,
};

/** Repetitions of a full run (and so of a run that writes the day's full results). */
export const FULL_REPS = 3;

/** One entry of the run loop: a scenario, or one size of `scaling`. */
export interface Case {
  /** The key of its figures in the summary: the scenario's name, or `scaling-<N>`. */
  readonly key: string;
  readonly scenario: ScenarioName;
  /** The objects of a `scaling` case. */
  readonly objects?: number;
}

/** The cases of the chosen scenarios, in order: `scaling` becomes one case per size. */
export function casesOf(scenarios: readonly ScenarioName[], sizes: Sizes): Case[] {
  return scenarios.flatMap((scenario): Case[] =>
    scenario === "scaling"
      ? sizes.scalingObjects.map((objects) => ({ key: `scaling-${objects}`, scenario, objects }))
      : [{ key: scenario, scenario }]
  );
}

/** What the command line asked for. */
export interface Options {
  readonly quick: boolean;
  readonly operators: readonly OperatorName[];
  readonly scenarios: readonly ScenarioName[];
  readonly reps: number;
  /** Whether kube-apiserver writes an audit log (off only to measure what it costs). */
  readonly audit: boolean;
  readonly sizes: Sizes;
  /** V8 flags for our operator only (`deno run --v8-flags=…`), to measure memory trade-offs. */
  readonly denoV8Flags: string | undefined;
  /** What the results files are called after the date: `--name`, or `partial` (see below). */
  readonly name: string | undefined;
  readonly help: boolean;
}

/** A command-line mistake: the message is the one line to print before exiting with 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The text of `--help`. */
export const USAGE =
  `Usage: deno task bench [--quick] [--operators deno,kopf,go] [--scenarios LIST] [--reps N]
                       [--size KEY=VALUE]… [--deno-v8-flags=FLAGS] [--name NAME]

Runs each scenario against each operator on one private control plane and writes
bench/results/<date>.{json,md} (--quick: bench/results/quick-<date>.{json,md}). A run that
is not the full one (fewer operators, scenarios or repetitions, other sizes or flags) writes
bench/results/<date>-partial.{json,md} instead, so it never replaces the day's full run.

  --quick            Everything scaled down (a smoke run for CI), 1 repetition
  --operators LIST   Comma-separated: ${OPERATORS.join(",")} (default: all)
  --scenarios LIST   Comma-separated: ${SCENARIOS.join(",")} (default: all)
  --reps N           Repetitions of each scenario × operator (default: ${FULL_REPS}; --quick: 1)
  --size KEY=VALUE   Overrides one size (of the full run, or of --quick), e.g.
                     churnSeconds=60 or scalingObjects=1000,10000; repeatable
  --no-audit         Run kube-apiserver without an audit log (no request counts; to measure
                     what the audit log costs)
  --deno-v8-flags=F  Runs our operator as \`deno run --v8-flags=F\` (e.g. =--optimize-for-size),
                     the peers as ever: what a V8 setting trades
  --name NAME        Writes bench/results/<date>-NAME.{json,md} (letters, digits, dashes)
  -h, --help         Show this help`;

/** Parses the command line; throws `UsageError` with one line on bad input. */
export function parseOptions(args: readonly string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: "boolean", default: false },
        operators: { type: "string" },
        scenarios: { type: "string" },
        reps: { type: "string" },
        size: { type: "string", multiple: true },
        "no-audit": { type: "boolean", default: false },
        "deno-v8-flags": { type: "string" },
        name: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    // A value that starts with a dash, like V8's flags, must be given as --option=value.
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message ?? "");
    if (ambiguous) {
      throw new UsageError(`${ambiguous[1]} takes its value after "=": ${ambiguous[1]}=--FLAG`);
    }
    throw new UsageError(`${message}; see --help`);
  }
  const quick = values.quick ?? false;
  const reps = values.reps === undefined ? (quick ? 1 : FULL_REPS) : Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1) {
    throw new UsageError(`Invalid --reps "${values.reps}": expected a whole number of at least 1`);
  }
  const flags = values["deno-v8-flags"];
  if (flags !== undefined && !/^--\S/.test(flags.trim())) {
    throw new UsageError(
      `Invalid --deno-v8-flags "${flags}": expected V8 flags such as --optimize-for-size`,
    );
  }
  if (values.name !== undefined && !/^[A-Za-z0-9][A-Za-z0-9-]*$/.test(values.name)) {
    throw new UsageError(
      `Invalid --name "${values.name}": expected letters, digits and dashes, e.g. optimize-for-size`,
    );
  }
  const operators = listOf(values.operators, OPERATORS, "--operators");
  const scenarios = listOf(values.scenarios, SCENARIOS, "--scenarios");
  const full = operators.length === OPERATORS.length && scenarios.length === SCENARIOS.length &&
    reps === FULL_REPS && !values["no-audit"] && (values.size ?? []).length === 0 &&
    flags === undefined;
  return {
    quick,
    operators,
    scenarios,
    reps,
    audit: !values["no-audit"],
    sizes: withSizes(quick ? QUICK : FULL, values.size ?? []),
    denoV8Flags: flags?.trim(),
    name: values.name ?? (quick || full ? undefined : "partial"),
    help: values.help ?? false,
  };
}

/** The results files' path without extension: `<dir><date>`, `quick-<date>`, `<date>-<name>`. */
export function resultsBase(dir: string, date: string, chosen: Options): string {
  return `${dir}${chosen.quick ? "quick-" : ""}${date}${chosen.name ? `-${chosen.name}` : ""}`;
}

/** The sizes with `--size KEY=VALUE` overrides applied: whole numbers ≥ 1, lists for lists. */
function withSizes(base: Sizes, overrides: readonly string[]): Sizes {
  const sizes: Record<string, number | readonly number[]> = { ...base };
  for (const override of overrides) {
    const [key = "", text = ""] = override.split("=", 2);
    const current = sizes[key];
    const numbers = text.split(",").map(Number);
    const valid = text !== "" && numbers.every((n) => Number.isInteger(n) && n >= 1);
    if (current === undefined) {
      throw new UsageError(
        `Invalid --size "${override}": expected KEY=VALUE with KEY one of ${
          Object.keys(base).join(", ")
        }`,
      );
    }
    if (!valid || (!Array.isArray(current) && numbers.length !== 1)) {
      throw new UsageError(
        `Invalid --size "${override}": expected ${
          Array.isArray(current) ? "a comma-separated list of whole numbers" : "a whole number"
        } of at least 1`,
      );
    }
    sizes[key] = Array.isArray(current) ? numbers : numbers[0]!;
  }
  return sizes as unknown as Sizes;
}

function listOf<T extends string>(
  text: string | undefined,
  known: readonly T[],
  flag: string,
): readonly T[] {
  if (text === undefined) return known;
  const items = text.split(",").map((item) => item.trim()).filter(Boolean);
  const unknown = items.filter((item) => !(known as readonly string[]).includes(item));
  if (unknown.length > 0 || items.length === 0) {
    throw new UsageError(
      `Invalid ${flag} "${text}": expected a comma-separated list of ${known.join(", ")}`,
    );
  }
  // The table's order, not the command line's; each once.
  return known.filter((item) => items.includes(item));
}
