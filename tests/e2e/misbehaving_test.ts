// Handlers that misbehave on a real API server: one throws a string, one returns a value JSON
// cannot hold, one never returns (its timeout interrupts it). Each gives one clear log line
// naming the object and the handler, and the well-behaved object next to them is served.

import { ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as registering from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import { KopfRunner } from "../../testing.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as e2e from "../_fixtures/e2e.ts";

Deno.test({
  name:
    "handlers that throw a non-Error, return an unstorable value, or never return: one clear line each; the rest is served",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("misbehave");
    const registry = new registries.OperatorRegistry();
    const handled: string[] = [];
    const R = "kopfexamples.v1.kopf.dev";
    type Context = { name: string; signal: AbortSignal };
    registering.create(
      R,
      { registry, id: "throws_string", when: ({ name }: Context) => name === "throws" },
      () => {
        throw "the string that was thrown"; // eslint-style: a non-Error on purpose
      },
    );
    registering.create(
      R,
      { registry, id: "circular", when: ({ name }: Context) => name === "circular" },
      () => {
        const loop: Record<string, unknown> = {};
        loop.self = loop;
        return loop;
      },
    );
    registering.create(
      R,
      { registry, id: "hangs", timeout: 1, when: ({ name }: Context) => name === "hangs" },
      ({ signal }: Context) => new Promise((_, reject) => signal.addEventListener("abort", reject)),
    );
    registering.create(
      R,
      { registry, id: "fine", when: ({ name }: Context) => name === "fine" },
      ({ name }: Context) => {
        handled.push(name);
      },
    );
    const runner = new KopfRunner({
      registry,
      namespaces: [w.namespace],
      kubeconfig: w.kubeconfigPath,
    });
    try {
      await runner.start();
      for (const name of ["throws", "circular", "hangs", "fine"]) {
        await api.createObject(w.transport, w.resource, { metadata: { name }, spec: {} }, {
          namespace: w.namespace,
        });
      }
      const lineAbout = (name: string, text: string) =>
        runner.logs.find((l) => l.includes(`[${w.namespace}/${name}]`) && l.includes(text));
      const expected: [string, string][] = [
        ["throws", "the string that was thrown"],
        ["circular", "cannot be stored in status.circular"],
        ["hangs", "timed out"],
      ];
      await runner.waitFor(
        () => handled.includes("fine") && expected.every(([name, text]) => lineAbout(name, text)),
        { timeoutSeconds: 30, what: "the well-behaved object and a line about each other one" },
      ).catch((error) => {
        console.error(runner.logs.join("\n"));
        throw error;
      });
      for (const [name, text] of expected) {
        const line = lineAbout(name, text)!;
        ok(!line.includes("\n"), `one line: ${line}`);
        ok(/Handler '\w+'/.test(line), `names the handler: ${line}`);
      }
    } finally {
      await runner.stop();
    }
  },
});
