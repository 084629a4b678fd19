// Prometheus metrics end to end: `kopf run --metrics` on the real control plane; after 10 objects
// with a handler that fails once and then succeeds, /metrics has the exact counters, and a
// Prometheus text-format parser reads all of it.

import { deepEqual, equal, ok } from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import * as api from "../../lib/k8s/api.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as peers from "../_fixtures/peers.ts";

const HANDLERS = new URL("../_fixtures/handlers/flaky_operator.ts", import.meta.url).pathname;

interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string> }[];
}

Deno.test({
  name: "metrics: 10 objects, a handler failing once: exact handler counters, parsed as Prometheus",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("metrics");
    const port = peers.freePort();
    const invocations = await Deno.makeTempFile();
    const op = peers.startOurs({
      kubeconfigPath: w.kubeconfigPath,
      namespace: w.namespace,
      invocations,
      ident: "metrics",
      args: ["--standalone", "--metrics", `http://127.0.0.1:${port}/metrics`],
      handlers: HANDLERS,
    });
    const scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      return parsePrometheusTextFormat(await response.text()) as Family[];
    };
    const value = (families: Family[], name: string, labels: Record<string, string>) =>
      Number(
        families.find((f) => f.name === name)?.metrics.find((m) =>
          Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
        )?.value ?? NaN,
      );
    try {
      await crdFixtures.eventually(() => scrape().then(() => true, () => false), "the metrics");
      for (let i = 0; i < 10; i++) {
        await api.createObject(w.transport, w.resource, { metadata: { name: `m${i}` }, spec: {} }, {
          namespace: w.namespace,
        });
      }
      const flaky = { handler: "flaky", cause: "create" };
      await crdFixtures.eventually(
        async () =>
          value(await scrape(), "kopf_handler_invocations_total", {
            ...flaky,
            outcome: "success",
          }) === 10,
        "10 successes in the metrics",
        60_000,
      );
      const families = await scrape();
      equal(value(families, "kopf_handler_invocations_total", { ...flaky, outcome: "retry" }), 10);
      equal(
        value(families, "kopf_handler_invocations_total", { ...flaky, outcome: "success" }),
        10,
      );
      equal(value(families, "kopf_handler_retries_total", flaky), 10);
      const byName = new Map(families.map((f) => [f.name, f]));
      equal(byName.get("kopf_handler_invocations_total")?.type, "COUNTER");
      const duration = byName.get("kopf_handler_duration_seconds");
      equal(duration?.type, "HISTOGRAM");
      equal(
        duration?.metrics.find((m) => m.labels?.handler === "flaky")?.buckets?.["+Inf"],
        undefined,
      );
      const resource = "kopfexamples.v1.kopf.dev";
      equal(value(families, "kopf_objects", { resource, namespace: w.namespace }), 10);
      equal(value(families, "kopf_queue_waiting", { resource, namespace: w.namespace }), 0);
      // The writes of the last attempts follow their handlers (the result, then the diff-base,
      // in two requests): wait until both are in for every object, then count exactly.
      const requests = (families: Family[], verb: string, resource: string, code: string) =>
        value(families, "kopf_api_requests_total", { verb, resource, code });
      const written = await crdFixtures.eventually(async () => {
        const now = await scrape();
        const results = requests(now, "patch merge /status", "kopfexamples.kopf.dev/status", "200");
        const others = requests(now, "patch merge", "kopfexamples.kopf.dev", "200");
        return results >= 10 && others >= 20 ? now : undefined;
      }, "the 10 results and diff-bases to be written");
      // Per object: the retry's progress record, then the result (/status) and the diff-base.
      equal(requests(written, "patch merge", "kopfexamples.kopf.dev", "200"), 20);
      equal(requests(written, "patch merge /status", "kopfexamples.kopf.dev/status", "200"), 10);
      // Each temporary failure is a Warning Event about its object.
      equal(requests(written, "create", "events", "201"), 10);
      ok(value(families, "kopf_api_requests_total", { verb: "watch", code: "200" }) >= 1);
      equal(byName.get("kopf_api_request_duration_seconds")?.type, "HISTOGRAM");
      equal(value(families, "kopf_watch_healthy", {}), 1);
      deepEqual(
        [...byName.keys()].filter((n) => !n.startsWith("kopf_")),
        [],
        "every family has the kopf_ prefix",
      );
    } catch (error) {
      throw new Error(`${error}\n${op.log()}`, { cause: error });
    } finally {
      equal(await op.stop(), 0);
      await Deno.remove(invocations).catch(() => {});
    }
  },
});
