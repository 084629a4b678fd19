// The cost of metrics and tracing: our operator handles bursts of objects on a private control
// plane plain, with `--metrics` (scraped every second, as Prometheus would, faster), and with
// OpenTelemetry on (OTEL_DENO=true, spans exported over OTLP/HTTP to a receiver here: every
// trace as JSON, every trace as protobuf, and one trace in ten as JSON: `tracing-sampled`), and
// the operator's CPU per object is compared. Writes bench/results/observability-<date>.{json,md}.
// Usage: deno task bench:observability [--objects N] [--reps N]

import { parseArgs } from "node:util";
import * as api from "../lib/k8s/api.ts";
import * as kubeconfig from "../lib/k8s/kubeconfig.ts";
import * as transports from "../lib/k8s/transport.ts";
import * as cluster from "../tools/control-plane/cluster.ts";
import * as crds from "../tests/_fixtures/crds.ts";
import * as objects from "./driver/objects.ts";
import * as benchPlane from "./driver/plane.ts";
import * as sampling from "./driver/sampling.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { objects: { type: "string", default: "500" }, reps: { type: "string", default: "3" } },
});
const OBJECTS = Number(values.objects);
const REPS = Number(values.reps);
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const HANDLERS = new URL("./operators/deno/handlers.ts", import.meta.url).pathname;
const RESOURCE = benchPlane.BENCH_OBJECTS;
const NAMESPACES = objects.NAMESPACES;

type Variant = "plain" | "metrics" | "tracing" | "tracing-protobuf" | "tracing-sampled";
const VARIANTS: Variant[] = ["plain", "metrics", "tracing", "tracing-protobuf", "tracing-sampled"];
/** What each variant adds to the operator's environment (besides the OTLP endpoint). */
const TRACING_ENV: Partial<Record<Variant, Record<string, string>>> = {
  "tracing": { OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" },
  "tracing-protobuf": { OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" },
  "tracing-sampled": {
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: "0.1",
  },
};

const plane = await cluster.startControlPlane({ controllerManager: false });
using transport = new transports.Transport(
  await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath }),
);
await crds.installCrd(transport, {
  group: "bench.kopf.dev",
  plural: "benchobjects",
  kind: "BenchObject",
});
// Spans are counted in the JSON exports; the protobuf ones are counted in bytes.
let spans = 0;
let protobufBytes = 0;
await using receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (r) => {
  if (r.headers.get("content-type")?.includes("json")) {
    spans += ((await r.text()).match(/"spanId"/g) ?? []).length;
    return Response.json({});
  }
  protobufBytes += (await r.arrayBuffer()).byteLength;
  return new Response(new Uint8Array(), { headers: { "content-type": "application/x-protobuf" } });
});

const results: { variant: Variant; rep: number; cpuSeconds: number; wallSeconds: number }[] = [];
try {
  for (let rep = 1; rep <= REPS; rep++) {
    // Interleaved, so that a slower moment of the machine falls on every variant alike.
    for (const variant of VARIANTS) {
      results.push({ variant, rep, ...await burst(variant, rep) });
      const last = results.at(-1)!;
      console.error(
        `observability: ${variant} #${rep}: ${OBJECTS} objects, CPU ${
          last.cpuSeconds.toFixed(2)
        } s, ` +
          `${last.wallSeconds.toFixed(1)} s`,
      );
    }
  }
} finally {
  await plane.stop();
}

