// Crash safety on a real API server: 200 objects with 3 handlers each; the operator process is
// killed with SIGKILL 5 times at random moments and restarted; every object ends fully handled
// and no handler runs again once its success was recorded on the object.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";

const OBJECTS = 200;
const KILLS = 5;
const operatorScript = new URL("../_fixtures/handlers/crash_operator.ts", import.meta.url).pathname;

function start(env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", operatorScript],
    env,
    stdout: "null",
    stderr: Deno.env.get("KOPF_TEST_DEBUG") ? "inherit" : "null",
  }).spawn();
}

Deno.test({
  name:
    "crash safety: 200 objects × 3 handlers survive 5 SIGKILLs; no handler runs after its success",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("crash");
    const { transport, resource, namespace } = w;
    const invocations = await Deno.makeTempFile({ prefix: "kopf-invocations-" });
    const env = {
      ...Deno.env.toObject(),
      KUBECONFIG: w.kubeconfigPath,
      KOPF_TEST_INVOCATIONS: invocations,
      KOPF_TEST_NAMESPACE: namespace,
      NO_COLOR: "1",
    };
    try {
      for (let i = 0; i < OBJECTS; i += 50) {
        await Promise.all(
          Array.from(
            { length: Math.min(50, OBJECTS - i) },
            (_, k) =>
              api.createObject(transport, resource, {
                metadata: { name: `obj-${i + k}` },
                spec: { n: i + k },
              }, { namespace }),
          ),
        );
      }
      const lines = async () => (await Deno.readTextFile(invocations)).split("\n").filter(Boolean);
      for (let kill = 0; kill < KILLS; kill++) {
        const before = (await lines()).length;
        const child = start(env);
        // Kill at a random moment: after 1..400 more invocations, or after 0.2..1.7 s if the
        // operator finishes sooner (then it is killed while idle, which must be safe too).
        const target = before + 1 + Math.floor(Math.random() * 400);
        const latest = Date.now() + 200 + Math.random() * 1500;
        await crdFixtures.eventually(
          async () => (await lines()).length >= target || Date.now() >= latest || undefined,
          `invocation #${target}`,
          60_000,
        );
        child.kill("SIGKILL");
        await child.status;
        if (Deno.env.get("KOPF_TEST_DEBUG_PROGRESS")) {
          console.error(`killed #${kill + 1} at ${(await lines()).length} invocations`);
        }
      }
      const ready = `${invocations}.ready`;
      const last = start({ ...env, KOPF_TEST_READY: ready });
      try {
        // SIGTERM before the process serves would hit it while it still starts up.
        await crdFixtures.eventually(
          () => Deno.stat(ready).then(() => true),
          "the last operator to serve",
          60_000,
        );
        await crdFixtures.eventually(
          async () => {
            const { items } = await api.listObjects(transport, resource, { namespace });
            const done = items.filter((o) => {
              const annotations = o.metadata?.annotations ?? {};
              return annotations["kopf.zalando.org/last-handled-configuration"] !== undefined &&
                ["first", "second", "third"].every((id) =>
                  annotations[`kopf.zalando.org/${id}`] === undefined
                );
            });
            return done.length === OBJECTS || undefined;
          },
          "every object fully handled",
          120_000,
        );
      } finally {
        last.kill("SIGTERM");
        const status = await last.status;
        equal(status.code, 0, "a SIGTERM stops the operator gracefully");
      }
      const all = await lines();
      const repeated = all.filter((l) => l.endsWith(" true"));
      deepEqual(repeated, [], "handlers invoked although their success was already recorded");
      const perHandler = new Map<string, number>();
      for (const line of all) {
        const [name, id] = line.split(" ");
        perHandler.set(`${name} ${id}`, (perHandler.get(`${name} ${id}`) ?? 0) + 1);
      }
      equal(perHandler.size, OBJECTS * 3, "every handler of every object ran");
      const reruns = [...perHandler.values()].filter((n) => n > 1).length;
      ok(all.length >= OBJECTS * 3);
      console.log(
        `crash test: ${all.length} invocations for ${
          OBJECTS * 3
        } handlers; ${reruns} handlers re-ran after a kill before their success was recorded`,
      );
    } finally {
      await Deno.remove(invocations).catch(() => {});
      await Deno.remove(`${invocations}.ready`).catch(() => {});
    }
  },
});
