// The scenarios, each run for one case, operator and repetition in a fresh namespace: start the
// operator, drive the load, measure, check the end state, stop the operator, count its requests
// in the audit log, delete the namespace. Called by bench/run.ts; the figures it returns are
// per run (the report takes min and median across repetitions). The steps are in runs.ts.

import * as objects from "./objects.ts";
import type * as operators from "./operators.ts";
import * as operatorsModule from "./operators.ts";
import type * as options from "./options.ts";
import * as runs from "./runs.ts";
import * as sampling from "./sampling.ts";
import * as stats from "./stats.ts";

/** How long the last updates of `churn` may take to show: a base plus a time per update. */
const UPDATES_BASE_MS = 60_000;
const UPDATES_PER_UPDATE_MS = 10;

/** Which behaviour of BEHAVIOUR.md each scenario runs. */
export const VARIANTS: Record<options.ScenarioName, operators.Variant> = {
  burst: "create",
  steady: "create",
  idle: "create",
  deletion: "delete",
  restart: "create",
  three: "three",
  churn: "update",
  scaling: "create",
};

/** Runs one case for one operator; never throws for a failure of the operator. */
export async function runScenario(
  context: runs.Context,
  chosen: options.Case,
  operator: operators.Operator,
  rep: number,
): Promise<runs.RunResult> {
  const began = performance.now();
  const variant = VARIANTS[chosen.scenario];
  const namespace = `bench-${chosen.key}-${operator.name}-${rep}-${
    crypto.randomUUID().slice(0, 4)
  }`;
  const result: runs.RunResult = {
    scenario: chosen.scenario,
    key: chosen.key,
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
  const work: runs.Work = {
    context,
    case: chosen,
    result,
    start,
    operator,
    namespace,
    variant,
    tracker: undefined as unknown as objects.Tracker,
    countSince: undefined,
    countPer: undefined,
    serverCpuAtStart: runs.serverCpu(context),
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
    await SCENARIOS[chosen.scenario](work);
  } catch (error) {
    result.ok = false;
    result.problems.push(runs.messageOf(error));
  } finally {
    for (const running of instances) result.stops.push(await running.stop());
    result.log = await runs.readLogs(result.logPaths);
    if (context.audit) {
      try {
        runs.countRequests(work, await context.audit.collect());
      } catch (error) {
        result.ok = false;
        result.problems.push(`Cannot count requests: ${runs.messageOf(error)}`);
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
export async function warmUp(context: runs.Context): Promise<void> {
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

const SCENARIOS: Record<options.ScenarioName, (work: runs.Work) => Promise<void>> = {
  async burst(work) {
    const names = objects.names(work.context.sizes.burstObjects);
    const instance = await runs.startWithProbe(work, "probe");
    await runs.createAtOnce(work, names);
    await work.tracker.handled(names, runs.handleTimeout(names.length));
    runs.creationFigures(work, names);
    await runs.finish(work, instance, ["probe", ...names]);
  },

  async steady(work) {
    const { steadyRatePerSecond, steadySeconds } = work.context.sizes;
    const names = objects.names(steadyRatePerSecond * steadySeconds);
    const instance = await runs.startWithProbe(work, "probe");
    await objects.createAtRate(work.tracker, names, steadyRatePerSecond);
    await work.tracker.handled(names, runs.handleTimeout(names.length));
    runs.creationFigures(work, names);
    await runs.finish(work, instance, ["probe", ...names]);
  },

  async idle(work) {
    const names = objects.names(work.context.sizes.idleObjects);
    const instance = await runs.startWithProbe(work, "probe");
    await runs.createAtOnce(work, names);
    await work.tracker.handled(names, runs.handleTimeout(names.length));
    runs.creationFigures(work, names);
    await runs.settle(work);
    await runs.sampleIdleRss(work, instance);
    await runs.finish(work, instance, ["probe", ...names]);
  },

  async deletion(work) {
    const names = objects.names(work.context.sizes.burstObjects);
    const instance = await runs.startWithProbe(work, "probe");
    await runs.createAtOnce(work, names);
    await work.tracker.handled(names, runs.handleTimeout(names.length));
    const deleting = Date.now();
    await objects.deleteAtOnce(work.tracker, names);
    work.result.figures.deletePhaseSeconds = stats.round((Date.now() - deleting) / 1000);
    await work.tracker.gone(names, runs.handleTimeout(names.length));
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
    await work.tracker.gone(["probe"], runs.handleTimeout(1));
    await runs.finish(work, instance, []);
  },

  async restart(work) {
    const names = objects.names(work.context.sizes.burstObjects);
    const first = await runs.startWithProbe(work, "probe");
    await runs.createAtOnce(work, names);
    await work.tracker.handled(names, runs.handleTimeout(names.length));
    first.sampler.stop();
    await first.running.stop();
    // The second instance finds the handled objects and a new one, the probe it must handle.
    const second = await runs.startWithProbe(work, "probe-after-restart");
    const probe = work.tracker.of("probe-after-restart");
    work.result.figures.restartToHandledSeconds = stats.round(
      (probe.visibleAt! - second.running.spawnedAt) / 1000,
    );
    // An observation window: writes for the handled objects would come now, if ever.
    await runs.delay(work.context.sizes.restartQuietSeconds * 1000);
    work.result.objects = names.length;
    work.countSince = {
      since: second.running.spawnedAt,
      exclude: new Set(["probe-after-restart"]),
    };
    await runs.finish(work, second, ["probe", "probe-after-restart", ...names]);
  },

  async three(work) {
    const names = objects.names(work.context.sizes.burstObjects);
    const instance = await runs.startWithProbe(work, "probe");
    await runs.createAtOnce(work, names);
    await work.tracker.handled(names, runs.handleTimeout(names.length));
    runs.creationFigures(work, names);
    await runs.finish(work, instance, ["probe", ...names]);
  },

  async churn(work) {
    const { churnObjects, churnPercentPerSecond, churnSeconds, churnSettleSeconds } =
      work.context.sizes;
    const names = objects.names(churnObjects);
    const instance = await runs.startWithProbe(work, "probe");
    // The set-up, not measured: every object created and handled, then a settle for the last
    // diff-base patches (they follow the status that the driver waits for).
    await objects.createAtOnce(work.tracker, names);
    await work.tracker.handled(names, runs.handleTimeout(names.length));
    await runs.delay(churnSettleSeconds * 1000);

    const perSecond = (churnObjects * churnPercentPerSecond) / 100;
    const updates = plan(names, Math.round(perSecond * churnSeconds));
    const pid = instance.running.pid;
    const began = Date.now();
    const cpuAtStart = sampling.treeCpuSeconds(pid);
    const serverCpuAtStart = runs.serverCpu(work.context);
    await objects.updateAtRate(work.tracker, updates, perSecond);
    let late: string | undefined;
    try {
      await work.tracker.updated(
        updates,
        UPDATES_BASE_MS + updates.length * UPDATES_PER_UPDATE_MS,
      );
    } catch (error) {
      late = runs.messageOf(error); // counted as missed below; the run goes on to its figures
    }
    instance.sampler.sample();
    const ended = Date.now();
    const cpuAtEnd = sampling.treeCpuSeconds(pid);

    const figures = work.result.figures;
    figures.updates = updates.length;
    figures.churnWindowSeconds = stats.round((ended - began) / 1000);
    if (cpuAtStart !== undefined && cpuAtEnd !== undefined) {
      figures.churnCpuSeconds = stats.round(cpuAtEnd - cpuAtStart);
      figures.cpuMsPerUpdate = stats.round(((cpuAtEnd - cpuAtStart) * 1000) / updates.length);
    }
    figures.churnServerCpuSeconds = stats.round(runs.serverCpu(work.context) - serverCpuAtStart);
    const rss = instance.sampler.rssWithin(began, ended);
    if (rss) {
      figures.churnPeakRssMiB = stats.round(rss.peakBytes / runs.MiB);
      figures.churnMeanRssMiB = stats.round(rss.meanBytes / runs.MiB);
    }
    const seen = updates.filter((u) => u.visibleAt !== undefined && u.respondedAt !== undefined);
    const latencies = seen.map((u) => u.visibleAt! - u.respondedAt!);
    if (latencies.length > 0) {
      figures.updateVisibleP50Ms = stats.percentile(latencies, 50)!;
      figures.updateVisibleP99Ms = stats.percentile(latencies, 99)!;
    }
    const missed = updates.filter((u) => u.visibleAt === undefined);
    figures.updatesMissed = missed.length;
    if (missed.length > 0) {
      work.result.ok = false;
      const some = missed.slice(0, 5).map((u) => `${u.name}=${u.value}`).join(", ");
      work.result.problems.push(
        `${missed.length} of ${updates.length} updates never showed in a status (${some}…)${
          late ? `: ${late}` : ""
        }`,
      );
    }

    work.result.objects = names.length;
    work.countSince = { since: began, exclude: new Set() };
    work.countPer = { unit: "update", count: updates.length };
    const last = new Map(updates.map((u) => [u.name, u.value]));
    await runs.finish(work, instance, ["probe", ...names], last);
  },

  async scaling(work) {
    const count = work.case.objects ?? work.context.sizes.burstObjects;
    const names = objects.names(count);
    const instance = await runs.startWithProbe(work, "probe");
    const pid = instance.running.pid;
    const cpuAtStart = sampling.treeCpuSeconds(pid);
    await runs.createAtOnce(work, names);
    await work.tracker.handled(names, runs.handleTimeout(names.length));
    runs.throughput(work, names);
    // The settle lets the last diff-base patches land, so the CPU counts all of the handling.
    await runs.settle(work);
    const cpuAtSettle = sampling.treeCpuSeconds(pid);
    const idle = await runs.sampleIdleRss(work, instance);
    await runs.finish(work, instance, ["probe", ...names]);

    const figures = work.result.figures;
    if (cpuAtStart !== undefined && cpuAtSettle !== undefined) {
      figures.handlingCpuSeconds = stats.round(cpuAtSettle - cpuAtStart);
      figures.cpuMsPerObject = stats.round(((cpuAtSettle - cpuAtStart) * 1000) / count);
    }
    figures.peakRssKiBPerObject = stats.round(instance.sampler.peakRssBytes / runs.KiB / count);
    if (idle !== undefined) figures.idleRssKiBPerObject = stats.round(idle / runs.KiB / count);
  },
};

/**
 * `count` updates of the objects in turn (round robin), each with a value unique in the run: at
 * 1% per second, an object is updated again only after 100 s.
 */
function plan(names: readonly string[], count: number): objects.Update[] {
  return Array.from(
    { length: count },
    (_, i) => ({ name: names[i % names.length]!, value: i + 1 }),
  );
}
