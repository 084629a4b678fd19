// The side-by-side benchmark (issue 7, DESIGN.md §7): ours, Python Kopf and a controller-runtime
// operator, with the same behaviour (bench/operators/BEHAVIOUR.md), on one private control plane,
// scenario by scenario, repetition by repetition. Writes bench/results/<date>.{json,md} and
// prints the table; exits 1 when any end state was wrong, 2 on a bad command line.
// The method is in bench/README.md.
//
// Usage: deno task bench [--quick] [--operators deno,kopf,go] [--scenarios LIST] [--reps N]
//                        [--size KEY=VALUE]…

import * as auditing from "./driver/auditing.ts";
import * as machines from "./driver/machine.ts";
import * as operators from "./driver/operators.ts";
import * as options from "./driver/options.ts";
import * as planes from "./driver/plane.ts";
import * as reports from "./driver/report.ts";
import type * as runsModule from "./driver/runs.ts";
import * as scenarios from "./driver/scenarios.ts";

const RESULTS = new URL("./results/", import.meta.url).pathname;

function say(line: string): void {
  console.error(`bench: ${line}`);
}

async function main(args: readonly string[]): Promise<number> {
  let chosen: options.Options;
  try {
    chosen = options.parseOptions(args);
  } catch (error) {
    if (!(error instanceof options.UsageError)) throw error;
    console.error(`bench: ${error.message}`);
    return 2;
  }
  if (chosen.help) {
    console.log(options.USAGE);
    return 0;
  }
  const began = performance.now();
  const date = new Date().toISOString().slice(0, 10);
  const machine = await machines.describe();
  // Our operator runs from the working tree: note what it was when the run began.
  const commit =
    (await operators.run("git", ["describe", "--always", "--dirty"]).catch(() => "unknown")).trim();
  say(`${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}`);

  // First, while nothing else runs: the in-process pipeline benchmark.
  say("watch decoding (in-process)");
  const watchDecoding = JSON.parse(
    await operators.run(Deno.execPath(), [
      "run",
      "-A",
      new URL("./watch_decoding.ts", import.meta.url).pathname,
      "--json",
      "--events",
      String(chosen.sizes.watchDecodingEvents),
    ]),
  ) as Record<string, unknown>;

  const prepared: operators.Operator[] = [];
  const skipped: Record<string, string> = {};
  for (const name of chosen.operators) {
    const operator = await operators.prepare(name, say, { denoV8Flags: chosen.denoV8Flags });
    if (typeof operator === "string") {
      say(operator);
      skipped[name] = operator;
    } else {
      prepared.push(operator);
    }
  }
  if (prepared.length === 0) {
    say("No operator can run");
    return 1;
  }

  const logDir = await Deno.makeTempDir({ prefix: "kopf-bench-logs-" });
  say(`operator logs in ${logDir}`);
  const cases = options.casesOf(chosen.scenarios, chosen.sizes);
  const runs: runsModule.RunResult[] = [];
  let apiserverVersion = "unknown";
  {
    await using plane = await planes.startPlane({ audit: chosen.audit, log: say });
    const stopOnSignal = () => {
      say("interrupted: stopping the operators and the control plane");
      operators.stopAll().then(() => plane[Symbol.asyncDispose]()).finally(() => Deno.exit(130));
    };
    Deno.addSignalListener("SIGINT", stopOnSignal);
    Deno.addSignalListener("SIGTERM", stopOnSignal);
    apiserverVersion = plane.apiserverVersion;
    const context: runsModule.Context = {
      transport: plane.transport,
      watchTransport: plane.watchTransport,
      kubeconfigPath: plane.kubeconfigPath,
      audit: plane.auditLogPath
        ? new auditing.AuditLog(plane.auditLogPath, plane.transport)
        : undefined,
      serverPids: plane.serverPids,
      sizes: chosen.sizes,
      logDir,
      log: say,
    };
    say("warming up the API server (creates, lists and deletes 200 objects, no operator)");
    await scenarios.warmUp(context);
    await context.audit?.skip();
    // Operators alternate within a repetition, so drift of the machine touches all alike.
    for (const chosenCase of cases) {
      for (let rep = 1; rep <= chosen.reps; rep++) {
        for (const operator of prepared) {
          const result = await scenarios.runScenario(context, chosenCase, operator, rep);
          runs.push(result);
          say(describeRun(result));
          for (const problem of result.problems) say(`  ${problem}`);
          for (const line of result.log?.firstErrors ?? []) say(`  log: ${line}`);
        }
      }
    }
    Deno.removeSignalListener("SIGINT", stopOnSignal);
    Deno.removeSignalListener("SIGTERM", stopOnSignal);
  }

  const wallSeconds = Math.round((performance.now() - began) / 1000);
  const failed = runs.filter((run) => !run.ok);
  const summary = reports.summarise(runs);
  const ratios = reports.ratios(summary);
  const versions: Record<string, unknown> = { kubeApiserver: apiserverVersion, commit };
  for (const operator of prepared) versions[operator.name] = operator.versions;
  const results = {
    benchmark: "operators",
    date,
    quick: chosen.quick,
    wallSeconds,
    ok: failed.length === 0,
    machine,
    versions,
    sizes: chosen.sizes,
    reps: chosen.reps,
    audit: chosen.audit,
    operators: Object.fromEntries(
      chosen.operators.map((name) => [
        name,
        skipped[name] ? { skipped: skipped[name] } : {
          label: prepared.find((op) => op.name === name)?.label,
          userAgentPrefix: prepared.find((op) => op.name === name)?.userAgentPrefix,
        },
      ]),
    ),
    summary,
    ratios,
    runs,
    watchDecoding,
  };
  const base = options.resultsBase(RESULTS, date, chosen);
  await Deno.mkdir(RESULTS, { recursive: true });
  await Deno.writeTextFile(`${base}.json`, JSON.stringify(results, null, 2) + "\n");
  const markdown = renderMarkdown(results, summary, cases, chosen, failed);
  await Deno.writeTextFile(`${base}.md`, markdown);
  console.log(reports.table(summary, cases, chosen.sizes));
  say(`wrote ${base}.json and ${base}.md in ${wallSeconds} s`);
  if (failed.length > 0) {
    say(`FAILED: ${failed.length} of ${runs.length} runs had a wrong end state or timed out:`);
    for (const run of failed) {
      say(`  ${run.key} ${run.operator} #${run.rep}: ${run.problems.join("; ")}`);
    }
    say(`operator logs kept in ${logDir}`);
    return 1;
  }
  await Deno.remove(logDir, { recursive: true });
  return 0;
}

