// The six scenarios, each run for one operator and repetition in a fresh namespace: start the
// operator, drive the load, measure, check the end state, stop the operator, count its requests
// in the audit log, delete the namespace. Called by bench/run.ts; the figures it returns are
// per run (the report takes min and median across repetitions).

import type * as transports from "../../lib/k8s/transport.ts";
import * as auditing from "./auditing.ts";
import * as objects from "./objects.ts";
import type * as operators from "./operators.ts";
import * as operatorsModule from "./operators.ts";
import type * as options from "./options.ts";
import * as sampling from "./sampling.ts";
import * as stats from "./stats.ts";

/** How long an operator may take to handle its first object after the spawn. */
const START_TIMEOUT_MS = 120_000;
/** How long handling may take: a base plus a generous time per object (Kopf's worst case). */
const HANDLE_BASE_MS = 60_000;
const HANDLE_PER_OBJECT_MS = 50;
const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);
const MiB = 2 ** 20;

/** Which behaviour of BEHAVIOUR.md each scenario runs. */
export const VARIANTS: Record<options.ScenarioName, operators.Variant> = {
  burst: "create",
  steady: "create",
  idle: "create",
  deletion: "delete",
  restart: "create",
  three: "three",
};

/** What every scenario needs. */
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

/** One scenario × operator × repetition. */
export interface RunResult {
  readonly scenario: options.ScenarioName;
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
  /** Requests per object by "<verb> <resource>" in the namespace; absolute counts elsewhere. */
  requests?: { perObject: Record<string, number>; outsideNamespace: Record<string, number> };
  readonly stops: { code: number; killed: boolean; stopSeconds: number }[];
  readonly logPaths: string[];
}

/** Runs one scenario for one operator; never throws for a failure of the operator. */
export async function runScenario(
  context: Context,
  scenario: options.ScenarioName,
  operator: operators.Operator,
  rep: number,
): Promise<RunResult> {
  const began = performance.now();
  const variant = VARIANTS[scenario];
  const namespace = `bench-${scenario}-${operator.name}-${rep}-${crypto.randomUUID().slice(0, 4)}`;
  const result: RunResult = {
    scenario,
    operator: operator.name,
    rep,
    ok: true,
    problems: [],
    objects: 0,
    wallSeconds: 0,
    figures: {},
    stops: [],
    logPaths: [],
  };
  const instances: operators.Running[] = [];
  const start = () => {
    const logPath = `${context.logDir}/${namespace}-${instances.length + 1}.log`;
    result.logPaths.push(logPath);
    const running = operatorsModule.start(operator, {
      namespace,
      variant,
      kubeconfigPath: context.kubeconfigPath,
      logPath,
    });
    instances.push(running);
    return running;
  };
  const work: Work = {
    context,
    result,
    start,
    operator,
    namespace,
    variant,
    tracker: undefined as unknown as objects.Tracker,
    countSince: undefined,
    serverCpuAtStart: serverCpu(context),
  };
  await objects.createNamespace(context.transport, namespace);
  try {
    await using tracker = new objects.Tracker(
      context.transport,
      context.watchTransport,
      namespace,
      variant,
    );
    await tracker.synced();
    work.tracker = tracker;
    await SCENARIOS[scenario](work);
  } catch (error) {
    result.ok = false;
    result.problems.push(messageOf(error));
  } finally {
    for (const running of instances) result.stops.push(await running.stop());
    if (context.audit) {
      try {
        countRequests(work, await context.audit.collect());
      } catch (error) {
        result.ok = false;
        result.problems.push(`Cannot count requests: ${messageOf(error)}`);
      }
    }
    const cleaning = Date.now();
    await objects.deleteNamespace(context.transport, namespace);
    result.figures.cleanupSeconds = stats.round((Date.now() - cleaning) / 1000);
  }
  result.wallSeconds = stats.round((performance.now() - began) / 1000);
  return result;
}

/**
 * Exercises a fresh API server once with the driver alone (creates, a watch, a list, a namespace
 * deletion), so the first measured run does not pay for its caches and connections.
 */
export async function warmUp(context: Context): Promise<void> {
  const namespace = `bench-warm-up-${crypto.randomUUID().slice(0, 4)}`;
  await objects.createNamespace(context.transport, namespace);
  {
    await using tracker = new objects.Tracker(
      context.transport,
      context.watchTransport,
      namespace,
      "create",
    );
    await tracker.synced();
    await objects.createAtOnce(tracker, objects.names(200));
    await objects.checkEndState(context.transport, namespace, "create", []);
  }
  await objects.deleteNamespace(context.transport, namespace);
}

