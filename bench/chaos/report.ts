// The chaos run's report: the shape of its JSON, and the markdown rendered from that JSON alone
// (so `--render` can redo it for an earlier run): per fault the count injected, the recovery
// times (p50 and max of "first success" and "caught up"), the watch restarts, the objects lost
// and the handlers re-run; then the totals, the lost objects and re-runs by name, and the RSS.
// Called by bench/chaos/run.ts.

import type * as machines from "../driver/machine.ts";
import * as stats from "../driver/stats.ts";
import type * as memory from "./memory.ts";
import * as options from "./options.ts";
import type * as oracles from "./oracle.ts";
import type * as replicas from "./replicas.ts";
import type * as schedules from "./schedule.ts";

/** The results file (`chaos-<date>.json`). */
export interface Results {
  readonly benchmark: "chaos";
  readonly mode: options.Mode;
  readonly date: string;
  readonly wallSeconds: number;
  readonly chaosSeconds: number;
  /** How long the end state took to converge after the load stopped; undefined if it did not. */
  readonly settledSeconds: number | undefined;
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly machine: machines.Machine;
  readonly versions: Record<string, string>;
  readonly options: Omit<options.Options, "outDir" | "help" | "render"> & Record<string, unknown>;
  readonly summary: Summary;
  readonly perFault: Record<string, FaultRow>;
  readonly faults: readonly FaultResult[];
  readonly lost: readonly oracles.Lost[];
  readonly phantoms: readonly string[];
  readonly reruns: readonly oracles.Rerun[];
  readonly unaskedExits: readonly replicas.UnaskedExit[];
  readonly processes: Record<string, readonly replicas.ProcessRecord[]>;
  readonly leaseHolders: readonly oracles.Holder[] | undefined;
  readonly rss: { trends: readonly memory.RssTrend[]; samples: readonly memory.RssSample[] };
}

/** The run's totals. */
export interface Summary {
  readonly objects: oracles.Verdict["objects"];
  readonly invocations: oracles.Verdict["invocations"];
  readonly lost: number;
  readonly phantoms: number;
  readonly successfulReruns: { recorded: number; afterRecorded: number };
  readonly partialReruns: number;
  readonly repeatedBeforeRecorded: number;
  readonly invocationsByNonLeader: number | undefined;
  readonly unaskedExits: number;
  /** Ticks of the load that found 32 requests in flight and were skipped. */
  readonly loadTicksSkipped: number;
  readonly driverWatchErrors: number;
  /** By operation kind, by outcome. */
  readonly operations: Record<string, Record<string, number>>;
  readonly watch: replicas.WatchCounters;
}

/** A figure over the faults of one kind: nearest-rank p50 and the maximum. */
export interface Spread {
  readonly p50: number | undefined;
  readonly max: number | undefined;
}

/** The row of one fault kind. */
export interface FaultRow {
  readonly injected: number;
  readonly failedInjections: number;
  /** Healed → the backlog handled (ms); see `oracles.Recovery`. */
  readonly caughtUpMs: Spread;
  /** Healed → the first success of a handler invoked after the healing (ms). */
  readonly firstSuccessMs: Spread;
  /** Faults after which some request of the backlog never had its effect. */
  readonly unrecovered: number;
  readonly relists: number;
  readonly reconnects: number;
  readonly pauses: number;
  readonly lost: number;
  /** Successful handlers re-run (`recorded` and `after-recorded`). */
  readonly reruns: number;
  /** Re-runs after the status was written but not the diff-base (`partial`). */
  readonly partialReruns: number;
  /** Fault-specific totals: 429s, connections dropped, takeover times, objects swept. */
  readonly notes: Record<string, number | string>;
}

/** A fault as written to the results, with its offline recovery. */
export type FaultResult = schedules.ScheduledFault & { recovery: oracles.Recovery };

/** Rows for every fault kind included, in the order of `options.FAULTS`. */
export function faultRows(
  included: readonly options.FaultName[],
  faults: readonly FaultResult[],
  verdict: oracles.Verdict,
): Record<string, FaultRow> {
  const rows: Record<string, FaultRow> = {};
  for (const kind of options.FAULTS.filter((f) => included.includes(f))) {
    const mine = faults.filter((f) => f.kind === kind);
    const ok = mine.filter((f) => f.error === undefined);
    const spread = (values: (number | undefined)[]): Spread => {
      const known = values.filter((v): v is number => v !== undefined);
      return {
        p50: stats.percentile(known, 50),
        max: known.length ? Math.max(...known) : undefined,
      };
    };
    rows[kind] = {
      injected: mine.length,
      failedInjections: mine.length - ok.length,
      caughtUpMs: spread(ok.map((f) => f.recovery.caughtUpMs)),
      firstSuccessMs: spread(ok.map((f) => f.recovery.firstSuccessMs)),
      unrecovered: ok.filter((f) => f.recovery.unsatisfied > 0).length,
      relists: sum(mine.map((f) => f.watch?.relists ?? 0)),
      reconnects: sum(mine.map((f) => f.watch?.reconnects ?? 0)),
      pauses: sum(mine.map((f) => f.watch?.pauses ?? 0)),
      lost: verdict.lost.filter((l) => l.fault === kind).length,
      reruns: verdict.reruns.filter((r) => r.fault === kind && r.kind !== "partial").length,
      partialReruns: verdict.reruns.filter((r) => r.fault === kind && r.kind === "partial").length,
      notes: notesOf(kind, ok),
    };
  }
  return rows;
}

