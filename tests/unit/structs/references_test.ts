import { equal } from "node:assert/strict";
import * as references from "../../../lib/structs/references.ts";

const configmaps = { group: "", version: "v1", plural: "configmaps", namespaced: true };
const examples = { group: "kopf.dev", version: "v1", plural: "kopfexamples", namespaced: true };
const namespaces = { group: "", version: "v1", plural: "namespaces", namespaced: false };

Deno.test("path() builds core and named-group URLs for collections, objects and subresources", () => {
  equal(references.path(configmaps), "/api/v1/configmaps");
  equal(references.path(configmaps, { namespace: "ns" }), "/api/v1/namespaces/ns/configmaps");
  equal(
    references.path(examples, { namespace: "ns", name: "a", subresource: "status" }),
    "/apis/kopf.dev/v1/namespaces/ns/kopfexamples/a/status",
  );
  equal(references.path(examples), "/apis/kopf.dev/v1/kopfexamples");
});

Deno.test("path() ignores the namespace of cluster-scoped resources and escapes names", () => {
  equal(
    references.path(namespaces, { namespace: "ignored", name: "team-a" }),
    "/api/v1/namespaces/team-a",
  );
  equal(
    references.path(configmaps, { namespace: "ns", name: "a b/c" }),
    "/api/v1/namespaces/ns/configmaps/a%20b%2Fc",
  );
});

Deno.test("apiVersion() and fullName() spell core and named groups as kubectl does", () => {
  equal(references.apiVersion(configmaps), "v1");
  equal(references.apiVersion(examples), "kopf.dev/v1");
  equal(references.fullName(configmaps), "configmaps.v1");
  equal(references.fullName(examples), "kopfexamples.v1.kopf.dev");
});