interface Work {
  readonly context: Context;
  tracker: objects.Tracker;
  readonly result: RunResult;
  readonly start: () => operators.Running;
  readonly operator: operators.Operator;
  readonly namespace: string;
  readonly variant: operators.Variant;
  /** Count only requests from then on, leaving out these objects (restart: the second run). */
  countSince: { since: number; exclude: Set<string> } | undefined;
  /** CPU seconds of kube-apiserver + etcd when the run began. */
  readonly serverCpuAtStart: number;
}

const SCENARIOS: Record<options.ScenarioName, (work: Work) => Promise<void>> = {
  async burst(work) {
    const names = objects.names(work.context.sizes.burstObjects);
    const instance = await startWithProbe(work, "probe");
    await createAtOnce(work, names);
    await work.tracker.handled(names, handleTimeout(names.length));
    creationFigures(work, names);
    await finish(work, instance, ["probe", ...names]);
  },

  async steady(work) {
    const { steadyRatePerSecond, steadySeconds } = work.context.sizes;
    const names = objects.names(steadyRatePerSecond * steadySeconds);
    const instance = await startWithProbe(work, "probe");
    await objects.createAtRate(work.tracker, names, steadyRatePerSecond);
    await work.tracker.handled(names, handleTimeout(names.length));
    creationFigures(work, names);
    await finish(work, instance, ["probe", ...names]);
  },

  async idle(work) {
    const { idleObjects, idleSettleSeconds, idleSampleSeconds } = work.context.sizes;
    const names = objects.names(idleObjects);
    const instance = await startWithProbe(work, "probe");
    await createAtOnce(work, names);
    await work.tracker.handled(names, handleTimeout(names.length));
    creationFigures(work, names);
    // Observation windows, not synchronisation: the operator is left alone, then watched.
    await delay(idleSettleSeconds * 1000);
    const sampleFrom = Date.now();
    await delay(idleSampleSeconds * 1000);
    instance.sampler.sample();
    const idle = instance.sampler.meanRssSince(sampleFrom);
    if (idle !== undefined) work.result.figures.idleRssMiB = stats.round(idle / MiB);
    await finish(work, instance, ["probe", ...names]);
  },

  async deletion(work) {
    const names = objects.names(work.context.sizes.burstObjects);
    const instance = await startWithProbe(work, "probe");
    await createAtOnce(work, names);
    await work.tracker.handled(names, handleTimeout(names.length));
    const deleting = Date.now();
    await objects.deleteAtOnce(work.tracker, names);
    work.result.figures.deletePhaseSeconds = stats.round((Date.now() - deleting) / 1000);
    await work.tracker.gone(names, handleTimeout(names.length));
    const timelines = names.map((name) => work.tracker.of(name));
    const firstDelete = Math.min(...timelines.map((t) => t.deleteRequestedAt!));
    const lastGone = Math.max(...timelines.map((t) => t.goneAt!));
    const gone = timelines.map((t) => t.goneAt! - t.deleteRequestedAt!);
    const figures = work.result.figures;
    figures.throughput = stats.round(names.length / ((lastGone - firstDelete) / 1000));
    figures.goneP50Ms = stats.percentile(gone, 50)!;
    figures.goneP99Ms = stats.percentile(gone, 99)!;
    work.result.objects = names.length;
    await objects.deleteAtOnce(work.tracker, ["probe"]);
    await work.tracker.gone(["probe"], handleTimeout(1));
    await finish(work, instance, []);
  },

  async restart(work) {
    const names = objects.names(work.context.sizes.burstObjects);
    const first = await startWithProbe(work, "probe");
    await createAtOnce(work, names);
    await work.tracker.handled(names, handleTimeout(names.length));
    first.sampler.stop();
    await first.running.stop();
    // The second instance finds the handled objects and a new one, the probe it must handle.
    const second = await startWithProbe(work, "probe-after-restart");
    const probe = work.tracker.of("probe-after-restart");
    work.result.figures.restartToHandledSeconds = stats.round(
      (probe.visibleAt! - second.running.spawnedAt) / 1000,
    );
    // An observation window: writes for the handled objects would come now, if ever.
    await delay(work.context.sizes.restartQuietSeconds * 1000);
    work.result.objects = names.length;
    work.countSince = {
      since: second.running.spawnedAt,
      exclude: new Set(["probe-after-restart"]),
    };
    await finish(work, second, ["probe", "probe-after-restart", ...names]);
  },

  async three(work) {
    const names = objects.names(work.context.sizes.burstObjects);
    const instance = await startWithProbe(work, "probe");
    await createAtOnce(work, names);
    await work.tracker.handled(names, handleTimeout(names.length));
    creationFigures(work, names);
    await finish(work, instance, ["probe", ...names]);
  },
};

