// Benchmark (not a test): how fast watch streams are decoded, against the ceiling of plain
// JSON.parse over the same lines. Method: N MODIFIED events of ~2 KiB objects (2,000 distinct
// objects, each changing in turn, resourceVersions rising) are encoded once
// into 64 KiB byte chunks (as a socket delivers them); each variant runs R rounds after a
// warm-up, and the best round counts (least disturbed by GC and the other core's load).
//   ceiling  JSON.parse of the pre-split line strings (no framing, no UTF-8 decoding)
//   lines    our lines() framing over the byte chunks + JSON.parse
//   batches  the watcher as the reactor consumes it: watchBatches() over a stream of those
//            chunks (state machine, RV bookkeeping, typed events), fed by a transport stub
//   watcher  the same, one event per await: watch()
//   pipeline the whole serving path with a no-op `on.event` handler: watcher, per-object
//            queues (1,000 workers), processing, the handler; events of a busy object
//            coalesce (latest wins), so it ends when every object's last event was handled
// Usage: deno task bench:watch [--events 20000] [--rounds 7] [--json]

import { parseArgs } from "node:util";
import * as linesModule from "../lib/k8s/lines.ts";
import * as watching from "../lib/k8s/watching.ts";
import * as transports from "../lib/k8s/transport.ts";
import * as connections from "../lib/k8s/connections.ts";
import type * as references from "../lib/structs/references.ts";
import * as clocks from "../lib/async/clock.ts";
import * as serving from "../lib/reactor/serving.ts";
import * as registering from "../lib/registry/registering.ts";
import * as registries from "../lib/registry/registries.ts";
import * as operatorSettings from "../lib/settings/operator.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    events: { type: "string", default: "20000" },
    rounds: { type: "string", default: "7" },
    json: { type: "boolean", default: false },
  },
});
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
const CHUNK = 64 * 1024;

const OBJECTS = 2000;
const uids = Array.from({ length: OBJECTS }, () => crypto.randomUUID());

function object(i: number): Record<string, unknown> {
  const o = i % OBJECTS;
  return {
    apiVersion: "kopf.dev/v1",
    kind: "KopfExample",
    metadata: {
      name: `example-${o}`,
      namespace: "default",
      uid: uids[o],
      resourceVersion: String(1000 + i),
      generation: 1,
      creationTimestamp: "2026-11-25T12:00:00Z",
      labels: { app: "bench", tier: `t${i % 7}` },
      annotations: {
        "kopf.zalando.org/last-handled-configuration": JSON.stringify({ spec: { i } }),
      },
      finalizers: ["kopf.zalando.org/KopfFinalizerMarker"],
    },
    spec: {
      field: "x".repeat(1330),
      items: Array.from({ length: 20 }, (_, k) => `item-${k}`),
      index: i,
    },
    status: { phase: "Ready", message: "ok" },
  };
}

const lineStrings = Array.from(
  { length: EVENTS },
  (_, i) => JSON.stringify({ type: "MODIFIED", object: object(i) }),
);
const bytes = new TextEncoder().encode(lineStrings.join("\n") + "\n");
const chunks: Uint8Array[] = [];
for (let offset = 0; offset < bytes.length; offset += CHUNK) {
  chunks.push(bytes.slice(offset, offset + CHUNK));
}
const averageBytes = Math.round(bytes.length / EVENTS);

async function* source(): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

function streamOf(): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk) controller.enqueue(chunk);
      else controller.close();
    },
  });
}

/** A transport whose watch stream is the prepared chunks, once; then it stops the watcher. */
class StubTransport extends transports.Transport {
  used = false;
  constructor(readonly stop: AbortController) {
    super({
      server: "http://stub",
      caCerts: [],
      insecureSkipTlsVerify: false,
      namespace: "default",
      source: "bench",
      authenticator: connections.anonymous,
    });
  }
  override stream(): Promise<ReadableStream<Uint8Array>> {
    if (this.used) {
      this.stop.abort();
      return Promise.reject(new DOMException("stopped", "AbortError"));
    }
    this.used = true;
    return Promise.resolve(streamOf());
  }
  override request<T>(): Promise<T> {
    return Promise.resolve({ metadata: { resourceVersion: "1" }, items: [] } as T);
  }
}

