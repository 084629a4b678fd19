// One run — a case × operator × repetition — and the steps the scenarios are made of: start the
// operator behind a probe object, create at once, let it settle and sample its idle RSS, note
// the figures of creation, finish (CPU, RSS, the end-state check) and count the requests in the
// audit log. Called by scenarios.ts, which strings these steps together per scenario.

import type * as transports from "../../lib/k8s/transport.ts";
import * as auditing from "./auditing.ts";
import * as objects from "./objects.ts";
import type * as operators from "./operators.ts";
import type * as options from "./options.ts";
import * as sampling from "./sampling.ts";
import * as stats from "./stats.ts";

/** How long an operator may take to handle its first object after the spawn. */
const START_TIMEOUT_MS = 120_000;
/** How long handling may take: a base plus a generous time per object (Kopf's worst case). */
const HANDLE_BASE_MS = 60_000;
const HANDLE_PER_OBJECT_MS = 50;
const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);
/** Bytes in a MiB and a KiB, for the figures. */
export const MiB = 2 ** 20;
export const KiB = 2 ** 10;

/** What every run needs. */
export interface Context {
  readonly transport: transports.Transport;
  /** The driver's watch connection. */
  readonly watchTransport: transports.Transport;
  readonly kubeconfigPath: string;
  readonly audit: auditing.AuditLog | undefined;
  /** kube-apiserver and etcd. */
  readonly serverPids: readonly number[];
  readonly sizes: options.Sizes;
  /** Where the operators' logs go. */
  readonly logDir: string;
  readonly log: (line: string) => void;
}

/** One case × operator × repetition. */
export interface RunResult {
  readonly scenario: options.ScenarioName;
  /** The case's key: the scenario, or `scaling-<N>`; the summary is keyed by it. */
  readonly key: string;
  readonly operator: options.OperatorName;
  readonly rep: number;
  /** False when the end state was wrong or a wait timed out; `problems` says what. */
  ok: boolean;
  readonly problems: string[];
  /** The objects measured (the probe objects not included). */
  objects: number;
  wallSeconds: number;
  /** Flat figures; see report.ts for their names and units. */
  readonly figures: Record<string, number>;
  /**
   * Requests by "<verb> <resource>" in the namespace per object (in `churn`: per update, over
   * the window); absolute counts elsewhere.
   */
  requests?: {
    perObject?: Record<string, number>;
    perUpdate?: Record<string, number>;
    outsideNamespace: Record<string, number>;
  };
  readonly stops: { code: number; killed: boolean; stopSeconds: number }[];
  readonly logPaths: string[];
  /** The operator's log lines, and those that speak of an error (the first few quoted). */
  log?: { lines: number; errorLines: number; firstErrors: string[] };
}

/** The state of one run while its scenario runs. */
export interface Work {
  readonly context: Context;
  readonly case: options.Case;
  tracker: objects.Tracker;
  readonly result: RunResult;
  readonly start: () => operators.Running;
  readonly operator: operators.Operator;
  readonly namespace: string;
  readonly variant: operators.Variant;
  /** Count only requests from then on, leaving out these objects (restart: the second run). */
  countSince: { since: number; exclude: ReadonlySet<string> } | undefined;
  /** What the requests are divided by: the run's objects unless set (churn: the updates). */
  countPer: { unit: "update"; count: number } | undefined;
  /** CPU seconds of kube-apiserver + etcd when the run began. */
  readonly serverCpuAtStart: number;
}

/** A started operator instance and its RSS sampler. */
export interface Instance {
  readonly running: operators.Running;
  readonly sampler: sampling.Sampler;
}

/**
 * Creates a probe object, starts the operator, and waits until the probe is handled: the
 * operator is then serving (readiness is not announced), and spawn → the probe's startedAt is
 * its start-to-first-handler time.
 */
export async function startWithProbe(work: Work, probe: string): Promise<Instance> {
  await objects.createOne(work.tracker, probe);
  const running = work.start();
  const sampler = new sampling.Sampler(running.pid);
  // An operator that dies fails every wait at once, instead of at its deadline.
  running.status.then((status) => {
    if (!running.stopping) {
      work.tracker.fail(
        new Error(`The operator exited with ${status.code} unasked; see ${running.logPath}`),
      );
    }
  });
  await work.tracker.handled([probe], START_TIMEOUT_MS);
  const startedAt = work.tracker.of(probe).startedAt;
  if (startedAt !== undefined) {
    work.result.figures.startToFirstHandlerSeconds = stats.round(
      (startedAt - running.spawnedAt) / 1000,
    );
  }
  return { running, sampler };
}

/** Creates the objects at once and notes how long the driver took to create them. */
export async function createAtOnce(work: Work, names: readonly string[]): Promise<void> {
  const began = Date.now();
  await objects.createAtOnce(work.tracker, names);
  work.result.figures.createPhaseSeconds = stats.round((Date.now() - began) / 1000);
}

/** Objects handled per second: N ÷ (last status visible − first create request). */
export function throughput(work: Work, names: readonly string[]): void {
  const timelines = names.map((name) => work.tracker.of(name));
  const firstCreate = Math.min(...timelines.map((t) => t.createRequestedAt!));
  const lastVisible = Math.max(...timelines.map((t) => t.visibleAt!));
  work.result.figures.throughput = stats.round(names.length / ((lastVisible - firstCreate) / 1000));
  work.result.objects = names.length;
}