async function burst(variant: Variant, rep: number) {
  const namespace = `obs-${variant}-${rep}`;
  await api.createObject(transport, NAMESPACES, { metadata: { name: namespace } });
  const metricsPort = freePort();
  const args = ["run", "-A", CLI, "run", "-q", "--standalone", "-n", namespace, HANDLERS];
  if (variant === "metrics") args.push("--metrics", `http://127.0.0.1:${metricsPort}/metrics`);
  const env: Record<string, string> = { KUBECONFIG: plane.kubeconfigPath, BENCH_VARIANT: "create" };
  const tracing = TRACING_ENV[variant];
  if (tracing !== undefined) {
    Object.assign(env, tracing, {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.addr.port}`,
    });
  }
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const scraper = variant === "metrics"
    ? setInterval(
      () => fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text()).catch(() => {}),
      1000,
    )
    : undefined;
  try {
    // Serving: the watch is open once a first object is handled.
    await create(namespace, "warmup");
    await crds.eventually(() => handled(namespace, 1), "the operator to serve", 60_000);
    const cpuBefore = sampling.treeCpuSeconds(child.pid) ?? 0;
    const started = Date.now();
    const names = Array.from({ length: OBJECTS }, (_, i) => `o${i}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((name) => create(namespace, name)));
    }
    await crds.eventually(() => handled(namespace, OBJECTS + 1), "the burst", 300_000);
    const wallSeconds = (Date.now() - started) / 1000;
    const cpuSeconds = (sampling.treeCpuSeconds(child.pid) ?? 0) - cpuBefore;
    return { cpuSeconds, wallSeconds };
  } finally {
    if (scraper !== undefined) clearInterval(scraper);
    child.kill("SIGTERM");
    await child.status;
    await api.deleteObject(transport, NAMESPACES, namespace).catch(() => {});
  }
}

function create(namespace: string, name: string) {
  return api.createObject(transport, RESOURCE, { metadata: { name }, spec: {} }, { namespace });
}

async function handled(namespace: string, count: number): Promise<boolean | undefined> {
  const listing = await api.listObjects(transport, RESOURCE, { namespace });
  const done = listing.items.filter((o) =>
    (o as { status?: { message?: string } }).status?.message
  );
  return done.length >= count || undefined;
}

function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const summary = Object.fromEntries(VARIANTS.map((variant) => {
  const cpu = results.filter((r) => r.variant === variant).map((r) => r.cpuSeconds);
  return [variant, { cpuMsPerObjectMedian: (median(cpu) / OBJECTS) * 1000, cpuSeconds: cpu }];
}));
const ratios = Object.fromEntries(
  VARIANTS.filter((v) => v !== "plain").map((v) => [
    v,
    summary[v]!.cpuMsPerObjectMedian / summary.plain!.cpuMsPerObjectMedian,
  ]),
);
const date = new Date().toISOString().slice(0, 10);
const out = new URL(`./results/observability-${date}`, import.meta.url).pathname;
await Deno.writeTextFile(
  `${out}.json`,
  JSON.stringify(
    {
      date,
      objects: OBJECTS,
      reps: REPS,
      loadAverage: Deno.loadavg(),
      spansExported: spans,
      protobufBytes,
      summary,
      ratios,
      results,
    },
    null,
    2,
  ) + "\n",
);
const md = [
  `# The cost of metrics and tracing (${date})`,
  "",
  `Bursts of ${OBJECTS} objects, ${REPS} repetitions interleaved, our operator's CPU (user + system`,
  `of its process) from the first creation until all are handled; medians. Spans exported as JSON:`,
  `${spans}; as protobuf: ${protobufBytes} bytes. Load average at the end: ${
    Deno.loadavg().map((l) => l.toFixed(2)).join(", ")
  }.`,
  "",
  "| variant | CPU per object, ms (median) | ratio to plain | CPU per run, s |",
  "| --- | ---: | ---: | --- |",
  ...VARIANTS.map((v) =>
    `| ${v} | ${summary[v]!.cpuMsPerObjectMedian.toFixed(3)} | ${
      v === "plain" ? "1.00" : ratios[v]!.toFixed(2)
    } | ${summary[v]!.cpuSeconds.map((c) => c.toFixed(2)).join(", ")} |`
  ),
  "",
].join("\n");
await Deno.writeTextFile(`${out}.md`, md);
console.log(md);
