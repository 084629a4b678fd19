// Daemons and timers of `kopf run` processes on the real control plane: SIGTERM stops them
// ("operator exiting") within the exit timeout and the process exits 0; a new process resumes
// them for the objects that are still there, and deleting the objects then stops them for good.

import { deepEqual, equal, ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as errors from "../../lib/k8s/errors.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as peers from "../_fixtures/peers.ts";

const HANDLERS = new URL("../_fixtures/handlers/daemon_operator.ts", import.meta.url).pathname;
const EXIT_TIMEOUT_SECONDS = 5;

interface Line {
  by: string;
  at: number;
  event: "start" | "stop" | "tick";
  name: string;
  reason?: string;
}

async function lines(path: string): Promise<Line[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as Line);
}

Deno.test({
  name: "e2e: SIGTERM stops the daemons within the exit timeout; a restart resumes them",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using world = await e2e.world("daemons-sigterm");
    const invocations = await Deno.makeTempFile({ suffix: ".jsonl" });
    const start = (ident: string) =>
      peers.startOurs({
        kubeconfigPath: world.kubeconfigPath,
        namespace: world.namespace,
        invocations,
        ident,
        handlers: HANDLERS,
        args: ["--standalone"],
        env: { KOPF_TEST_EXIT_TIMEOUT: String(EXIT_TIMEOUT_SECONDS) },
      });
    const names = ["p1", "p2", "p3"];
    const of = async (by: string, event: Line["event"]) =>
      (await lines(invocations)).filter((l) => l.by === by && l.event === event);
    const first = start("first");
    let second: peers.OperatorProcess | undefined;
    try {
      for (const name of names) {
        await api.createObject(world.transport, world.resource, { metadata: { name } }, {
          namespace: world.namespace,
        });
      }
      await crdFixtures.eventually(
        async () =>
          (await of("first", "start")).length === 3 &&
          (await of("first", "tick")).length >= 6,
        "3 daemons to start and the timers to tick",
      );
      const signalled = Date.now();
      first.kill("SIGTERM");
      const code = (await first.status).code;
      const exited = Date.now() - signalled;
      equal(code, 0, first.log());
      const stops = await of("first", "stop");
      deepEqual(stops.map((l) => l.reason), [
        "operator exiting",
        "operator exiting",
        "operator exiting",
      ]);
      const stopTimes = stops.map((l) => l.at - signalled);
      const lastTick = Math.max(...(await of("first", "tick")).map((l) => l.at)) - signalled;
      console.log(
        `SIGTERM: daemons stopped after ${stopTimes.join(", ")} ms; last tick at ${lastTick} ms; ` +
          `the process exited after ${exited} ms (exit timeout ${EXIT_TIMEOUT_SECONDS} s)`,
      );
      ok(stopTimes.every((ms) => ms < EXIT_TIMEOUT_SECONDS * 1000), `stops at ${stopTimes}`);
      ok(exited < EXIT_TIMEOUT_SECONDS * 1000 + 3000, `exited after ${exited} ms`);
      ok(lastTick < 1000, "no tick after the stop");

      const restarted = Date.now();
      second = start("second");
      await crdFixtures.eventually(
        async () =>
          (await of("second", "start")).length === 3 &&
          (await of("second", "tick")).length >= 3,
        "the daemons and timers to resume in the new process",
      );
      const resumed = (await of("second", "start")).map((l) => l.at - restarted);
      console.log(`restart: daemons resumed ${resumed.join(", ")} ms after the process started`);
      deepEqual((await of("second", "start")).map((l) => l.name).sort(), names);

      for (const name of names) {
        await api.deleteObject(world.transport, world.resource, name, {
          namespace: world.namespace,
        });
      }
      await crdFixtures.eventually(async () => {
        const { items } = await api.listObjects(world.transport, world.resource, {
          namespace: world.namespace,
        });
        return items.length === 0;
      }, "the objects to be gone (finalizers released)");
      const stopped = await of("second", "stop");
      deepEqual(stopped.map((l) => l.reason), ["deleted", "deleted", "deleted"]);
      equal(await second.stop(), 0);
      second = undefined;
    } finally {
      first.kill("SIGKILL");
      second?.kill("SIGKILL");
      await first.status;
      await second?.status;
      // Objects left behind keep the finalizer: drop it so the namespace can go.
      for (const name of names) {
        await api.patchObject(world.transport, world.resource, name, {
          metadata: { finalizers: null },
        }, { namespace: world.namespace, type: "merge" }).catch((error) => {
          if (!(error instanceof errors.ApiNotFoundError)) throw error;
        });
      }
      await Deno.remove(invocations).catch(() => {});
    }
  },
});