const resource: references.Resource = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfexamples",
  namespaced: true,
};

const variants: Record<string, () => Promise<number>> = {
  ceiling: () => {
    let n = 0;
    for (const line of lineStrings) if ((JSON.parse(line) as { type: string }).type) n++;
    return Promise.resolve(n);
  },
  lines: async () => {
    let n = 0;
    for await (const line of linesModule.lines(source())) {
      if ((JSON.parse(line) as { type: string }).type) n++;
    }
    return n;
  },
  batches: async () => {
    const stop = new AbortController();
    const transport = new StubTransport(stop);
    let n = 0;
    for await (const batch of watching.watchBatches(transport, resource, { signal: stop.signal })) {
      for (const event of batch) if (event.type === "MODIFIED") n++;
      if (n === EVENTS) break;
    }
    return n;
  },
  watcher: async () => {
    const stop = new AbortController();
    const transport = new StubTransport(stop);
    let n = 0;
    for await (const event of watching.watch(transport, resource, { signal: stop.signal })) {
      if (event.type === "MODIFIED") n++;
      if (n === EVENTS) break;
    }
    return n;
  },
};

/** The resourceVersion of each object's last event: the pipeline is done when all are handled. */
const finalVersions = new Set(
  Array.from({ length: Math.min(OBJECTS, EVENTS) }, (_, o) => {
    const last = EVENTS - 1 - ((EVENTS - 1 - o) % OBJECTS);
    return String(1000 + last);
  }),
);

variants.pipeline = async () => {
  const stop = new AbortController();
  const transport = new StubTransport(stop);
  const registry = new registries.OperatorRegistry();
  let handled = 0;
  registering.event("kopfexamples.v1.kopf.dev", { registry }, function noop() {
    handled++;
  });
  let remaining = finalVersions.size;
  const done = Promise.withResolvers<void>();
  const running = serving.serve({
    transport,
    resource,
    namespace: undefined,
    registry,
    settings: operatorSettings.defaultSettings(),
    clock: clocks.realClock,
    signal: stop.signal,
    handlerSignal: new AbortController().signal,
    health: watching.newHealth(clocks.realClock),
    onProcessed: ({ event }) => {
      if (finalVersions.has(event.object.metadata?.resourceVersion ?? "") && --remaining === 0) {
        done.resolve();
      }
    },
  });
  await done.promise;
  stop.abort();
  await running;
  if (handled < finalVersions.size) throw new Error(`the handler ran ${handled} times only`);
  return EVENTS;
};

const results: Record<string, { eventsPerSecond: number; mbPerSecond: number }> = {};
for (const [name, run] of Object.entries(variants)) {
  await run(); // warm-up: JIT and caches
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const start = performance.now();
    const n = await run();
    const ms = performance.now() - start;
    if (n !== EVENTS) throw new Error(`${name} decoded ${n} of ${EVENTS} events`);
    best = Math.min(best, ms);
  }
  results[name] = {
    eventsPerSecond: Math.round(EVENTS / (best / 1000)),
    mbPerSecond: Math.round((bytes.length / 1e6) / (best / 1000)),
  };
}

const ceiling = results.ceiling!.eventsPerSecond;
const report = {
  benchmark: "watch_decoding",
  deno: Deno.version.deno,
  events: EVENTS,
  averageEventBytes: averageBytes,
  rounds: ROUNDS,
  results: Object.fromEntries(
    Object.entries(results).map((
      [k, v],
    ) => [k, { ...v, ratioToJsonParse: +(v.eventsPerSecond / ceiling).toFixed(3) }]),
  ),
};
if (values.json) {
  console.log(JSON.stringify(report, null, 2));
} else {
  console.log(
    `watch decoding: ${EVENTS} events of ~${averageBytes} B, best of ${ROUNDS} rounds, Deno ${Deno.version.deno}`,
  );
  console.log("variant   events/s   MB/s   ratio to JSON.parse");
  for (const [name, r] of Object.entries(report.results)) {
    console.log(
      `${name.padEnd(8)} ${String(r.eventsPerSecond).padStart(9)} ${
        String(r.mbPerSecond).padStart(6)
      }   ${r.ratioToJsonParse.toFixed(3)}`,
    );
  }
}