/** Creates the objects at once and notes how long the driver took to create them. */
async function createAtOnce(work: Work, names: readonly string[]): Promise<void> {
  const began = Date.now();
  await objects.createAtOnce(work.tracker, names);
  work.result.figures.createPhaseSeconds = stats.round((Date.now() - began) / 1000);
}

interface Instance {
  readonly running: operators.Running;
  readonly sampler: sampling.Sampler;
}

/**
 * Creates a probe object, starts the operator, and waits until the probe is handled: the
 * operator is then serving (readiness is not announced), and spawn → the probe's startedAt is
 * its start-to-first-handler time.
 */
async function startWithProbe(work: Work, probe: string): Promise<Instance> {
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

/** Throughput and latencies of handled creations. */
function creationFigures(work: Work, names: readonly string[]): void {
  const timelines = names.map((name) => work.tracker.of(name));
  const firstCreate = Math.min(...timelines.map((t) => t.createRequestedAt!));
  const lastVisible = Math.max(...timelines.map((t) => t.visibleAt!));
  const handlerStart = timelines
    .filter((t) => t.startedAt !== undefined)
    .map((t) => t.startedAt! - t.createRequestedAt!);
  const visible = timelines.map((t) => t.visibleAt! - t.createRequestedAt!);
  const figures = work.result.figures;
  figures.throughput = stats.round(names.length / ((lastVisible - firstCreate) / 1000));
  figures.handlerStartP50Ms = stats.percentile(handlerStart, 50)!;
  figures.handlerStartP99Ms = stats.percentile(handlerStart, 99)!;
  figures.visibleP50Ms = stats.percentile(visible, 50)!;
  figures.visibleP99Ms = stats.percentile(visible, 99)!;
  work.result.objects = names.length;
}

/** CPU and peak RSS of the instance, then the end-state check (while it still runs). */
async function finish(work: Work, instance: Instance, expected: readonly string[]) {
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
  );
  if (problems.length > 0) {
    work.result.ok = false;
    work.result.problems.push(`End state differs from the expected one:`, ...problems);
  }
}

function countRequests(work: Work, records: readonly auditing.AuditRecord[]): void {
  const { result, operator, namespace, countSince: window } = work;
  const counts = auditing.count(records, {
    userAgentPrefix: operator.userAgentPrefix,
    namespace,
    ...(window ? { since: window.since, excludeNames: window.exclude } : {}),
  });
  // Per measured object; the probe objects and the start-up list/watch are spread over them.
  const per = Math.max(1, result.objects);
  const perObject: Record<string, number> = {};
  let all = 0;
  let writes = 0;
  let objectWrites = 0;
  for (const [key, n] of Object.entries(counts.namespaced)) {
    perObject[key] = stats.round(n / per);
    all += n;
    const [verb = "", resource = ""] = key.split(" ");
    if (WRITE_VERBS.has(verb)) {
      writes += n;
      if (resource.startsWith("benchobjects")) objectWrites += n;
    }
  }
  result.requests = { perObject, outsideNamespace: counts.other };
  result.figures.requestsPerObject = stats.round(all / per);
  result.figures.writesPerObject = stats.round(writes / per);
  if (window) result.figures.writesAfterRestart = objectWrites;
  if (all === 0) {
    result.ok = false;
    result.problems.push(
      `No requests of User-Agent "${operator.userAgentPrefix}…" in the audit log; seen: ${
        JSON.stringify(auditing.userAgents(records))
      }`,
    );
  }
}

function serverCpu(context: Context): number {
  return context.serverPids.reduce((sum, pid) => sum + (sampling.treeCpuSeconds(pid) ?? 0), 0);
}

function handleTimeout(count: number): number {
  return HANDLE_BASE_MS + count * HANDLE_PER_OBJECT_MS;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
