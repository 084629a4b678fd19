// Benchmark (not a test): admission review latency through a real API server, ours against
// Python Kopf's admission server in the same run. Each operator serves one validating webhook
// (bench/operators/{deno/admission.ts,kopf/admission.py}) for the BenchAdmissions with its own
// label; a driver sends dry-run creates at a fixed rate (open loop: sends are due on a grid and
// never wait for answers), so each create is one review of one operator's webhook, and measures
// each create's latency at the client. A baseline phase (a label no webhook selects) gives the
// API server's own share. Phases take turns (deno, kopf, kopf -q, …) for each repetition, so a
// drift of the machine touches all alike. The method and the results: bench/admission.md.
//
// Usage: deno run -A bench/admission.ts [--rate 200] [--seconds 15] [--warmup 3] [--reps 2]
//          [--operators deno,kopf,kopf-quiet] [--kubeconfig PATH] [--out bench/results]
// The cluster: --kubeconfig, else $KOPF_E2E_KUBECONFIG, else $KUBECONFIG.

import { parseArgs } from "node:util";
import * as api from "../lib/k8s/api.ts";
import * as k8sErrors from "../lib/k8s/errors.ts";
import * as kubeconfig from "../lib/k8s/kubeconfig.ts";
import * as transports from "../lib/k8s/transport.ts";
import * as certificates from "../lib/engines/certificates.ts";
import * as configurations from "../lib/engines/configurations.ts";
import * as networking from "../lib/settings/networking.ts";
import type * as references from "../lib/structs/references.ts";

const REPO = new URL("../", import.meta.url).pathname;
const KOPF_VENVS = [
  `${Deno.env.get("HOME")}/.cache/kopf-deno/kopf-venv-1.45.2`,
  `${Deno.env.get("HOME")}/.cache/kopf-deno/bench/kopf-venv-1.45.2`,
];
const CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "benchadmissions.bench.kopf.dev" },
  spec: {
    group: "bench.kopf.dev",
    scope: "Namespaced",
    names: { plural: "benchadmissions", singular: "benchadmission", kind: "BenchAdmission" },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: { spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
        },
      },
    }],
  },
};
const RESOURCE: references.Resource = {
  group: "bench.kopf.dev",
  version: "v1",
  plural: "benchadmissions",
  kind: "BenchAdmission",
  namespaced: true,
};
const CRDS: references.Resource = {
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
};
const NAMESPACES: references.Resource = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "15" },
    warmup: { type: "string", default: "3" },
    reps: { type: "string", default: "2" },
    operators: { type: "string", default: "deno,kopf,kopf-quiet" },
    kubeconfig: { type: "string" },
    out: { type: "string", default: `${REPO}bench/results` },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const REPS = Number(values.reps);
const OPERATORS = values.operators.split(",").filter(Boolean);
/** Phases take turns in slices of this many seconds. */
const SLICE_SECONDS = 1;

function say(line: string): void {
  console.error(`bench/admission: ${line}`);
}

/** One operator process serving its webhook. */
interface Served {
  readonly label: string;
  readonly managed: string;
  readonly child: Deno.ChildProcess;
  readonly log: string;
}

interface Stats {
  count: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  achievedRate: number;
}

