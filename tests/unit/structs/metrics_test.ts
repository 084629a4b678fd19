// The metrics' data and text format: counters per label set, histograms with cumulative buckets,
// collected gauges from live sources, label values escaped; empty families are left out.

import { equal, ok } from "node:assert/strict";
import * as metrics from "../../../lib/structs/metrics.ts";

Deno.test("counters and histograms render in Prometheus' text format", () => {
  const m = new metrics.OperatorMetrics();
  m.handlerInvocations.inc({ handler: "a", cause: "create", outcome: "success" });
  m.handlerInvocations.inc({ handler: "a", cause: "create", outcome: "success" });
  m.handlerInvocations.inc({ handler: 'we"ird\n', cause: "update", outcome: "retry" });
  m.handlerDuration.observe({ handler: "a", cause: "create" }, 0.003);
  m.handlerDuration.observe({ handler: "a", cause: "create" }, 2);
  const text = m.render();
  ok(text.includes("# TYPE kopf_handler_invocations_total counter\n"), text);
  ok(
    text.includes('kopf_handler_invocations_total{handler="a",cause="create",outcome="success"} 2'),
  );
  ok(text.includes('handler="we\\"ird\\n"'), "quotes and newlines escaped");
  ok(
    text.includes('kopf_handler_duration_seconds_bucket{handler="a",cause="create",le="0.001"} 0'),
  );
  ok(
    text.includes('kopf_handler_duration_seconds_bucket{handler="a",cause="create",le="0.005"} 1'),
  );
  ok(text.includes('kopf_handler_duration_seconds_bucket{handler="a",cause="create",le="+Inf"} 2'));
  ok(text.includes('kopf_handler_duration_seconds_sum{handler="a",cause="create"} 2.003'));
  ok(!text.includes("kopf_api_requests_total"), "a family without samples is left out");
  equal(m.handlerInvocations.get({ handler: "a", cause: "create", outcome: "success" }), 2);
});

Deno.test("collected families read their sources at each render, until removed", () => {
  const m = new metrics.OperatorMetrics();
  let value = 1;
  const remove = m.collect(
    "kopf_objects",
    "Objects",
    "gauge",
    () => [{ labels: { r: "x" }, value }],
  );
  ok(m.render().includes('kopf_objects{r="x"} 1'));
  value = 5;
  ok(m.render().includes('kopf_objects{r="x"} 5'));
  remove();
  ok(!m.render().includes("kopf_objects"));
});

Deno.test("outcome labels: success, retry, failure", () => {
  equal(metrics.outcomeLabel({ final: true, error: undefined }), "success");
  equal(metrics.outcomeLabel({ final: false, error: new Error() }), "retry");
  equal(metrics.outcomeLabel({ final: true, error: new Error() }), "failure");
});
