// A watch connection that goes silent without being closed (a frozen NAT entry, a stuck proxy:
// no RST, no FIN) on the real control plane: the operator talks to kube-apiserver through a TCP
// proxy that stops forwarding; the watch is abandoned after the inactivity timeout, the liveness
// endpoint says so while it lasts, and once the network heals the object created meanwhile is
// handled and the liveness is healthy again.

import { equal, match, ok } from "node:assert/strict";
import { parse, stringify } from "yaml";
import * as api from "../../lib/k8s/api.ts";
import * as proxies from "../../bench/chaos/proxy.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as peers from "../_fixtures/peers.ts";

const HANDLERS = new URL("../_fixtures/handlers/silent_watch_operator.ts", import.meta.url)
  .pathname;
const INACTIVITY_SECONDS = 5;
const WATCHER = "kopfexamples.v1.kopf.dev";

Deno.test({
  name:
    "a frozen watch connection: abandoned after the inactivity timeout, reported by the liveness endpoint while it lasts, nothing missed once the network heals",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("silent");
    // The operator's kubeconfig names the proxy; the test's own requests go straight.
    const config = parse(await Deno.readTextFile(w.kubeconfigPath)) as {
      clusters: { cluster: { server: string } }[];
    };
    const target = new URL(config.clusters[0]!.cluster.server);
    await using proxy = new proxies.Proxy({ hostname: target.hostname, port: Number(target.port) });
    config.clusters[0]!.cluster.server = `https://127.0.0.1:${proxy.port}`;
    const kubeconfigPath = await Deno.makeTempFile({ suffix: ".yaml" });
    await Deno.writeTextFile(kubeconfigPath, stringify(config));
    const invocations = await Deno.makeTempFile();
    const op = peers.startOurs({
      kubeconfigPath,
      namespace: w.namespace,
      invocations,
      ident: "silent",
      args: ["--standalone"],
      env: { KOPF_TEST_INACTIVITY: String(INACTIVITY_SECONDS) },
      handlers: HANDLERS,
    });
    const handled = async (name: string) => {
      const body = await api.getObject(w.transport, w.resource, name, { namespace: w.namespace });
      return (body as { status?: { seen?: unknown } }).status?.seen !== undefined || undefined;
    };
    // A busy object: a change every 500 ms keeps a healthy watch from being silent for long.
    const ticking = new AbortController();
    const ticker = (async () => {
      for (let i = 0; !ticking.signal.aborted; i++) {
        await api.patchObject(w.transport, w.resource, "ticker", { spec: { tick: i } }, {
          namespace: w.namespace,
        }).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    try {
      await api.createObject(w.transport, w.resource, { metadata: { name: "ticker" }, spec: {} }, {
        namespace: w.namespace,
      });
      await api.createObject(w.transport, w.resource, { metadata: { name: "before" }, spec: {} }, {
        namespace: w.namespace,
      });
      await crdFixtures.eventually(() => handled("before"), "the object before the freeze");
      await crdFixtures.eventually(
        async () => (await op.liveness())?.status === 200 || undefined,
        "a healthy liveness report",
      );

      proxy.freeze();
      const frozenAt = Date.now();
      await api.createObject(w.transport, w.resource, { metadata: { name: "during" }, spec: {} }, {
        namespace: w.namespace,
      });
      const unhealthy = await crdFixtures.eventually(
        async () => {
          const probe = await op.liveness();
          return probe !== undefined && probe.status === 503 ? probe : undefined;
        },
        "the liveness endpoint to report the silent watch",
        (INACTIVITY_SECONDS + 10) * 1000,
      );
      const detectedMs = Date.now() - frozenAt;
      ok(
        detectedMs >= INACTIVITY_SECONDS * 1000 - 500,
        `reported after ${detectedMs} ms, before the inactivity timeout`,
      );
      ok(detectedMs <= (INACTIVITY_SECONDS + 5) * 1000, `reported only after ${detectedMs} ms`);
      const watchers = Object.entries(unhealthy.report.watchers ?? {});
      equal(watchers.length, 1, JSON.stringify(unhealthy.report));
      const [key, watcher] = watchers[0]!;
      ok(key.includes(WATCHER), key);
      equal(watcher.healthy, false);
      match(watcher.lastError ?? "", /No data from the watch of .* for 5 s/);
      equal(await handled("during"), undefined, "nothing passed the frozen proxy");
      // Still frozen a while later: the report stays unhealthy while it lasts.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      equal((await op.liveness())?.status, 503, "unhealthy for as long as the silence lasts");

      proxy.thaw();
      await crdFixtures.eventually(() => handled("during"), "the object created meanwhile");
      await crdFixtures.eventually(
        async () => (await op.liveness())?.status === 200 || undefined,
        "a healthy liveness report again",
      );
      equal(op.log().match(/Handler 'seen' succeeded/g)?.length, 3, op.log());
    } catch (error) {
      throw new Error(`${error}\n${op.log()}`, { cause: error });
    } finally {
      ticking.abort();
      await ticker;
      equal(await op.stop(), 0);
      await Deno.remove(kubeconfigPath).catch(() => {});
      await Deno.remove(invocations).catch(() => {});
    }
  },
});