/** Throughput and latencies of handled creations. */
export function creationFigures(work: Work, names: readonly string[]): void {
  throughput(work, names);
  const timelines = names.map((name) => work.tracker.of(name));
  const handlerStart = timelines
    .filter((t) => t.startedAt !== undefined)
    .map((t) => t.startedAt! - t.createRequestedAt!);
  const visible = timelines.map((t) => t.visibleAt! - t.createRequestedAt!);
  const figures = work.result.figures;
  figures.handlerStartP50Ms = stats.percentile(handlerStart, 50)!;
  figures.handlerStartP99Ms = stats.percentile(handlerStart, 99)!;
  figures.visibleP50Ms = stats.percentile(visible, 50)!;
  figures.visibleP99Ms = stats.percentile(visible, 99)!;
}

/** Leaves the operator alone for the idle settle time: an observation window, not a sync. */
export function settle(work: Work): Promise<void> {
  return delay(work.context.sizes.idleSettleSeconds * 1000);
}

/** Samples the RSS over the idle sample time; the mean is `idleRssMiB`, returned in bytes. */
export async function sampleIdleRss(work: Work, instance: Instance): Promise<number | undefined> {
  const sampleFrom = Date.now();
  await delay(work.context.sizes.idleSampleSeconds * 1000);
  instance.sampler.sample();
  const idle = instance.sampler.meanRssSince(sampleFrom);
  if (idle !== undefined) work.result.figures.idleRssMiB = stats.round(idle / MiB);
  return idle;
}

/** CPU and peak RSS of the instance, then the end-state check (while it still runs). */
export async function finish(
  work: Work,
  instance: Instance,
  expected: readonly string[],
  observed?: ReadonlyMap<string, number>,
): Promise<void> {
  const cpu = sampling.treeCpuSeconds(instance.running.pid);
  instance.sampler.stop();
  const figures = work.result.figures;
  if (cpu !== undefined) figures.cpuSeconds = stats.round(cpu);
  figures.serverCpuSeconds = stats.round(serverCpu(work.context) - work.serverCpuAtStart);
  figures.peakRssMiB = stats.round(instance.sampler.peakRssBytes / MiB);
  const problems = await objects.checkEndState(
    work.context.transport,
    work.namespace,
    work.variant,
    expected,
    observed,
  );
  if (problems.length > 0) {
    work.result.ok = false;
    work.result.problems.push(`End state differs from the expected one:`, ...problems);
  }
}

/** Counts the operator's requests of the run, per object (or per update) in the namespace. */
export function countRequests(work: Work, records: readonly auditing.AuditRecord[]): void {
  const { result, operator, namespace, countSince: window } = work;
  const counts = auditing.count(records, {
    userAgentPrefix: operator.userAgentPrefix,
    namespace,
    ...(window ? { since: window.since, excludeNames: window.exclude } : {}),
  });
  // Per measured object; the probe objects and the start-up list/watch are spread over them.
  const per = Math.max(1, work.countPer?.count ?? result.objects);
  const perUnit: Record<string, number> = {};
  let all = 0;
  let writes = 0;
  let objectWrites = 0;
  for (const [key, n] of Object.entries(counts.namespaced)) {
    perUnit[key] = stats.round(n / per);
    all += n;
    const [verb = "", resource = ""] = key.split(" ");
    if (WRITE_VERBS.has(verb)) {
      writes += n;
      if (resource.startsWith("benchobjects")) objectWrites += n;
    }
  }
  if (work.countPer?.unit === "update") {
    result.requests = { perUpdate: perUnit, outsideNamespace: counts.other };
    result.figures.requestsPerUpdate = stats.round(all / per);
    result.figures.writesPerUpdate = stats.round(writes / per);
  } else {
    result.requests = { perObject: perUnit, outsideNamespace: counts.other };
    result.figures.requestsPerObject = stats.round(all / per);
    result.figures.writesPerObject = stats.round(writes / per);
  }
  if (result.scenario === "restart") result.figures.writesAfterRestart = objectWrites;
  if (all === 0) {
    result.ok = false;
    result.problems.push(
      `No requests of User-Agent "${operator.userAgentPrefix}…" in the audit log; seen: ${
        JSON.stringify(auditing.userAgents(records))
      }`,
    );
  }
}

/** Lines of an operator's log that speak of an error, a warning or a traceback. */
const ERROR_LINE = /\b(error|exception|traceback|warn(ing)?|panic|fatal)\b/i;

/** Reads the instances' logs (after they stopped): how many lines, how many of them errors. */
export async function readLogs(
  paths: readonly string[],
): Promise<{ lines: number; errorLines: number; firstErrors: string[] }> {
  let lines = 0;
  const errors: string[] = [];
  for (const path of paths) {
    const text = await Deno.readTextFile(path).catch(() => "");
    for (const line of text.split("\n")) {
      if (!line) continue;
      lines++;
      if (ERROR_LINE.test(line)) errors.push(line.slice(0, 300));
    }
  }
  return { lines, errorLines: errors.length, firstErrors: errors.slice(0, 3) };
}

/** CPU seconds of kube-apiserver + etcd so far. */
export function serverCpu(context: Context): number {
  return context.serverPids.reduce((sum, pid) => sum + (sampling.treeCpuSeconds(pid) ?? 0), 0);
}

/** How long handling `count` objects may take. */
export function handleTimeout(count: number): number {
  return HANDLE_BASE_MS + count * HANDLE_PER_OBJECT_MS;
}

/** Waits: for observation windows and settle times only, never to synchronise. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
