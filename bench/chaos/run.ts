// The chaos run (issue 15): our operator on a private control plane while a load generator
// creates, updates and deletes KopfExamples and a schedule injects faults — SIGKILL, API server
// outages, etcd compaction, frozen and dropped connections, 429s, the CRD removed, the leader
// killed. An oracle then checks every object's end state and every handler invocation. Writes
// bench/results/chaos-<date>.{json,md} (quick-chaos-* for --smoke, soak-* for --soak), prints a
// summary, exits 1 when an object was lost or an operator exited unasked, 2 on a bad command.
// The method: docs/chaos.md.
//
// Usage: deno task chaos [--duration 30m] [--seed N] [--faults LIST] [--smoke | --soak 60m]

import * as api from "../../lib/k8s/api.ts";
import * as machines from "../driver/machine.ts";
import * as operators from "../driver/operators.ts";
import * as stats from "../driver/stats.ts";
import * as faults from "./faults.ts";
import * as ledgers from "./ledger.ts";
import * as loads from "./load.ts";
import * as memory from "./memory.ts";
import * as observers from "./observer.ts";
import * as optionsModule from "./options.ts";
import * as oracles from "./oracle.ts";
import * as planes from "./plane.ts";
import * as randoms from "./random.ts";
import * as replicasModule from "./replicas.ts";
import * as reports from "./report.ts";
import * as schedules from "./schedule.ts";

const SERVE_TIMEOUT_MS = 90_000;
const FILL_TIMEOUT_MS = 180_000;
const PROBE_INTERVAL_MS = 1_000;
const SETTLE_POLL_MS = 2_000;

function say(line: string): void {
  console.error(`chaos: ${line}`);
}

