import { equal } from "node:assert/strict";
import * as transports from "../../../lib/k8s/transport.ts";

const at = (method: string, path: string, contentType?: string) =>
  transports.verbOf({ method, url: `https://k${path}`, contentType });

Deno.test("verbOf() names requests as the audit log does, with the patch type", () => {
  equal(at("GET", "/api/v1"), "discovery");
  equal(at("GET", "/apis/kopf.dev/v1"), "discovery");
  equal(at("GET", "/api/v1/namespaces"), "list");
  equal(at("GET", "/api/v1/namespaces/default"), "get");
  equal(at("GET", "/apis/kopf.dev/v1/namespaces/ns/kopfexamples"), "list");
  equal(at("GET", "/apis/kopf.dev/v1/namespaces/ns/kopfexamples/a"), "get");
  equal(at("GET", "/apis/kopf.dev/v1/namespaces/ns/kopfexamples?watch=1"), "watch");
  equal(at("POST", "/api/v1/namespaces/ns/events"), "create");
  equal(
    at("PATCH", "/apis/kopf.dev/v1/namespaces/ns/kopfexamples/a", "application/merge-patch+json"),
    "patch merge",
  );
  equal(
    at(
      "PATCH",
      "/apis/kopf.dev/v1/namespaces/ns/kopfexamples/a/status",
      "application/json-patch+json",
    ),
    "patch json /status",
  );
  equal(at("DELETE", "/api/v1/namespaces/ns"), "delete");
});
