// The command line of `deno task chaos` and the three profiles it can run: a chaos run (30 min
// by default), the CI smoke (`--smoke`: every fault at least once in about 3 minutes) and the
// soak (`--soak 60m`: 1,000 objects churning, the operator's RSS sampled each minute). Called by
// bench/chaos/run.ts before anything starts; a bad flag is a `UsageError` (one line, exit 2).

import { parseArgs } from "node:util";
import * as randoms from "./random.ts";

/** The faults, in the order of the report's table. */
export const FAULTS = [
  "kill",
  "apiserver",
  "compaction",
  "proxy",
  "throttle",
  "crd",
  "leader",
] as const;
/** One of {@link FAULTS}. */
export type FaultName = typeof FAULTS[number];

/** What each fault does, for --help and the report. */
export const FAULT_DESCRIPTIONS: Record<FaultName, string> = {
  kill: "SIGKILL of the operator (the leader, with 2 replicas) and an immediate restart",
  apiserver: "kube-apiserver stopped, then started again on the same port and etcd",
  compaction: "etcd compacted to its current revision, then the operator's connections cut: " +
    "its watches resume from a compacted resourceVersion (410 Gone) and relist",
  proxy: "the operator's TCP connections frozen silently (no bytes, no RST), then dropped",
  throttle: "API Priority and Fairness gives the operator's user one seat and rejects the " +
    "rest with 429, while the load bursts",
  crd: "the KopfExample CRD deleted (its objects go with it) and created again",
  leader: "2 replicas with --peering lease: the active one SIGKILLed; the other takes over",
};

/** The three kinds of run. */
export type Mode = "chaos" | "smoke" | "soak";

/** A range of seconds, drawn from uniformly. */
export type Range = readonly [min: number, max: number];

/** Everything a run needs to know, from the flags and the profile's defaults. */
export interface Options {
  readonly mode: Mode;
  /** How long the load and the faults go on (the settle phase comes after). */
  readonly durationSeconds: number;
  readonly seed: number;
  /** The population of live objects the load keeps (creates, updates, deletes around it). */
  readonly objects: number;
  /** Operations (create, update or delete) per second, open loop. */
  readonly ratePerSecond: number;
  readonly faults: readonly FaultName[];
  /** 2 with the `leader` fault (both with `--peering lease`), else 1 (`--standalone`). */
  readonly replicas: number;
  /** Keep kube-apiserver's watch cache (then compaction rarely causes a 410; see docs/chaos.md). */
  readonly watchCache: boolean;
  /** `--peering lease` timings: duration, renew deadline, retry period (seconds). */
  readonly leaseTimings: readonly [number, number, number];
  /** The quiet time between one fault's recovery and the next fault. */
  readonly gapSeconds: Range;
  readonly apiserverDownSeconds: Range;
  readonly freezeSeconds: Range;
  readonly throttleSeconds: Range;
  /** How long the schedule waits for a fault's recovery before it goes on regardless. */
  readonly recoveryCapSeconds: number;
  /** How long the end state may take to converge after the load stopped. */
  readonly settleSeconds: number;
  /** The operator's RSS is sampled this often. */
  readonly sampleSeconds: number;
  /** RSS samples before this are left out of the slope (soak). */
  readonly warmUpSeconds: number;
  /** How long each handler takes (a handler that takes a moment widens the kill windows). */
  readonly handlerMs: number;
  /** Where the results go. */
  readonly outDir: string;
  readonly keepLogs: boolean;
  /** Only render the markdown of this results JSON again. */
  readonly render: string | undefined;
  readonly help: boolean;
}

/** A command-line mistake: the message is the one line to print before exiting with 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

const RESULTS = new URL("../results/", import.meta.url).pathname;

/** The text of `--help`. */
export const USAGE = `Usage: deno task chaos [--duration 30m] [--seed N] [--objects N] [--rate N]
                       [--faults LIST] [--smoke | --soak DURATION] [--watch-cache]

Runs our operator against a private control plane while a load generator creates, updates and
deletes KopfExamples and a schedule injects faults; an oracle checks that no object was lost
and no handler re-ran after its success was recorded. Writes bench/results/chaos-<date>.{json,md}
(--smoke: quick-chaos-<date>.*, --soak: soak-<date>.*) and prints a summary. Exits 1 when an
object was lost or an operator exited unasked, 2 on a bad command line. See docs/chaos.md.

  --duration D     How long the load and the faults go on: 90s, 30m, 1h (default 30m)
  --seed N         The seed of the fault schedule and the load (default: random, printed)
  --objects N      Live objects the load keeps (default 200; --smoke 60; --soak 1000)
  --rate N         Operations per second (default 8; --smoke 5; --soak 5)
  --faults LIST    Comma-separated, default all: ${FAULTS.join(",")}
  --smoke          About 3 minutes, every fault at least once, short Lease timings (for CI)
  --soak D         A soak of duration D: no faults (unless --faults), RSS sampled each minute,
                   its slope after a warm-up reported (kill and leader are refused here)
  --watch-cache    Keep kube-apiserver's watch cache (by default it is off; docs/chaos.md says why)
  --keep-logs      Keep the operators' logs and the invocation log even when all is well
  --out DIR        Where the results go (default bench/results)
  --render FILE    Only write the markdown of an earlier run's JSON again (FILE.json → FILE.md)
  -h, --help       Show this help

Faults:
${FAULTS.map((f) => `  ${f.padEnd(11)} ${FAULT_DESCRIPTIONS[f]}`).join("\n")}`;