async function main(args: readonly string[]): Promise<number> {
  let chosen: optionsModule.Options;
  try {
    chosen = optionsModule.parseOptions(args);
  } catch (error) {
    if (!(error instanceof optionsModule.UsageError)) throw error;
    console.error(`chaos: ${error.message}`);
    return 2;
  }
  if (chosen.help) {
    console.log(optionsModule.USAGE);
    return 0;
  }
  if (chosen.render !== undefined) {
    // Only the markdown again, from the JSON of an earlier run.
    const results = JSON.parse(await Deno.readTextFile(chosen.render)) as reports.Results;
    const path = chosen.render.replace(/\.json$/, "") + ".md";
    await Deno.writeTextFile(path, reports.markdown(results));
    printSummary(results);
    say(`wrote ${path}`);
    return 0;
  }
  const began = Date.now();
  const date = new Date().toISOString().slice(0, 10);
  const machine = await machines.describe();
  const commit =
    (await operators.run("git", ["describe", "--always", "--dirty"]).catch(() => "unknown")).trim();
  say(
    `${
      chosen.mode === "chaos" ? "run" : chosen.mode
    }: ${chosen.durationSeconds} s, seed ${chosen.seed}, ${chosen.objects} objects, ` +
      `${chosen.ratePerSecond} ops/s, ${chosen.replicas} replica(s), faults ${
        chosen.faults.join(",") || "none"
      }`,
  );
  const logDir = await Deno.makeTempDir({ prefix: "kopf-chaos-logs-" });
  const invocationsPath = `${logDir}/invocations.jsonl`;
  await Deno.writeTextFile(invocationsPath, "");
  say(`operator logs and invocations in ${logDir}`);
  await replicasModule.prepare();

  const problems: string[] = [];
  const unasked: replicasModule.UnaskedExit[] = [];
  const ledger = new ledgers.Ledger();
  const random = new randoms.Random(chosen.seed);
  const loadRandom = random.fork();
  const scheduleRandom = random.fork();
  const stuck = new Set<string>();
  const rssSamples: memory.RssSample[] = [];
  const holders: oracles.Holder[] = [];
  let scheduled: schedules.ScheduledFault[] = [];
  let final: (api.KubernetesObject & { spec?: { seq?: number }; status?: unknown })[] = [];
  let settledSeconds: number | undefined;
  let apiserverVersion = "unknown";
  let chaosStartedAt = 0;
  let chaosEndedAt = 0;
  let observerErrors = 0;
  const stopping = new AbortController();
  let replicas: replicasModule.Replica[] = [];
  {
    await using plane = await planes.startPlane({
      replicas: chosen.replicas,
      watchCache: chosen.watchCache,
      log: say,
    });
    apiserverVersion = plane.apiserverVersion;
    const onSignal = () => {
      say("interrupted: stopping the load, the operators and the control plane");
      stopping.abort();
      Promise.all(replicas.map((r) => r.stop()))
        .then(() => plane[Symbol.asyncDispose]())
        .finally(() => Deno.exit(130));
    };
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);

    await using observer = new observers.Observer(plane.watchTransport, plane.resource, ledger);
    await observer.synced();
    const load = new loads.Load(plane.loadTransport, plane.resource, ledger, loadRandom, {
      objects: chosen.objects,
      ratePerSecond: chosen.ratePerSecond,
    });
    replicas = plane.operatorKubeconfigs.map((kubeconfigPath, i) =>
      new replicasModule.Replica(`replica-${i}`, kubeconfigPath, {
        invocationsPath,
        logDir,
        peering: chosen.replicas > 1 ? "lease" : "standalone",
        leaseTimings: chosen.leaseTimings,
        handlerMs: chosen.handlerMs,
        onUnaskedExit: (exit) => {
          unasked.push(exit);
          say(`${exit.ident} (PID ${exit.pid}) exited unasked with ${exit.code}; restarting it`);
          say(`  its log ends with:\n${exit.logTail}`);
        },
      })
    );
    for (const replica of replicas) replica.start();
    await waitServing(replicas);
    say(`operator serving: ${replicas.map((r) => `${r.ident} PID ${r.pid}`).join(", ")}`);

    // Watch counters, peering states and the Lease holder, every second; RSS each minute.
    const probing = (async () => {
      let lastRss = 0;
      while (!stopping.signal.aborted) {
        await Promise.all(replicas.map((r) => r.probe()));
        if (chosen.replicas > 1) {
          const holder = await faults.leaseHolder(plane.loadTransport).catch(() => undefined);
          if (holder !== undefined && holder !== holders.at(-1)?.holder) {
            holders.push({ at: Date.now(), holder });
          }
        }
        if (Date.now() - lastRss >= chosen.sampleSeconds * 1000) {
          lastRss = Date.now();
          for (const replica of replicas) {
            const rssBytes = replica.rssBytes();
            if (rssBytes !== undefined && replica.pid !== undefined) {
              rssSamples.push({ at: lastRss, ident: replica.ident, pid: replica.pid, rssBytes });
            }
          }
        }
        await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
      }
    })();

    say(`filling the population: ${chosen.objects} objects`);
    const filling = Date.now();
    await load.fill(chosen.objects);
    await waitUntil(() => oracles.caughtUp(ledger, Date.now()), FILL_TIMEOUT_MS).catch(() => {
      problems.push(`The initial ${chosen.objects} objects were not handled within 180 s`);
    });
    say(`population handled in ${((Date.now() - filling) / 1000).toFixed(1)} s; chaos begins`);

    chaosStartedAt = Date.now();
    load.start();
    const context: faults.Context = {
      plane,
      replicas,
      load,
      ledger,
      random: scheduleRandom,
      options: chosen,
      stuck,
      log: say,
    };
    scheduled = await schedules.runSchedule(context, {
      began: chaosStartedAt,
      signal: stopping.signal,
    });
    await load.stop();
    chaosEndedAt = Date.now();
    say(`load stopped after ${((chaosEndedAt - chaosStartedAt) / 1000).toFixed(0)} s; settling`);

    for (const replica of replicas) replica.start(); // a no-op for those that run
    const settled = await settle(plane, chosen.settleSeconds * 1000);
    settledSeconds = settled.seconds;
    final = settled.items;
    if (settled.seconds === undefined) {
      problems.push(`The end state did not converge within ${chosen.settleSeconds} s`);
    }
    stopping.abort();
    await probing;
    observerErrors = observer.errors;
    for (const replica of replicas) await replica.stop();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const invocations = (await Deno.readTextFile(invocationsPath)).split("\n").filter(Boolean).map(
    (line) => JSON.parse(line) as oracles.Invocation,
  );
  const verdict = oracles.judge({
    ledger,
    final,
    invocations,
    faults: scheduled,
    stuck,
    ...(chosen.replicas > 1 ? { holders } : {}),
  });
  const faultResults: reports.FaultResult[] = scheduled.map((f) => ({
    ...f,
    recovery: oracles.recovery(ledger, invocations, f.healedAt),
  }));
  const rows = reports.faultRows(chosen.faults, faultResults, verdict);
  const trends = memory.trends(rssSamples, chaosStartedAt + chosen.warmUpSeconds * 1000);
  for (const kind of chosen.faults) {
    if (chosen.mode === "smoke" && !scheduled.some((f) => f.kind === kind)) {
      problems.push(`The fault "${kind}" was never injected`);
    }
  }
  const failedInjections = scheduled.filter((f) => f.error !== undefined);
  for (const f of failedInjections) problems.push(`A ${f.kind} injection failed: ${f.error}`);
  const ok = verdict.lost.length === 0 && unasked.length === 0 && problems.length === 0;
  const wallSeconds = Math.round((Date.now() - began) / 1000);
  const results: reports.Results = {
    benchmark: "chaos",
    mode: chosen.mode,
    date,
    wallSeconds,
    chaosSeconds: Math.round((chaosEndedAt - chaosStartedAt) / 1000),
    settledSeconds,
    ok,
    problems,
    machine,
    versions: { kubeApiserver: apiserverVersion, deno: Deno.version.deno, commit },
    options: { ...chosen, outDir: undefined, help: undefined, render: undefined },
    summary: {
      objects: verdict.objects,
      invocations: verdict.invocations,
      lost: verdict.lost.length,
      phantoms: verdict.phantoms.length,
      successfulReruns: {
        recorded: verdict.reruns.filter((r) => r.kind === "recorded").length,
        afterRecorded: verdict.reruns.filter((r) => r.kind === "after-recorded").length,
      },
      partialReruns: verdict.reruns.filter((r) => r.kind === "partial").length,
      repeatedBeforeRecorded: verdict.repeatedBeforeRecorded,
      invocationsByNonLeader: chosen.replicas > 1 ? verdict.byNonLeader : undefined,
      unaskedExits: unasked.length,
      loadTicksSkipped: ledger.skipped,
      driverWatchErrors: observerErrors,
      operations: operationCounts(ledger),
      watch: replicasModule.sum(replicas),
    },
    perFault: rows,
    faults: faultResults,
    lost: verdict.lost,
    phantoms: verdict.phantoms,
    reruns: verdict.reruns,
    unaskedExits: unasked,
    processes: Object.fromEntries(replicas.map((r) => [r.ident, r.processes])),
    leaseHolders: chosen.replicas > 1 ? holders : undefined,
    rss: { trends, samples: rssSamples },
  };
  const prefix = chosen.mode === "smoke"
    ? "quick-chaos"
    : chosen.mode === "soak"
    ? "soak"
    : "chaos";
  const base = `${chosen.outDir.replace(/\/$/, "")}/${prefix}-${date}`;
  await Deno.mkdir(chosen.outDir, { recursive: true });
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(results, null, 2) + "\n");
  await Deno.writeTextFile(`${base}.md`, reports.markdown(results));
  printSummary(results);
  say(`wrote ${base}.json and ${base}.md in ${wallSeconds} s`);
  if (!ok) {
    say("FAILED:");
    for (const lost of verdict.lost.slice(0, 20)) {
      say(`  lost ${lost.name}: ${lost.why} (${lost.fault})`);
    }
    for (const exit of unasked) {
      say(`  ${exit.ident} PID ${exit.pid} exited unasked with ${exit.code}`);
    }
    for (const problem of problems) say(`  ${problem}`);
    say(`operator logs kept in ${logDir}`);
    return 1;
  }
  if (chosen.keepLogs) say(`operator logs kept in ${logDir}`);
  else await Deno.remove(logDir, { recursive: true });
  return 0;
}

