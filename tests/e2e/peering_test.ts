// Peering of our operators on the real control plane, each a `kopf run` process of its own:
// priorities 10 and 20 on one namespace (the higher one handles everything; killed with SIGKILL,
// the lower one takes over within the lifetime of its keep-alive), and equal priorities (both
// freeze with one warning each).

import { deepEqual, equal, ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as peers from "../_fixtures/peers.ts";

const OBJECTS = 100;

/** Runs `fn`; on failure, the operators' logs are appended to the error. */
async function explained(
  processes: readonly peers.OperatorProcess[],
  fn: () => Promise<void>,
): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const logs = processes.map((p) => `--- ${p.ident}:\n${p.log().slice(-4000)}`).join("\n");
    throw new Error(`${error instanceof Error ? error.message : error}\n${logs}`, { cause: error });
  }
}

async function state(p: peers.OperatorProcess): Promise<string | undefined> {
  return (await p.peering())?.state;
}

Deno.test({
  name: "peering: of priorities 10 and 20, only 20 handles; killed, 10 takes over within 15 s",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("peering");
    await peers.installPeeringCrds(w.transport);
    await peers.createPeering(w.transport, w.namespace);
    const invocations = await Deno.makeTempFile({ prefix: "kopf-peering-" });
    const common = { kubeconfigPath: w.kubeconfigPath, namespace: w.namespace, invocations };
    const low = peers.startOurs({ ...common, ident: "low", args: ["--priority", "10"] });
    const high = peers.startOurs({ ...common, ident: "high", args: ["--priority", "20"] });
    const create = (name: string) =>
      api.createObject(w.transport, w.resource, { metadata: { name }, spec: {} }, {
        namespace: w.namespace,
      });
    try {
      await explained([low, high], async () => {
        await crdFixtures.eventually(
          async () =>
            await state(high) === "active" &&
            (await low.peering())?.pausedBy?.some((r) => r.includes("high (priority 20)")),
          "the priority-20 operator to be active and the priority-10 one paused for it",
          60_000,
        );
        equal(await state(low), "paused");
        // The lower one pauses as soon as its first listing shows the higher one's entry; its own
        // keep-alive is written alongside, so it may land a moment after the pause.
        const status = await crdFixtures.eventually(
          async () => {
            const entries = await peers.peeringStatus(w.transport, w.namespace);
            return "high" in entries && "low" in entries ? entries : undefined;
          },
          "both operators' entries in the peering object",
          10_000,
        );
        deepEqual(Object.keys(status).sort(), ["high", "low"]);
        equal(status.high?.priority, 20);
        equal(status.high?.lifetime, 15);

        const names = Array.from({ length: OBJECTS }, (_, i) => `o${i}`);
        for (let i = 0; i < OBJECTS; i += 25) await Promise.all(names.slice(i, i + 25).map(create));
        await crdFixtures.eventually(
          async () => (await peers.readInvocations(invocations)).length >= OBJECTS,
          `${OBJECTS} objects to be handled`,
          60_000,
        );
        const first = await peers.readInvocations(invocations);
        deepEqual(first.filter((i) => i.by !== "high"), [], "only the priority-20 one handles");
        deepEqual(first.map((i) => i.name).sort(), [...names].sort(), "each object exactly once");

        // Kill the active one under a steady creation of objects; measure the takeover.
        const steady = (async () => {
          for (let i = 0; i < 40; i++) {
            await create(`s${i}`);
            await new Promise((resolve) => setTimeout(resolve, 250)); // the load's pace
          }
        })();
        await crdFixtures.eventually(
          async () => (await peers.readInvocations(invocations)).some((i) => i.name === "s3"),
          "the steady load to be handled",
        );
        const killedAt = Date.now();
        high.kill("SIGKILL");
        await high.status;
        await crdFixtures.eventually(
          async () => (await peers.readInvocations(invocations)).some((i) => i.by === "low"),
          "the priority-10 operator to take over",
          40_000,
        );
        const takenOver = (await peers.readInvocations(invocations)).find((i) => i.by === "low")!;
        const takeoverSeconds = (takenOver.at - killedAt) / 1000;
        console.error(`peering: takeover ${takeoverSeconds.toFixed(1)} s after SIGKILL`);
        await steady;
        const all = [...names, ...Array.from({ length: 40 }, (_, i) => `s${i}`)];
        await crdFixtures.eventually(
          async () => {
            const handled = new Set((await peers.readInvocations(invocations)).map((i) => i.name));
            return all.every((name) => handled.has(name));
          },
          "every object to be handled after the takeover",
          60_000,
        );
        const everything = await peers.readInvocations(invocations);
        deepEqual(everything.filter((i) => i.recorded), [], "no handler ran after its success");
        equal(new Set(everything.map((i) => i.name)).size, all.length, "0 objects lost");
        ok(takeoverSeconds <= 15 + 2, `took over in ${takeoverSeconds} s (goal: ≤ 15 s)`);
        ok(low.log().includes("Removing dead peers"), "the dead peer was removed by the survivor");
      });
    } finally {
      await Promise.all([low.stop(), high.stop()]);
      await Deno.remove(invocations).catch(() => {});
    }
  },
});

Deno.test({
  name: "peering: equal priorities freeze both with one clear warning each; nothing is handled",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("freeze");
    await peers.installPeeringCrds(w.transport);
    await peers.createPeering(w.transport, w.namespace);
    const invocations = await Deno.makeTempFile({ prefix: "kopf-freeze-" });
    const common = { kubeconfigPath: w.kubeconfigPath, namespace: w.namespace, invocations };
    const a = peers.startOurs({ ...common, ident: "twin-a" });
    const b = peers.startOurs({ ...common, ident: "twin-b" });
    try {
      await explained([a, b], async () => {
        await crdFixtures.eventually(
          async () => await state(a) === "paused" && await state(b) === "paused",
          "both to freeze",
          60_000,
        );
        await api.createObject(w.transport, w.resource, { metadata: { name: "x" }, spec: {} }, {
          namespace: w.namespace,
        });
        // Both stay frozen through a keep-alive round (5..10 s): the object stays unhandled.
        const until = Date.now() + 11_000;
        await crdFixtures.eventually(
          async () =>
            Date.now() > until && await state(a) === "paused" && await state(b) === "paused",
          "a keep-alive round",
          30_000,
        );
        deepEqual(await peers.readInvocations(invocations), []);
        for (const [me, other] of [[a, b], [b, a]] as const) {
          const warnings = me.log().split("\n").filter((l) => l.includes("has the same priority"));
          equal(warnings.length, 1, `${me.ident}: ${warnings.join("\n")}`);
          ok(
            warnings[0]!.includes(`${other.ident} (priority 0)`) &&
              warnings[0]!.includes("--priority"),
          );
        }
      });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await Deno.remove(invocations).catch(() => {});
    }
  },
});