async function main(): Promise<number> {
  const path = values.kubeconfig ?? Deno.env.get("KOPF_E2E_KUBECONFIG") ??
    Deno.env.get("KUBECONFIG");
  if (!path) {
    say("give --kubeconfig, KOPF_E2E_KUBECONFIG or KUBECONFIG");
    return 2;
  }
  const connection = await kubeconfig.loadKubeconfig({ kubeconfig: path });
  using transport = new transports.Transport(connection, {
    settings: { ...networking.defaultNetworking(), retries: 0 },
  });
  const run = `bench-${crypto.randomUUID().slice(0, 6)}`;
  const work = await Deno.makeTempDir({ prefix: "kopf-bench-admission-" });
  say(`run ${run}, logs in ${work}`);
  await api.createObject(transport, CRDS, CRD).catch((error) => {
    if (!(error instanceof k8sErrors.ApiConflictError)) throw error;
  });
  await until(async () => {
    try {
      await api.listObjects(transport, RESOURCE, { namespace: "default", limit: 1 });
      return true;
    } catch {
      return false;
    }
  }, "the CRD to be served");
  await api.createObject(transport, NAMESPACES, { metadata: { name: run } });

  const served: Served[] = [];
  const results: Record<string, Stats[]> = { baseline: [] };
  let histograms: Record<string, Record<string, number>> = {};
  try {
    for (const name of OPERATORS) {
      served.push(await start(name, run, path, work));
      results[name] = [];
    }
    for (const operator of served) {
      await until(
        () => probe(transport, run, operator.label),
        `the ${operator.label} webhook`,
        60_000,
      );
      say(`${operator.label}: the API server calls its webhook`);
    }
    const labels = ["baseline", ...served.map((s) => s.label)];
    const direct = new Map<string, Sender>();
    for (const operator of served) {
      direct.set(operator.label, await directSender(transport, operator));
      results[`${operator.label} (direct)`] = [];
    }
    const throughApi = (label: string): Sender => () =>
      api.createObject(transport, RESOURCE, {
        metadata: { name: `o-${crypto.randomUUID().slice(0, 8)}`, labels: { bench: label } },
        spec: { index: 1 },
      }, { namespace: run, dryRun: true }).then(() => {});
    const phases: [string, Sender][] = [
      ...labels.map((label): [string, Sender] => [label, throughApi(label)]),
      ...[...direct].map(([label, send]): [string, Sender] => [`${label} (direct)`, send]),
    ];
    for (const [, send] of phases) await phase(send, WARMUP); // warm-up, discarded
    for (let rep = 1; rep <= REPS; rep++) {
      // Slices of SLICE_SECONDS take turns, so that a drift of the machine (other processes on
      // its two cores) touches every phase alike.
      const samples = new Map(
        phases.map((
          [label],
        ) => [label, { latencies: [] as number[], errors: 0, seconds: 0, sent: 0 }]),
      );
      for (let done = 0; done < SECONDS; done += SLICE_SECONDS) {
        for (const [label, send] of phases) {
          const sample = samples.get(label)!;
          const slice = await phase(send, Math.min(SLICE_SECONDS, SECONDS - done));
          sample.latencies.push(...slice.latencies);
          sample.errors += slice.errors;
          sample.seconds += slice.elapsed;
          sample.sent += slice.sent;
        }
      }
      for (const [label] of phases) {
        const sample = samples.get(label)!;
        const stats = statsOf(sample.latencies, sample.errors, sample.sent / sample.seconds);
        results[label]!.push(stats);
        say(
          `rep ${rep} ${label.padEnd(19)} n=${stats.count} errors=${stats.errors} ` +
            `p50=${ms(stats.p50)} p90=${ms(stats.p90)} p99=${ms(stats.p99)} max=${ms(stats.max)} ` +
            `rate=${stats.achievedRate.toFixed(0)}/s`,
        );
      }
    }
    histograms = await webhookHistograms(connection, served.map((s) => `check.${s.managed}`));
  } finally {
    for (const operator of served) {
      try {
        operator.child.kill("SIGTERM");
      } catch {
        // exited already
      }
      await operator.child.status;
    }
    await api.deleteObject(transport, NAMESPACES, run).catch(() => {});
    for (const operator of served) {
      for (const kind of ["validating", "mutating"] as const) {
        await api.deleteObject(
          transport,
          configurations.CONFIGURATION_RESOURCES[kind],
          operator.managed,
        )
          .catch(() => {});
      }
    }
  }
  const report = summarize(results, histograms);
  console.log(report.markdown);
  const date = new Date().toISOString().slice(0, 10);
  await Deno.mkdir(values.out, { recursive: true });
  await Deno.writeTextFile(
    `${values.out}/admission-${date}.json`,
    JSON.stringify(
      {
        date,
        rate: RATE,
        seconds: SECONDS,
        reps: REPS,
        results,
        histograms,
        summary: report.summary,
      },
      null,
      2,
    ) + "\n",
  );
  await Deno.writeTextFile(`${values.out}/admission-${date}.md`, report.markdown + "\n");
  say(`written to ${values.out}/admission-${date}.{json,md}`);
  return 0;
}

async function start(name: string, run: string, path: string, work: string): Promise<Served> {
  const label = name;
  const managed = `${name}.${run}.bench.kopf.dev`;
  const log = `${work}/${name}.log`;
  const file = await Deno.open(log, { write: true, create: true, truncate: true });
  let command: Deno.Command;
  if (name === "deno") {
    command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        `${REPO}deno.json`,
        `${REPO}cli.ts`,
        "run",
        `${REPO}bench/operators/deno/admission.ts`,
        "-n",
        run,
        "--standalone",
        "--webhook-address",
        "127.0.0.1",
        "--webhook-port",
        "0",
        "--webhook-managed",
        managed,
      ],
      env: { KUBECONFIG: path, NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    });
  } else if (name === "kopf" || name === "kopf-quiet") {
    const venv = await firstExisting(KOPF_VENVS.map((v) => `${v}/bin/kopf`));
    if (!venv) {
      throw new Error("Kopf 1.45.2 is not installed: run deno task bench once (it installs it)");
    }
    const tls = await certificates.selfSigned(["127.0.0.1"]);
    await Deno.writeTextFile(`${work}/${name}.crt`, tls.cert);
    await Deno.writeTextFile(`${work}/${name}.key`, tls.key);
    await Deno.writeTextFile(`${work}/${name}-ca.crt`, tls.ca);
    command = new Deno.Command(venv, {
      args: [
        "run",
        "--standalone",
        "-n",
        run,
        ...(name === "kopf-quiet" ? ["--quiet"] : []),
        `${REPO}bench/operators/kopf/admission.py`,
      ],
      env: {
        KUBECONFIG: path,
        BENCH_PORT: String(freePort()),
        BENCH_CERT: `${work}/${name}.crt`,
        BENCH_KEY: `${work}/${name}.key`,
        BENCH_CA: `${work}/${name}-ca.crt`,
        BENCH_MANAGED: managed,
        BENCH_LABEL: label,
      },
      stdout: "null",
      stderr: "piped",
    });
  } else {
    throw new Error(`Unknown operator "${name}": use deno, kopf or kopf-quiet`);
  }
  const child = command.spawn();
  child.stderr.pipeTo(file.writable).catch(() => {});
  say(`${name}: started (log: ${log})`);
  return { label, managed, child, log };
}