function notesOf(
  kind: options.FaultName,
  faults: readonly FaultResult[],
): Record<string, number | string> {
  const total = (key: string) => sum(faults.map((f) => Number(f.details[key] ?? 0)));
  const range = (key: string) => {
    const values = faults.map((f) => f.details[key]).filter((v): v is number =>
      typeof v === "number"
    );
    return values.length ? `${Math.min(...values)}–${Math.max(...values)}` : "–";
  };
  switch (kind) {
    case "kill":
      return {};
    case "apiserver":
      return { downSeconds: range("downSeconds"), startSeconds: range("startSeconds") };
    case "compaction":
      return { connectionsDropped: total("connectionsDropped") };
    case "proxy":
      return {
        frozenSeconds: range("frozenSeconds"),
        connectionsDropped: total("connectionsDropped"),
      };
    case "throttle":
      return { rejected429: total("rejected429"), windowSeconds: range("windowSeconds") };
    case "crd":
      return {
        objectsSwept: total("objectsSwept"),
        removalSeconds: range("removalSeconds"),
        stuckOnFinalizers: sum(
          faults.map((f) => (f.details.stuckOnFinalizers as unknown[])?.length ?? 0),
        ),
      };
    case "leader": {
      const takeovers = faults.map((f) => f.details.takeoverMs).filter((v): v is number =>
        typeof v === "number"
      );
      return {
        takeoverMsP50: stats.percentile(takeovers, 50) ?? "–",
        takeoverMsMax: takeovers.length ? Math.max(...takeovers) : "–",
        noTakeover: faults.length - takeovers.length,
      };
    }
  }
}

/** The per-fault table in markdown. */
export function faultTable(rows: Record<string, FaultRow>): string {
  const lines = [
    "| fault | injected | first success p50 / max (s) | caught up p50 / max (s) | unrecovered | relists | reconnects | pauses | lost | re-runs / partial | notes |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const [kind, row] of Object.entries(rows)) {
    const failed = row.failedInjections ? ` (${row.failedInjections} failed)` : "";
    const notes = Object.entries(row.notes).map(([k, v]) => `${k} ${v}`).join(", ");
    lines.push(
      `| ${kind} | ${row.injected}${failed} | ${spread(row.firstSuccessMs)} | ${
        spread(row.caughtUpMs)
      } | ${row.unrecovered} | ${row.relists} | ${row.reconnects} | ${row.pauses} | ${row.lost} | ${row.reruns} / ${row.partialReruns} | ${notes} |`,
    );
  }
  return lines.join("\n");
}

/** The RSS trends in markdown. */
export function rssTable(trends: readonly memory.RssTrend[]): string {
  return [
    "| replica | PID | samples after warm-up | first (MiB) | last (MiB) | peak (MiB) | slope (MiB/hour) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...trends.map((t) =>
      `| ${t.ident} | ${t.pid} | ${t.samples} | ${t.firstMiB} | ${t.lastMiB} | ${t.peakMiB} | ${
        t.slopeMiBPerHour ?? "–"
      } |`
    ),
  ].join("\n");
}