/** Parses the command line; throws `UsageError` with one line on bad input. */
export function parseOptions(args: readonly string[]): Options {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        duration: { type: "string" },
        seed: { type: "string" },
        objects: { type: "string" },
        rate: { type: "string" },
        faults: { type: "string" },
        smoke: { type: "boolean", default: false },
        soak: { type: "string" },
        "watch-cache": { type: "boolean", default: false },
        "keep-logs": { type: "boolean", default: false },
        out: { type: "string" },
        render: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new UsageError(`${message}; see --help`);
  }
  if (values.smoke && values.soak !== undefined) {
    throw new UsageError("Invalid flags: --smoke and --soak exclude each other");
  }
  const mode: Mode = values.smoke ? "smoke" : values.soak !== undefined ? "soak" : "chaos";
  if (mode === "soak" && values.duration !== undefined) {
    throw new UsageError("Invalid flags: --soak takes the duration itself (--soak 60m)");
  }
  const durationSeconds = parseDuration(
    (mode === "soak" ? values.soak : values.duration) ?? (mode === "smoke" ? "3m" : "30m"),
    mode === "soak" ? "--soak" : "--duration",
  );
  const faults = values.faults === undefined
    ? (mode === "soak" ? [] : FAULTS)
    : listOf(values.faults, FAULTS, "--faults");
  if (mode === "soak") {
    const refused = faults.filter((f) => f === "kill" || f === "leader");
    if (refused.length > 0) {
      throw new UsageError(
        `Invalid --faults "${values.faults}": ${refused.join(", ")} restart the operator, ` +
          "and the soak's RSS slope needs one process",
      );
    }
  }
  const smoke = mode === "smoke";
  return {
    mode,
    durationSeconds,
    seed: values.seed === undefined
      ? randoms.freshSeed()
      : wholeNumber(values.seed, "--seed", 0, 2 ** 32 - 1),
    objects: values.objects === undefined
      ? (smoke ? 60 : mode === "soak" ? 1000 : 200)
      : wholeNumber(values.objects, "--objects", 1, 100_000),
    ratePerSecond: values.rate === undefined
      ? (mode === "chaos" ? 8 : 5)
      : positive(values.rate, "--rate"),
    faults,
    replicas: faults.includes("leader") ? 2 : 1,
    watchCache: values["watch-cache"] ?? false,
    leaseTimings: smoke ? [6, 4, 1] : [15, 10, 2],
    gapSeconds: smoke ? [2, 6] : [10, 40],
    apiserverDownSeconds: smoke ? [2, 4] : [2, 15],
    freezeSeconds: smoke ? [3, 6] : [5, 30],
    throttleSeconds: smoke ? [6, 10] : [10, 30],
    recoveryCapSeconds: smoke ? 45 : 120,
    settleSeconds: smoke ? 60 : 180,
    sampleSeconds: 60,
    warmUpSeconds: Math.min(600, Math.round(durationSeconds / 4)),
    handlerMs: 30,
    outDir: values.out ?? RESULTS,
    keepLogs: values["keep-logs"] ?? false,
    render: values.render,
    help: values.help ?? false,
  };
}

/** `90s`, `30m`, `1h`, `1h30m` or plain seconds → seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(text.trim());
  const seconds = match
    ? Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0)
    : NaN;
  if (!match || !text.trim() || !(seconds > 0)) {
    throw new UsageError(`Invalid ${flag} "${text}": expected a duration such as 90s, 30m or 1h`);
  }
  return seconds;
}

function wholeNumber(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(
      `Invalid ${flag} "${text}": expected a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

function positive(text: string, flag: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new UsageError(`Invalid ${flag} "${text}": expected a positive number`);
  }
  return value;
}

function listOf<T extends string>(text: string, known: readonly T[], flag: string): readonly T[] {
  const items = text.split(",").map((item) => item.trim()).filter(Boolean);
  const unknown = items.filter((item) => !(known as readonly string[]).includes(item));
  if (unknown.length > 0 || items.length === 0) {
    throw new UsageError(
      `Invalid ${flag} "${text}": expected a comma-separated list of ${known.join(", ")}`,
    );
  }
  return known.filter((item) => items.includes(item));
}