/** Whether the operator's webhook is called: a dry-run create with `spec.reject` is rejected. */
async function probe(
  transport: transports.Transport,
  namespace: string,
  label: string,
): Promise<boolean> {
  try {
    await api.createObject(transport, RESOURCE, {
      metadata: { name: "probe", labels: { bench: label } },
      spec: { reject: true },
    }, { namespace, dryRun: true });
    return false;
  } catch (error) {
    return error instanceof k8sErrors.ApiError && error.code === 422;
  }
}

/** Sends one request and resolves when it is answered; rejects on an error. */
type Sender = () => Promise<void>;

/**
 * Posts AdmissionReviews straight to the operator's webhook (the URL and CA from its managed
 * configuration), bypassing the API server: the server's own latency.
 */
async function directSender(transport: transports.Transport, operator: Served): Promise<Sender> {
  const config = await api.getObject<{ webhooks: { clientConfig: configurations.ClientConfig }[] }>(
    transport,
    configurations.CONFIGURATION_RESOURCES.validating,
    operator.managed,
  );
  const clientConfig = config.webhooks[0]!.clientConfig;
  const client = Deno.createHttpClient({ caCerts: [atob(clientConfig.caBundle!)] });
  const body = JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "bench",
      kind: { group: RESOURCE.group, version: RESOURCE.version, kind: RESOURCE.kind },
      resource: { group: RESOURCE.group, version: RESOURCE.version, resource: RESOURCE.plural },
      requestKind: { group: RESOURCE.group, version: RESOURCE.version, kind: RESOURCE.kind },
      requestResource: {
        group: RESOURCE.group,
        version: RESOURCE.version,
        resource: RESOURCE.plural,
      },
      name: "o",
      namespace: "bench",
      operation: "CREATE",
      userInfo: { username: "bench", groups: ["system:authenticated"] },
      object: {
        apiVersion: "bench.kopf.dev/v1",
        kind: "BenchAdmission",
        metadata: { name: "o", namespace: "bench", labels: { bench: operator.label } },
        spec: { index: 1 },
      },
      oldObject: null,
      dryRun: true,
      options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
    },
  });
  return async () => {
    const response = await fetch(clientConfig.url!, {
      method: "POST",
      body,
      headers: { "content-type": "application/json" },
      client,
    });
    const review = await response.json();
    if (!review.response?.allowed) throw new Error(`Not allowed: ${JSON.stringify(review)}`);
  };
}

/** What one slice of requests gave. */
interface Slice {
  latencies: number[];
  errors: number;
  sent: number;
  elapsed: number;
}

/** Sends requests at RATE per second for `seconds`, each due on a fixed grid (open loop). */
async function phase(send: Sender, seconds: number): Promise<Slice> {
  const total = Math.round(RATE * seconds);
  const interval = 1000 / RATE;
  const latencies: number[] = [];
  let errors = 0;
  const pending: Promise<void>[] = [];
  const began = performance.now();
  for (let i = 0; i < total; i++) {
    const due = began + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const sent = performance.now();
    pending.push(
      send().then(
        () => void latencies.push(performance.now() - sent),
        () => void errors++,
      ),
    );
  }
  await Promise.all(pending);
  return { latencies, errors, sent: total, elapsed: (performance.now() - began) / 1000 };
}

function statsOf(latencies: number[], errors: number, achievedRate: number): Stats {
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return {
    count: latencies.length,
    errors,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: latencies.at(-1) ?? NaN,
    mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    achievedRate,
  };
}

/**
 * The API server's own measure of each webhook call (`apiserver_admission_webhook_admission_
 * duration_seconds`, allowed CREATEs): the share of calls within each bucket bound.
 */