function printSummary(results: reports.Results): void {
  console.log(reports.faultTable(results.perFault));
  console.log(reports.summaryText(results.summary));
  if (results.mode === "soak") console.log(reports.rssTable(results.rss.trends));
}

/** Waits until every replica's liveness answers (and, with 2, one of them is active). */
async function waitServing(replicas: readonly replicasModule.Replica[]): Promise<void> {
  await waitUntil(async () => {
    const states = await Promise.all(replicas.map((r) => r.probe()));
    if (states.some((s) => s?.status !== "ok")) return false;
    return replicas.length === 1 || states.some((s) => s?.peeringState === "active");
  }, SERVE_TIMEOUT_MS);
}

/**
 * Lists until every object is handled at its spec's seq and none is being deleted, or the
 * deadline passes; the last listing is the end state the oracle judges.
 */
async function settle(
  plane: planes.Plane,
  timeoutMs: number,
): Promise<{ seconds: number | undefined; items: typeof finalType }> {
  const began = Date.now();
  let items: typeof finalType = [];
  for (;;) {
    try {
      ({ items } = await api.listObjects(plane.transport, plane.resource, {
        namespace: planes.NAMESPACE,
      }));
      const pending = items.filter((o) =>
        o.metadata?.deletionTimestamp !== undefined ||
        (o.status as { create?: unknown } | undefined)?.create === undefined ||
        ledgers.handledSeq(o.status) !== (o.spec?.seq ?? 0)
      );
      if (pending.length === 0) {
        return { seconds: stats.round((Date.now() - began) / 1000), items };
      }
    } catch (error) {
      say(`settle: cannot list: ${error instanceof Error ? error.message : error}`);
    }
    if (Date.now() - began > timeoutMs) return { seconds: undefined, items };
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
}
const finalType: (api.KubernetesObject & { spec?: { seq?: number }; status?: unknown })[] = [];

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function operationCounts(ledger: ledgers.Ledger): Record<string, Record<string, number>> {
  const counts: Record<string, Record<string, number>> = {};
  for (const record of ledger.objects.values()) {
    for (const op of record.operations) {
      const byOutcome = counts[op.kind] ??= {};
      const outcome = op.outcome ?? "pending";
      byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
    }
  }
  return counts;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