function spread(value: Spread): string {
  const s = (ms: number | undefined) => ms === undefined ? "–" : (ms / 1000).toFixed(1);
  return `${s(value.p50)} / ${s(value.max)}`;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** The totals as a few lines of text. */
export function summaryText(summary: Summary): string {
  const o = summary.objects;
  const inv = summary.invocations;
  const reruns = summary.successfulReruns;
  return [
    `objects: ${o.created} created (${o.createsRefused} refused, ${o.uncertain} uncertain), ` +
    `${o.updates} updates, ${o.deletes} deleted, ${o.swept} swept by CRD removals, ` +
    `${o.presentAtEnd} at the end`,
    `invocations: ${inv.create} create, ${inv.update} update, ${inv.delete} delete; ` +
    `${summary.repeatedBeforeRecorded} repeated before their success was recorded`,
    `lost: ${summary.lost}; successful handlers re-run: ${reruns.recorded} (recorded on the ` +
    `body) + ${reruns.afterRecorded} (recorded before, on a stale body); re-runs after a partial ` +
    `record (status written, diff-base not): ${summary.partialReruns}` +
    (summary.invocationsByNonLeader === undefined
      ? ""
      : `; invocations by a non-leader: ${summary.invocationsByNonLeader}`),
    `operator exits unasked: ${summary.unaskedExits}; watch relists ${summary.watch.relists}, ` +
    `reconnects ${summary.watch.reconnects}, errors ${summary.watch.errors}; ` +
    `pauses of an active replica ${summary.watch.pauses}`,
  ].join("\n");
}

/** The whole markdown report. */
export function markdown(results: Results): string {
  const m = results.machine;
  const o = results.options;
  const title = { chaos: "Chaos run", smoke: "Chaos smoke", soak: "Soak" }[results.mode];
  const successful = results.reruns.filter((r) => r.kind !== "partial");
  const partial = results.reruns.filter((r) => r.kind === "partial");
  const lines = [
    `# ${title} ${results.date}`,
    "",
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; load ` +
    `${m.loadAverage1m.toFixed(2)} at the start. Versions: \`${
      JSON.stringify(results.versions)
    }\`.`,
    "",
    `Seed ${o.seed}; ${o.objects} objects, ${o.ratePerSecond} operations/s, ${o.replicas} ` +
    `replica(s)${
      o.replicas === 2 ? " with `--peering lease`" : " (`--standalone`)"
    }; watch cache ` +
    `${o.watchCache ? "on" : "off"}. Chaos ${results.chaosSeconds} s, settled after ` +
    `${results.settledSeconds ?? "— (did not converge)"} s; wall time ${results.wallSeconds} s.`,
    "",
    results.ok
      ? `**Verdict: nothing lost**, ${successful.length} successful handlers re-run, no operator ` +
        "exited unasked."
      : `**Verdict: FAILED**: ${results.summary.lost} lost, ${results.summary.unaskedExits} ` +
        `unasked exits, ${results.problems.length} other problems.`,
    "",
    "## Per fault",
    "",
    faultTable(results.perFault),
    "",
    "First success: from the fault's healing until the driver saw the effect of a handler that",
    "was invoked after the healing. Caught up: until every request made before that first",
    "success is handled (or its object gone): the backlog drained. Unrecovered: faults after",
    "which a request of the backlog never had its effect. Relists, reconnects: the replicas' watch",
    "restarts (liveness JSON) from this injection to the next; pauses: an active replica paused",
    "(with a Lease: it could not renew it in time). Re-runs: successful handlers re-run (must be",
    "0) / partial: re-runs after the status was written but not the diff-base (the operator was",
    "killed or cut off between the two requests: at least once). Lost objects and re-runs count",
    "for the fault in force at the time. The method: docs/chaos.md.",
    "",
    "## Totals",
    "",
    "```",
    summaryText(results.summary),
    "```",
    "",
  ];
  if (results.problems.length > 0) {
    lines.push("## Problems", "", ...results.problems.map((p) => `- ${p}`), "");
  }
  if (results.lost.length > 0) {
    lines.push(
      "## Lost objects",
      "",
      ...results.lost.slice(0, 50).map((l) => `- \`${l.name}\` (${l.fault}): ${l.why}`),
      "",
    );
  }
  const rerunLine = (r: oracles.Rerun) =>
    `- \`${r.name}\` ${r.handler} seq ${r.seq} by ${r.by} at ${
      new Date(r.at).toISOString()
    } (${r.kind}, during ${r.fault})`;
  if (successful.length > 0) {
    lines.push("## Successful handlers re-run", "", ...successful.slice(0, 50).map(rerunLine), "");
  }
  if (partial.length > 0) {
    lines.push(
      "## Re-runs after a partial record",
      "",
      "The handler's result was in the status, its success not yet in the diff-base, when the",
      "operator was killed or cut off; the next one ran the handler again (at least once).",
      "",
      ...partial.slice(0, 50).map(rerunLine),
      "",
    );
  }
  if (results.unaskedExits.length > 0) {
    lines.push(
      "## Operator exits nobody asked for",
      "",
      ...results.unaskedExits.map((e) =>
        `- ${e.ident} PID ${e.pid} at ${new Date(e.at).toISOString()}: code ${e.code}\n\n` +
        "  ```\n" + e.logTail.split("\n").map((l) => `  ${l}`).join("\n") + "\n  ```"
      ),
      "",
    );
  }
  const trends = results.rss.trends;
  if (results.mode === "soak" && trends.length > 0) {
    lines.push(
      `## RSS (sampled every ${o.sampleSeconds} s; slope after ${o.warmUpSeconds} s of warm-up)`,
      "",
      rssTable(trends),
      "",
    );
  } else if (trends.length > 0) {
    lines.push(
      "## RSS",
      "",
      `Peak RSS (sampled every ${o.sampleSeconds} s): ` +
        trends.map((t) => `${t.ident} ${t.peakMiB} MiB`).join(", ") +
        ". The operator is restarted by the faults, so no slope is drawn: that is the soak's.",
      "",
    );
  }
  return lines.join("\n");
}
