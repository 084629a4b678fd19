// Interoperability with Python Kopf 1.45.2 (from the package index, in a venv that
// tools/kopf/venv.sh makes): a team can switch a live operator from Kopf to ours and back.
// Objects fully handled by one are not handled again by the other; a handler that one left
// waiting for a retry is continued by the other with its retry count, after its delay; a
// deletion blocked by the first one's finalizer is handled and released by the second.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as handlingErrors from "../../lib/handling/errors.ts";
import * as states from "../../lib/handling/states.ts";
import * as registering from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as operators from "../_fixtures/operators.ts";
import * as peers from "../_fixtures/peers.ts";

const KOPF_HANDLERS = new URL("../_fixtures/handlers/interop_kopf.py", import.meta.url).pathname;
/** Long enough that the first operator is surely stopped before it would retry itself. */
const FLAKY_DELAY_SECONDS = 8;
const DONE = ["done-0", "done-1"];
const WAITING = ["waiting-0", "waiting-1"];
const PREFIX = "kopf.zalando.org";

/** Python 3 with venv runs Kopf; without it, these tests are skipped with a notice. */
const pythonAvailable = peers.pythonAvailable;
if (controlPlanes.e2eEnabled && !pythonAvailable) {
  console.error("interop: python3 with venv is missing: the tests with Python Kopf are skipped");
}

interface Invocation {
  by: "kopf" | "deno";
  handler: string;
  name: string;
  retry: number;
  at?: number;
}

/** Python Kopf as a child process; its log is printed when the test fails. */
async function startKopf(
  w: e2e.World,
  invocations: string,
  flakyDelaySeconds?: number,
): Promise<{ stop(): Promise<void>; log(): string }> {
  const child = new Deno.Command(await peers.kopfExecutable(), {
    args: ["run", "--standalone", "-n", w.namespace, KOPF_HANDLERS],
    env: {
      ...Deno.env.toObject(),
      KUBECONFIG: w.kubeconfigPath,
      KOPF_TEST_INVOCATIONS: invocations,
      KOPF_TEST_FLAKY_DELAY: String(flakyDelaySeconds ?? ""),
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const collect = (stream: ReadableStream<Uint8Array>) =>
    stream.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (text += chunk) }),
    );
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  return {
    log: () => text,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await child.status;
      clearTimeout(timer);
      await collected;
    },
  };
}

/** Our side: the same ids; `flaky` fails its first attempt on waiting-* when a delay is given. */
function denoRegistry(record: (i: Invocation) => void, flakyDelaySeconds?: number) {
  const registry = new registries.OperatorRegistry();
  const resource = "kopfexamples.v1.kopf.dev";
  type Context = { name: string; retry: number };
  registering.create(resource, { registry, id: "first" }, ({ name, retry }: Context) => {
    record({ by: "deno", handler: "first", name, retry, at: Date.now() });
    return { by: "deno" };
  });
  registering.create(resource, { registry, id: "flaky" }, ({ name, retry }: Context) => {
    record({ by: "deno", handler: "flaky", name, retry, at: Date.now() });
    if (flakyDelaySeconds && retry === 0 && name.startsWith("waiting-")) {
      throw new handlingErrors.TemporaryError("not yet", { delay: flakyDelaySeconds });
    }
  });
  registering.on.delete(resource, { registry, id: "farewell" }, ({ name, retry }: Context) => {
    record({ by: "deno", handler: "farewell", name, retry, at: Date.now() });
  });
  return registry;
}

async function readInvocations(path: string): Promise<Invocation[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Invocation);
}

function annotations(o: api.KubernetesObject): Record<string, string> {
  return o.metadata?.annotations ?? {};
}

/** Waits until the first operator has left exactly the state a switch must continue from. */
async function waitForHandover(w: e2e.World): Promise<Map<string, api.KubernetesObject>> {
  return await crdFixtures.eventually(
    async () => {
      const { items } = await api.listObjects(w.transport, w.resource, { namespace: w.namespace });
      const byName = new Map(items.map((o) => [o.metadata?.name ?? "", o]));
      const done = DONE.every((n) => {
        const a = annotations(byName.get(n) ?? {});
        return a[`${PREFIX}/last-handled-configuration`] !== undefined &&
          a[`${PREFIX}/first`] === undefined && a[`${PREFIX}/flaky`] === undefined;
      });
      const waiting = WAITING.every((n) => {
        const record = annotations(byName.get(n) ?? {})[`${PREFIX}/flaky`];
        return record !== undefined && (JSON.parse(record) as { retries?: number }).retries === 1;
      });
      return done && waiting ? byName : undefined;
    },
    "the first operator to finish done-* and leave waiting-* for a retry",
    60_000,
  );
}

async function createObjects(w: e2e.World): Promise<void> {
  await Promise.all(
    [...DONE, ...WAITING].map((name) =>
      api.createObject(w.transport, w.resource, { metadata: { name }, spec: { field: name } }, {
        namespace: w.namespace,
      })
    ),
  );
}

async function deleteAndWaitGone(w: e2e.World, name: string): Promise<void> {
  await api.deleteObject(w.transport, w.resource, name, { namespace: w.namespace });
  await crdFixtures.eventually(
    async () => {
      const { items } = await api.listObjects(w.transport, w.resource, { namespace: w.namespace });
      return items.every((o) => o.metadata?.name !== name) || undefined;
    },
    `${name} to be released and gone`,
    60_000,
  );
}

