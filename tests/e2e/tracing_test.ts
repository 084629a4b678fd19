// OpenTelemetry spans end to end: `kopf run` with Deno's built-in OpenTelemetry (OTEL_DENO=true,
// OTLP over HTTP/JSON to a receiver in this test) on the real control plane: one kopf.object span
// per object cycle, a kopf.handler span per handler attempt and the API requests' spans inside it.

import { equal, ok } from "node:assert/strict";
import * as api from "../../lib/k8s/api.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as peers from "../_fixtures/peers.ts";

const HANDLERS = new URL("../_fixtures/handlers/flaky_operator.ts", import.meta.url).pathname;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

function attribute(span: OtlpSpan, key: string): unknown {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value ? Object.values(value)[0] : undefined;
}

Deno.test({
  name: "tracing: a span per object cycle, with the handler's attempt and its requests inside",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("tracing");
    const spans: OtlpSpan[] = [];
    await using receiver = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (r) => {
        if (new URL(r.url).pathname === "/v1/traces") {
          const body = await r.json() as {
            resourceSpans?: { scopeSpans?: { spans?: OtlpSpan[] }[] }[];
          };
          for (const resource of body.resourceSpans ?? []) {
            for (const scope of resource.scopeSpans ?? []) spans.push(...scope.spans ?? []);
          }
        } else await r.body?.cancel();
        return Response.json({});
      },
    );
    const invocations = await Deno.makeTempFile();
    const op = peers.startOurs({
      kubeconfigPath: w.kubeconfigPath,
      namespace: w.namespace,
      invocations,
      ident: "tracing",
      args: ["--standalone"],
      handlers: HANDLERS,
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "kopf-tracing-test",
      },
    });
    try {
      await crdFixtures.eventually(async () => (await op.peering())?.state === "active", "ready");
      await api.createObject(w.transport, w.resource, { metadata: { name: "t" }, spec: {} }, {
        namespace: w.namespace,
      });
      const handled = () =>
        api.getObject(w.transport, w.resource, "t", { namespace: w.namespace }).then((o) =>
          (o.status as Record<string, unknown> | undefined)?.flaky !== undefined
        );
      await crdFixtures.eventually(handled, "the object to be handled (after one retry)", 30_000);
      equal(await op.stop(), 0); // a graceful stop flushes the last spans
      const attempts = spans.filter((s) => s.name === "kopf.handler");
      equal(attempts.length, 2, "a retry and a success");
      const outcomes = attempts.map((s) => attribute(s, "kopf.outcome")).sort();
      equal(outcomes.join(","), "retry,success");
      for (const attempt of attempts) {
        equal(attribute(attempt, "kopf.handler.id"), "flaky");
        equal(attribute(attempt, "kopf.cause"), "create");
        const cycle = spans.find((s) => s.spanId === attempt.parentSpanId);
        equal(cycle?.name, "kopf.object", "a handler's span is inside its object's cycle");
        equal(attribute(cycle!, "k8s.object.name"), "t");
        equal(attribute(cycle!, "k8s.namespace.name"), w.namespace);
        // The cycle's API requests (Deno's fetch spans) are its children too.
        const requests = spans.filter((s) =>
          s.parentSpanId === cycle!.spanId && s.name !== "kopf.handler"
        );
        ok(requests.length >= 1, `requests under the cycle: ${requests.map((s) => s.name)}`);
        ok(
          requests.every((s) => s.traceId === cycle!.traceId),
          "one trace per cycle",
        );
      }
    } catch (error) {
      throw new Error(`${error}\nspans: ${spans.map((s) => s.name).join(", ")}\n${op.log()}`, {
        cause: error,
      });
    } finally {
      await op.stop();
      await Deno.remove(invocations).catch(() => {});
    }
  },
});
