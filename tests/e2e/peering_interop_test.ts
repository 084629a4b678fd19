// Peering with Python Kopf 1.45.2 on the real control plane, both directions: a `--dev` instance
// of one language pauses a deployed instance of the other through the KopfPeering "default" of
// the namespace, only the higher one handles objects meanwhile, and the lower one resumes once
// the higher one has exited (it removes its entry). Every object is handled exactly once.

import { deepEqual, equal, match, ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as peers from "../_fixtures/peers.ts";

/** Objects created while the higher-priority instance runs, and after it is gone. */
const N = 10;
const HANDLING_TIMEOUT_MS = 60_000;
const DIFFBASE = "kopf.zalando.org/last-handled-configuration";
const PROGRESS = "kopf.zalando.org/first";
/** `lastseen` as Kopf writes it: Python's `isoformat()` of a UTC time, with microseconds. */
const LASTSEEN = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/;
/** Python omits the fraction when the microseconds are 0 (once in a million keep-alives). */
const KOPF_LASTSEEN = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$/;

if (controlPlanes.e2eEnabled && !peers.pythonAvailable) {
  console.error("peering interop: python3 with venv is missing: the tests are skipped");
}

function names(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

async function createObjects(w: e2e.World, list: readonly string[]): Promise<void> {
  await Promise.all(
    list.map((name) =>
      api.createObject(w.transport, w.resource, { metadata: { name }, spec: { field: name } }, {
        namespace: w.namespace,
      })
    ),
  );
}

/** Waits until each object is fully handled (result stored, diff-base written) by `by`. */
async function waitHandledBy(w: e2e.World, list: readonly string[], by: string): Promise<void> {
  await crdFixtures.eventually(
    async () => {
      const { items } = await api.listObjects(w.transport, w.resource, { namespace: w.namespace });
      const byName = new Map(items.map((o) => [o.metadata?.name ?? "", o]));
      return list.every((name) => {
        const o = byName.get(name);
        const annotations = o?.metadata?.annotations ?? {};
        const first = (o?.status as { first?: { by?: string } } | undefined)?.first;
        return first?.by === by && annotations[DIFFBASE] !== undefined &&
          annotations[PROGRESS] === undefined;
      }) || undefined;
    },
    `${list.length} objects (${list[0]}…) to be handled by ${by}`,
    HANDLING_TIMEOUT_MS,
  );
}

/** Each object handled exactly once in the whole test, never as a re-run of a recorded one. */
async function checkHandledOnce(invocations: string, all: readonly string[]): Promise<void> {
  const log = await peers.readInvocations(invocations);
  deepEqual(log.filter((i) => i.recorded), [], "no handler ran on an already handled object");
  const counts = new Map<string, number>();
  for (const i of log) counts.set(i.name, (counts.get(i.name) ?? 0) + 1);
  deepEqual(
    [...counts].filter(([, n]) => n !== 1),
    [],
    "no object handled twice",
  );
  deepEqual([...counts.keys()].sort(), [...all].sort(), "every object handled");
}

/** Who handled the objects, by the invocation log. */
async function handlers(invocations: string, list: readonly string[]): Promise<string[]> {
  const log = await peers.readInvocations(invocations);
  return [...new Set(log.filter((i) => list.includes(i.name)).map((i) => i.by))];
}

/** The first invocation for one of `list` at or after `since` (epoch ms). */
async function firstHandlingAfter(
  invocations: string,
  list: readonly string[],
  since: number,
): Promise<number> {
  const log = await peers.readInvocations(invocations);
  const times = log.filter((i) => list.includes(i.name) && i.at >= since).map((i) => i.at);
  ok(times.length > 0, `an invocation for ${list[0]}… after the exit`);
  return Math.min(...times);
}

/** Runs `body`; a failure carries both processes' logs, so that it can be diagnosed. */
async function diagnosed(
  processes: () => (peers.OperatorProcess | undefined)[],
  body: () => Promise<void>,
): Promise<void> {
  try {
    await body();
  } catch (error) {
    const logs = processes().filter((p) => p !== undefined).map((p) =>
      `\n----- ${p.ident} (pid ${p.pid}) -----\n${p.log()}`
    ).join("");
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}${logs}`, { cause: error });
  }
}

async function stopAll(...processes: (peers.OperatorProcess | undefined)[]): Promise<void> {
  await Promise.all(processes.map((p) => p?.stop()));
}

Deno.test({
  name:
    "peering with Python Kopf: our --dev pauses a running Kopf operator, and Kopf resumes after ours exits",
  ignore: !controlPlanes.e2eEnabled || !peers.pythonAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("peering-ours-dev");
    await peers.installPeeringCrds(w.transport);
    await peers.createPeering(w.transport, w.namespace);
    const invocations = await Deno.makeTempFile({ prefix: "kopf-peering-" });
    const common = { kubeconfigPath: w.kubeconfigPath, namespace: w.namespace, invocations };
    const before = names("before", 1);
    const during = names("during", N);
    const gap = names("gap", 1);
    const after = names("after", N);
    let kopf: peers.OperatorProcess | undefined;
    let ours: peers.OperatorProcess | undefined;
    try {
      await diagnosed(() => [kopf, ours], async () => {
        kopf = await peers.startKopf({ ...common, ident: "kopf-deployed" });
        await createObjects(w, before);
        await waitHandledBy(w, before, "kopf-deployed");

        ours = peers.startOurs({ ...common, ident: "deno-dev", args: ["--dev"] });
        await crdFixtures.eventually(
          () => /Pausing operations in favour of .*deno-dev/.test(kopf!.log()) || undefined,
          "Kopf to pause in favour of deno-dev",
        );
        const status = await crdFixtures.eventually(async () => {
          const s = await peers.peeringStatus(w.transport, w.namespace);
          return s["deno-dev"] && s["kopf-deployed"] ? s : undefined;
        }, "both entries in the peering status");
        console.error(`peering status with both: ${JSON.stringify(status)}`);
        const mine = status["deno-dev"]!;
        equal(mine.priority, 666, "our --dev entry has priority 666");
        equal(mine.lifetime, 15, "our entry has our default lifetime");
        match(mine.lastseen ?? "", LASTSEEN, "our lastseen is written as Kopf writes it");
        const theirs = status["kopf-deployed"]!;
        equal(theirs.priority, 0);
        match(theirs.lastseen ?? "", KOPF_LASTSEEN, "Kopf's own lastseen, for comparison");
        // Our entry may be written before our first listing of the peering has been judged.
        await crdFixtures.eventually(
          async () => (await ours!.peering())?.state === "active" || undefined,
          "ours to be active",
        );

        await createObjects(w, during);
        await waitHandledBy(w, during, "deno-dev");
        deepEqual(await handlers(invocations, during), ["deno-dev"], "paused Kopf handled none");

        const stoppingAt = Date.now();
        equal(await ours.stop(), 0, "ours exits with 0 on SIGTERM");
        const exitedAt = Date.now();
        await createObjects(w, gap);
        await crdFixtures.eventually(async () => {
          const s = await peers.peeringStatus(w.transport, w.namespace);
          return s["deno-dev"] === undefined || s["deno-dev"] === null || undefined;
        }, "our entry to be gone from the peering status");
        await crdFixtures.eventually(
          () => kopf!.log().includes("Resuming operations after the pause") || undefined,
          "Kopf to resume",
        );
        const resumedAt = Date.now();
        await createObjects(w, after);
        await waitHandledBy(w, [...gap, ...after], "kopf-deployed");
        const takenOverAt = await firstHandlingAfter(invocations, [...gap, ...after], exitedAt);
        console.error(
          `peering interop: our exit → Kopf's resume seen in ${resumedAt - exitedAt} ms, ` +
            `→ Kopf's first handling in ${takenOverAt - exitedAt} ms ` +
            `(${takenOverAt - stoppingAt} ms after SIGTERM, ${exitedAt - stoppingAt} ms to exit)`,
        );
        deepEqual(await handlers(invocations, [...gap, ...after]), ["kopf-deployed"]);
        await checkHandledOnce(invocations, [...before, ...during, ...gap, ...after]);
      });
    } finally {
      await stopAll(ours, kopf);
      await Deno.remove(invocations).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "peering with Python Kopf: Kopf's --dev pauses our running operator, and ours resumes after Kopf exits",
  ignore: !controlPlanes.e2eEnabled || !peers.pythonAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("peering-kopf-dev");
    await peers.installPeeringCrds(w.transport);
    await peers.createPeering(w.transport, w.namespace);
    const invocations = await Deno.makeTempFile({ prefix: "kopf-peering-" });
    const common = { kubeconfigPath: w.kubeconfigPath, namespace: w.namespace, invocations };
    const before = names("before", 1);
    const during = names("during", N);
    const gap = names("gap", 1);
    const after = names("after", N);
    let kopf: peers.OperatorProcess | undefined;
    let ours: peers.OperatorProcess | undefined;
    try {
      await diagnosed(() => [ours, kopf], async () => {
        ours = peers.startOurs({ ...common, ident: "deno-deployed" });
        await createObjects(w, before);
        await waitHandledBy(w, before, "deno-deployed");
        equal((await ours.peering())?.state, "active", "ours runs");

        kopf = await peers.startKopf({ ...common, ident: "kopf-dev", args: ["--dev"] });
        const paused = await crdFixtures.eventually(async () => {
          const p = await ours!.peering();
          return p?.state === "paused" && p.pausedBy?.some((by) => by.includes("kopf-dev"))
            ? p
            : undefined;
        }, "ours to pause in favour of kopf-dev");
        console.error(`our liveness while paused: ${JSON.stringify(paused)}`);
        deepEqual(paused.pausedBy, ["kopf-dev (priority 666)"], "the liveness names the peer");
        ok(
          /Pausing operations in favour of kopf-dev \(priority 666\)/.test(ours.log()),
          "ours logs whom it pauses for",
        );
        const status = await peers.peeringStatus(w.transport, w.namespace);
        console.error(`peering status with both: ${JSON.stringify(status)}`);
        equal(status["kopf-dev"]?.priority, 666, "Kopf's --dev entry has priority 666");
        equal(status["deno-deployed"]?.priority, 0);
        match(status["deno-deployed"]?.lastseen ?? "", LASTSEEN);

        await createObjects(w, during);
        await waitHandledBy(w, during, "kopf-dev");
        deepEqual(await handlers(invocations, during), ["kopf-dev"], "paused ours handled none");

        const stoppingAt = Date.now();
        const kopfCode = await kopf.stop();
        const exitedAt = Date.now();
        console.error(`peering interop: Kopf exited with ${kopfCode} on SIGTERM`);
        await createObjects(w, gap);
        await crdFixtures.eventually(async () => {
          const s = await peers.peeringStatus(w.transport, w.namespace);
          return s["kopf-dev"] === undefined || s["kopf-dev"] === null || undefined;
        }, "Kopf's entry to be gone from the peering status");
        await crdFixtures.eventually(
          async () => (await ours!.peering())?.state === "active" || undefined,
          "ours to resume",
        );
        const resumedAt = Date.now();
        ok(/Resuming operations: /.test(ours.log()), "ours logs that it resumes");
        await createObjects(w, after);
        await waitHandledBy(w, [...gap, ...after], "deno-deployed");
        const takenOverAt = await firstHandlingAfter(invocations, [...gap, ...after], exitedAt);
        console.error(
          `peering interop: Kopf's exit → our resume seen in ${resumedAt - exitedAt} ms, ` +
            `→ our first handling in ${takenOverAt - exitedAt} ms ` +
            `(${takenOverAt - stoppingAt} ms after SIGTERM, ${exitedAt - stoppingAt} ms to exit)`,
        );
        deepEqual(await handlers(invocations, [...gap, ...after]), ["deno-deployed"]);
        await checkHandledOnce(invocations, [...before, ...during, ...gap, ...after]);
      });
    } finally {
      await stopAll(kopf, ours);
      await Deno.remove(invocations).catch(() => {});
    }
  },
});