function describeRun(run: runsModule.RunResult): string {
  const f = run.figures;
  const parts = [
    `${run.objects} objects`,
    f.throughput !== undefined ? `${reports.format(f.throughput)}/s` : undefined,
    f.visibleP99Ms !== undefined ? `visible p99 ${reports.format(f.visibleP99Ms)} ms` : undefined,
    f.goneP99Ms !== undefined ? `gone p99 ${reports.format(f.goneP99Ms)} ms` : undefined,
    f.requestsPerObject !== undefined
      ? `${reports.format(f.requestsPerObject)} req/object`
      : undefined,
    f.writesAfterRestart !== undefined ? `${f.writesAfterRestart} writes after restart` : undefined,
    f.updateVisibleP99Ms !== undefined
      ? `update visible p99 ${reports.format(f.updateVisibleP99Ms)} ms`
      : undefined,
    f.updatesMissed !== undefined ? `${f.updatesMissed} of ${f.updates} updates missed` : undefined,
    f.cpuMsPerUpdate !== undefined
      ? `${reports.format(f.cpuMsPerUpdate)} ms CPU/update`
      : undefined,
    f.churnPeakRssMiB !== undefined
      ? `window peak ${reports.format(f.churnPeakRssMiB)} MiB`
      : undefined,
    f.cpuMsPerObject !== undefined
      ? `${reports.format(f.cpuMsPerObject)} ms CPU/object`
      : undefined,
    f.idleRssKiBPerObject !== undefined
      ? `idle ${reports.format(f.idleRssKiBPerObject)} KiB/object`
      : undefined,
    f.peakRssMiB !== undefined ? `peak ${reports.format(f.peakRssMiB)} MiB` : undefined,
    f.idleRssMiB !== undefined ? `idle ${reports.format(f.idleRssMiB)} MiB` : undefined,
    f.cpuSeconds !== undefined ? `CPU ${reports.format(f.cpuSeconds)} s` : undefined,
    run.log?.errorLines ? `${run.log.errorLines} error lines in the log` : undefined,
  ].filter(Boolean);
  return `${run.key} ${run.operator} #${run.rep}: ${parts.join(", ")}; ${run.wallSeconds} s ${
    run.ok ? "[ok]" : "[FAILED]"
  }`;
}

function renderMarkdown(
  results: {
    date: string;
    wallSeconds: number;
    machine: machines.Machine;
    versions: Record<string, unknown>;
    reps: number;
    quick: boolean;
    operators: Record<string, unknown>;
    watchDecoding: Record<string, unknown>;
  },
  summary: reports.Summary,
  cases: readonly options.Case[],
  chosen: options.Options,
  failed: readonly runsModule.RunResult[],
): string {
  const m = results.machine;
  const decoding = results.watchDecoding as {
    events?: number;
    averageEventBytes?: number;
    results?: Record<string, { eventsPerSecond: number; ratioToJsonParse: number }>;
  };
  const lines = [
    `# Operator benchmark ${results.date}${results.quick ? " (quick)" : ""}`,
    "",
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os} (kernel ${m.kernel}); ` +
    `load ${m.loadAverage1m.toFixed(2)} at the start. Wall time ${results.wallSeconds} s. ` +
    `${results.reps} repetition(s); medians below, minima in the JSON and the second table.`,
    "",
    `Versions: \`${JSON.stringify(results.versions)}\``,
    "",
    ...Object.entries(results.operators).flatMap(([name, info]) =>
      (info as { skipped?: string }).skipped
        ? [`Skipped ${name}: ${(info as { skipped: string }).skipped}`, ""]
        : []
    ),
    failed.length > 0
      ? `**${failed.length} run(s) FAILED** (wrong end state or timeout): ${
        failed.map((run) => `${run.key}/${run.operator}#${run.rep}`).join(", ")
      }\n`
      : "Every run ended in the expected state (checked after each run).\n",
    "## Medians",
    "",
    reports.table(summary, cases, chosen.sizes),
    "",
    "## Peak RSS of every scenario (medians, MiB)",
    "",
    reports.peakRssTable(summary, cases, chosen.sizes),
    "",
    "## Minima (for ↑ figures the worst repetition, for ↓ figures the best)",
    "",
    reports.table(summary, cases, chosen.sizes, "min"),
    "",
    "## API requests per object by verb and resource (medians, from the audit log)",
    "",
    reports.requestsTable(summary, cases),
    "",
    `## Watch decoding (in-process, ${decoding.events} events of ~${decoding.averageEventBytes} B)`,
    "",
    "| variant | events/s | ratio to JSON.parse |",
    "| --- | ---: | ---: |",
    ...Object.entries(decoding.results ?? {}).map(([name, r]) =>
      `| ${name} | ${r.eventsPerSecond} | ${r.ratioToJsonParse.toFixed(3)} |`
    ),
    "",
    "Method: bench/README.md.",
    "",
  ];
  return lines.join("\n");
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