async function webhookHistograms(
  connection: Awaited<ReturnType<typeof kubeconfig.loadKubeconfig>>,
  names: readonly string[],
): Promise<Record<string, Record<string, number>>> {
  const credentials = await connection.authenticator.credentials();
  const certificate = credentials.clientCertificate;
  const client = Deno.createHttpClient({
    caCerts: [...connection.caCerts],
    ...(certificate ? { cert: certificate.cert, key: certificate.key } : {}),
  });
  try {
    const response = await fetch(`${connection.server}/metrics`, {
      client,
      headers: credentials.authorization ? { authorization: credentials.authorization } : {},
    });
    const text = await response.text();
    const result: Record<string, Record<string, number>> = {};
    for (const name of names) {
      const buckets: Record<string, number> = {};
      for (const line of text.split("\n")) {
        if (!line.startsWith("apiserver_admission_webhook_admission_duration_seconds_bucket{")) {
          continue;
        }
        if (!line.includes(`name="${name}"`) || !line.includes(`rejected="false"`)) continue;
        const bound = /le="([^"]+)"/.exec(line)?.[1];
        const count = Number(line.split(" ").at(-1));
        if (bound !== undefined) buckets[bound] = count;
      }
      const total = buckets["+Inf"] ?? 0;
      result[name] = Object.fromEntries(
        Object.entries(buckets).map(([bound, count]) => [bound, total ? count / total : 0]),
      );
    }
    return result;
  } finally {
    client.close();
  }
}

function summarize(
  results: Record<string, Stats[]>,
  histograms: Record<string, Record<string, number>>,
): { markdown: string; summary: Record<string, unknown> } {
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const rows: string[] = [
    `Admission review latency at ${RATE} dry-run creates/s through kube-apiserver, ${SECONDS} s per phase, ` +
    `${REPS} repetitions (median of the repetitions' percentiles; client-side, ms)`,
    "",
    "| phase | requests | errors | p50 | p90 | p99 | max | p50 − baseline | p99 − baseline |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const summary: Record<string, unknown> = {};
  const base = results.baseline ?? [];
  const baseP50 = median(base.map((s) => s.p50));
  const baseP99 = median(base.map((s) => s.p99));
  for (const [label, list] of Object.entries(results)) {
    const p50 = median(list.map((s) => s.p50));
    const p90 = median(list.map((s) => s.p90));
    const p99 = median(list.map((s) => s.p99));
    const max = Math.max(...list.map((s) => s.max));
    const count = list.reduce((a, s) => a + s.count, 0);
    const errors = list.reduce((a, s) => a + s.errors, 0);
    summary[label] = { p50, p90, p99, max, count, errors };
    const extra = label === "baseline" || label.endsWith("(direct)")
      ? ["", ""]
      : [ms(p50 - baseP50), ms(p99 - baseP99)];
    rows.push(
      `| ${label} | ${count} | ${errors} | ${ms(p50)} | ${ms(p90)} | ${ms(p99)} | ${ms(max)} | ${
        extra.join(" | ")
      } |`,
    );
  }
  const ratio = (a: string, b: string) => {
    const x = summary[a] as { p99: number } | undefined;
    const y = summary[b] as { p99: number } | undefined;
    return x && y ? x.p99 / y.p99 : undefined;
  };
  const through = ratio("deno", "kopf");
  const direct = ratio("deno (direct)", "kopf (direct)");
  if (through !== undefined) {
    rows.push("", `p99 ours / Kopf's through the API server: ${through.toFixed(2)} (goal ≤ 0.33)`);
    summary.ratioP99 = through;
  }
  if (direct !== undefined) {
    rows.push(`p99 ours / Kopf's, direct to the webhook servers: ${direct.toFixed(2)}`);
    summary.ratioP99Direct = direct;
  }
  rows.push(
    "",
    "The API server's own timing of the webhook calls (allowed creates, all repetitions, warm-up included): share of calls within",
    "",
    "| webhook | ≤ 5 ms | ≤ 25 ms | ≤ 100 ms | ≤ 500 ms | ≤ 1 s |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const [name, shares] of Object.entries(histograms)) {
    const pct = (bound: string) => `${((shares[bound] ?? NaN) * 100).toFixed(1)} %`;
    rows.push(
      `| ${name.split(".")[1]} | ${["0.005", "0.025", "0.1", "0.5", "1"].map(pct).join(" | ")} |`,
    );
  }
  return { markdown: rows.join("\n"), summary };
}

function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : "–";
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function firstExisting(paths: readonly string[]): Promise<string | undefined> {
  for (const path of paths) {
    try {
      await Deno.stat(path);
      return path;
    } catch {
      // next
    }
  }
  return undefined;
}

async function until(
  probe: () => Promise<boolean> | boolean,
  what: string,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

if (import.meta.main) Deno.exit(await main());
