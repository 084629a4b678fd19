// Peering's bad input on real API servers: the peering CRD missing (a private control plane
// without it: optional peering runs and says so; required peering waits, and resumes once the
// CRDs of examples/peering.yaml are applied) and a peering status malformed by hand (named in
// one line, ignored, nothing crashes).

import { deepEqual, equal, ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as transports from "../../lib/k8s/transport.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as peers from "../_fixtures/peers.ts";

function lines(p: peers.OperatorProcess, text: string): string[] {
  return p.log().split("\n").filter((line) => line.includes(text));
}

Deno.test({
  name: "peering without its CRD: optional runs and says so once; required waits for the CRD",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using plane = await controlPlanes.privateControlPlane();
    using transport = new transports.Transport(
      await kubeconfig.loadKubeconfig({ kubeconfig: plane.kubeconfigPath }),
    );
    const resource = await crdFixtures.installCrd(transport, e2e.KOPF_EXAMPLES);
    const namespace = "no-peering";
    await api.createObject(transport, e2e.namespaces, { metadata: { name: namespace } });
    const invocations = await Deno.makeTempFile({ prefix: "kopf-nocrd-" });
    const common = { kubeconfigPath: plane.kubeconfigPath, namespace, invocations };
    const create = (name: string) =>
      api.createObject(transport, resource, { metadata: { name }, spec: {} }, { namespace });
    const handled = async () => (await peers.readInvocations(invocations)).map((i) => i.name);

    const optional = peers.startOurs({ ...common, ident: "optional" });
    try {
      await create("a");
      await crdFixtures.eventually(async () => (await handled()).includes("a"), "a", 60_000);
      const said = lines(optional, "does not serve KopfPeering");
      equal(said.length, 1, optional.log());
      ok(said[0]!.includes("examples/peering.yaml") && said[0]!.includes("--standalone"));
    } finally {
      equal(await optional.stop(), 0);
    }

    const required = peers.startOurs({ ...common, ident: "required", args: ["-P", "default"] });
    try {
      await create("b");
      await crdFixtures.eventually(
        () => lines(required, "stays paused until the CRD").length > 0,
        "the line about the missing CRD",
        60_000,
      );
      equal((await required.peering())?.state, "paused");
      deepEqual(await handled(), ["a"], "nothing is handled while the required peering is missing");
      await peers.installPeeringCrds(transport);
      await peers.createPeering(transport, namespace);
      await crdFixtures.eventually(async () => (await handled()).includes("b"), "b", 60_000);
      equal(lines(required, "stays paused until the CRD").length, 1, "said once");
    } catch (error) {
      throw new Error(`${error}\n${required.log()}`, { cause: error });
    } finally {
      equal(await required.stop(), 0);
      await Deno.remove(invocations).catch(() => {});
    }
  },
});

Deno.test({
  name: "peering with a status malformed by hand: each entry named in one line, ignored, no crash",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("malformed");
    await peers.installPeeringCrds(w.transport);
    await api.createObject(w.transport, peers.KOPF_PEERINGS, {
      metadata: { name: "default" },
      status: {
        "by-hand": "yes",
        "wrong-types": { priority: "high", lifetime: 60, lastseen: "yesterday" },
      },
    } as api.KubernetesObject, { namespace: w.namespace });
    const invocations = await Deno.makeTempFile({ prefix: "kopf-malformed-" });
    const op = peers.startOurs({
      kubeconfigPath: w.kubeconfigPath,
      namespace: w.namespace,
      invocations,
      ident: "deployed",
    });
    try {
      await api.createObject(w.transport, w.resource, { metadata: { name: "x" }, spec: {} }, {
        namespace: w.namespace,
      });
      await crdFixtures.eventually(
        async () => (await peers.readInvocations(invocations)).some((i) => i.name === "x"),
        "the object to be handled",
        60_000,
      );
      const said = lines(op, "Ignoring the entry");
      equal(said.length, 2, op.log());
      ok(said.some((l) => l.includes('"by-hand"') && l.includes("kubectl patch")));
      ok(said.some((l) => l.includes('"wrong-types"') && l.includes('priority "high"')));
      equal((await op.peering())?.state, "active");
    } finally {
      equal(await op.stop(), 0);
      await Deno.remove(invocations).catch(() => {});
    }
  },
});
