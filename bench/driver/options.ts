// The command line of `deno task bench` and the sizes of every scenario, full and quick. Called
// by bench/run.ts before anything starts; a bad flag is a `UsageError` (one line, exit 2).

import { parseArgs } from "node:util";

/** The operators the driver knows, in the order of the table. */
export const OPERATORS = ["deno", "kopf", "go"] as const;
/** One of {@link OPERATORS}. */
export type OperatorName = typeof OPERATORS[number];

/** The scenarios, in the order they run and appear in the table. */
export const SCENARIOS = ["burst", "steady", "idle", "deletion", "restart", "three"] as const;
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
  /** Events of the in-process watch-decoding benchmark. */
  readonly watchDecodingEvents: number;
}

/** The sizes of the issue: 1,000 at once, 50/s for 60 s, 10,000 idle. */
export const FULL: Sizes = {
  burstObjects: 1000,
  steadyRatePerSecond: 50,
  steadySeconds: 60,
  idleObjects: 10_000,
  idleSettleSeconds: 10,
  idleSampleSeconds: 2,
  restartQuietSeconds: 3,
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
  watchDecodingEvents: 5_000,
};

/** What the command line asked for. */
export interface Options {
  readonly quick: boolean;
  readonly operators: readonly OperatorName[];
  readonly scenarios: readonly ScenarioName[];
  readonly reps: number;
  /** Whether kube-apiserver writes an audit log (off only to measure what it costs). */
  readonly audit: boolean;
  readonly sizes: Sizes;
  readonly help: boolean;
}

/** A command-line mistake: the message is the one line to print before exiting with 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The text of `--help`. */
export const USAGE =
  `Usage: deno task bench [--quick] [--operators deno,kopf,go] [--scenarios LIST] [--reps N]

Runs each scenario against each operator on one private control plane and writes
bench/results/<date>.{json,md} (--quick: bench/results/quick-<date>.{json,md}).

  --quick            Everything scaled down (a smoke run for CI), 1 repetition
  --operators LIST   Comma-separated: ${OPERATORS.join(",")} (default: all)
  --scenarios LIST   Comma-separated: ${SCENARIOS.join(",")} (default: all)
  --reps N           Repetitions of each scenario × operator (default: 3; --quick: 1)
  --no-audit         Run kube-apiserver without an audit log (no request counts; to measure
                     what the audit log costs)
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
        "no-audit": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new UsageError(`${message}; see --help`);
  }
  const quick = values.quick ?? false;
  const reps = values.reps === undefined ? (quick ? 1 : 3) : Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1) {
    throw new UsageError(`Invalid --reps "${values.reps}": expected a whole number of at least 1`);
  }
  return {
    quick,
    operators: listOf(values.operators, OPERATORS, "--operators"),
    scenarios: listOf(values.scenarios, SCENARIOS, "--scenarios"),
    reps,
    audit: !values["no-audit"],
    sizes: quick ? QUICK : FULL,
    help: values.help ?? false,
  };
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