/** When Kopf's or our progress record says the retry is due (epoch ms). */
function delayedUntil(o: api.KubernetesObject): number {
  const record = JSON.parse(annotations(o)[`${PREFIX}/flaky`] ?? "{}") as { delayed?: string };
  const at = states.parseTime(record.delayed);
  ok(at, `the waiting handler's record has its retry time: ${record.delayed}`);
  return at;
}

Deno.test({
  name:
    "interop: Kopf 1.45.2 → ours: handled objects stay handled; a retry goes on with its count; Kopf's finalizer is released",
  ignore: !controlPlanes.e2eEnabled || !pythonAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("interop-kopf-first");
    const invocations = await Deno.makeTempFile({ prefix: "kopf-interop-" });
    await createObjects(w);
    const kopf = await startKopf(w, invocations, FLAKY_DELAY_SECONDS);
    let handover: Map<string, api.KubernetesObject>;
    try {
      handover = await waitForHandover(w);
    } catch (error) {
      await kopf.stop();
      console.error(kopf.log());
      throw error;
    }
    await kopf.stop();
    const byKopf = await readInvocations(invocations);
    equal(byKopf.filter((i) => i.retry > 0).length, 0, "Kopf stopped before its own retry");

    const ours: Invocation[] = [];
    const op = await operators.startOperator({
      kubeconfigPath: w.kubeconfigPath,
      registry: denoRegistry((i) => ours.push(i)),
      namespace: w.namespace,
    });
    try {
      await op.until(
        () => WAITING.every((n) => ours.some((i) => i.handler === "flaky" && i.name === n)),
        "ours to continue the waiting handlers",
        60_000,
      );
      await deleteAndWaitGone(w, "done-0");
      deepEqual(
        ours.map(({ handler, name, retry }) => ({ handler, name, retry })).sort((a, b) =>
          `${a.handler} ${a.name}`.localeCompare(`${b.handler} ${b.name}`)
        ),
        [
          { handler: "farewell", name: "done-0", retry: 0 },
          { handler: "flaky", name: "waiting-0", retry: 1 },
          { handler: "flaky", name: "waiting-1", retry: 1 },
        ],
        "ours ran only what Kopf had left: no handler that Kopf finished ran again",
      );
      for (const name of WAITING) {
        const at = ours.find((i) => i.name === name)?.at ?? 0;
        ok(at >= delayedUntil(handover.get(name)!) - 1000, `${name} waited for Kopf's delay`);
      }
      const { items } = await api.listObjects(w.transport, w.resource, { namespace: w.namespace });
      for (const o of items) {
        equal(annotations(o)[`${PREFIX}/flaky`], undefined, `${o.metadata?.name} is done`);
        deepEqual((o.status as Record<string, unknown>)?.first, { by: "kopf" });
      }
    } finally {
      await op.stop();
      await Deno.remove(invocations).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "interop: ours → Kopf 1.45.2: handled objects stay handled; a retry goes on with its count; our finalizer is released",
  ignore: !controlPlanes.e2eEnabled || !pythonAvailable,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("interop-ours-first");
    const invocations = await Deno.makeTempFile({ prefix: "kopf-interop-" });
    await createObjects(w);
    const ours: Invocation[] = [];
    const op = await operators.startOperator({
      kubeconfigPath: w.kubeconfigPath,
      registry: denoRegistry((i) => ours.push(i), FLAKY_DELAY_SECONDS),
      namespace: w.namespace,
    });
    let handover: Map<string, api.KubernetesObject>;
    try {
      handover = await waitForHandover(w);
    } finally {
      await op.stop();
    }
    equal(ours.filter((i) => i.retry > 0).length, 0, "ours stopped before its own retry");

    const kopf = await startKopf(w, invocations);
    try {
      await crdFixtures.eventually(
        async () => {
          const byKopf = await readInvocations(invocations);
          return WAITING.every((n) => byKopf.some((i) => i.handler === "flaky" && i.name === n)) ||
            undefined;
        },
        "Kopf to continue the waiting handlers",
        60_000,
      );
      const continuedAt = Date.now();
      await deleteAndWaitGone(w, "done-0");
      const byKopf = await readInvocations(invocations);
      deepEqual(
        byKopf.map(({ handler, name, retry }) => ({ handler, name, retry })).sort((a, b) =>
          `${a.handler} ${a.name}`.localeCompare(`${b.handler} ${b.name}`)
        ),
        [
          { handler: "farewell", name: "done-0", retry: 0 },
          { handler: "flaky", name: "waiting-0", retry: 1 },
          { handler: "flaky", name: "waiting-1", retry: 1 },
        ],
        "Kopf ran only what ours had left: no handler that ours finished ran again",
      );
      for (const name of WAITING) {
        ok(continuedAt >= delayedUntil(handover.get(name)!) - 1000, `${name} waited for the delay`);
      }
      const { items } = await api.listObjects(w.transport, w.resource, { namespace: w.namespace });
      for (const o of items) {
        equal(annotations(o)[`${PREFIX}/flaky`], undefined, `${o.metadata?.name} is done`);
        deepEqual((o.status as Record<string, unknown>)?.first, { by: "deno" });
      }
    } catch (error) {
      await kopf.stop();
      console.error(kopf.log());
      throw error;
    }
    await kopf.stop();
    await Deno.remove(invocations).catch(() => {});
  },
});
