// Conversion reviews without a server: both directions, chains of versions, the metadata rule
// (only labels and annotations may change), failures as the API server expects them, and bad
// reviews.

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import * as conversion from "../../../lib/engines/conversion.ts";
import type * as admission from "../../../lib/registry/admission.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";

const CRD = "kopfexamples.kopf.dev";

function registryWithConversions(): registries.OperatorRegistry {
  const registry = new registries.OperatorRegistry();
  on.on.convert(
    CRD,
    { registry, from: "v1", to: "v2" },
    function up({ body }: admission.ConversionContext) {
      const spec = body.spec as Record<string, unknown>;
      spec.replicas = spec.size;
      delete spec.size;
    },
  );
  on.on.convert(
    CRD,
    { registry, from: "v2", to: "v1" },
    function down({ body }: admission.ConversionContext) {
      const { replicas, ...rest } = body.spec as Record<string, unknown>;
      return { ...body, spec: { ...rest, size: replicas } };
    },
  );
  on.on.convert(
    CRD,
    { registry, from: "v2", to: "v3" },
    function v3({ body }: admission.ConversionContext) {
      return {
        ...body,
        spec: { scale: { replicas: (body.spec as { replicas: number }).replicas } },
      };
    },
  );
  return registry;
}

function review(desired: string, objects: Record<string, unknown>[]): conversion.ConversionReview {
  return conversion.parseConversionReview({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "ConversionReview",
    request: { uid: "u1", desiredAPIVersion: desired, objects },
  });
}

const OBJECT = {
  apiVersion: "kopf.dev/v1",
  kind: "KopfExample",
  metadata: { name: "kex-1", namespace: "default", uid: "x", resourceVersion: "7" },
  spec: { size: 3, field: "a" },
};

Deno.test("convertReview() converts both ways and chains versions (v1 → v2 → v3)", async () => {
  const registry = registryWithConversions();
  const options = { handlers: registry.admission.conversions(), crd: CRD, resources: [] };
  const up = await conversion.convertReview(review("kopf.dev/v2", [OBJECT]), options);
  deepEqual(up, {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "ConversionReview",
    response: {
      uid: "u1",
      convertedObjects: [{
        ...OBJECT,
        apiVersion: "kopf.dev/v2",
        spec: { field: "a", replicas: 3 },
      }],
      result: { status: "Success" },
    },
  });
  const down = await conversion.convertReview(
    review("kopf.dev/v1", up.response.convertedObjects!),
    options,
  );
  deepEqual(down.response.convertedObjects, [{ ...OBJECT, spec: { field: "a", size: 3 } }]);
  const v3 = await conversion.convertReview(review("kopf.dev/v3", [OBJECT]), options);
  deepEqual(v3.response.convertedObjects?.[0]?.spec, { scale: { replicas: 3 } });
  equal(v3.response.convertedObjects?.[0]?.apiVersion, "kopf.dev/v3");
});

Deno.test("convertReview() keeps the metadata except labels and annotations", async () => {
  const registry = new registries.OperatorRegistry();
  on.on.convert(
    CRD,
    { registry, from: "v1", to: "v2" },
    function meddle({ body }: admission.ConversionContext) {
      return { ...body, metadata: { name: "renamed", labels: { converted: "yes" } } };
    },
  );
  const answer = await conversion.convertReview(review("kopf.dev/v2", [OBJECT]), {
    handlers: registry.admission.conversions(),
    crd: CRD,
    resources: [],
  });
  deepEqual(answer.response.convertedObjects?.[0]?.metadata, {
    ...OBJECT.metadata,
    labels: { converted: "yes" },
  });
});

Deno.test("convertReview() fails the review with a message when versions cannot be converted", async () => {
  const registry = registryWithConversions();
  on.on.convert(CRD, { registry, from: "v3", to: "v4" }, function broken() {
    throw new Error("v4 is not ready");
  });
  const options = { handlers: registry.admission.conversions(), crd: CRD, resources: [] };
  const none = await conversion.convertReview(
    review("kopf.dev/v1", [{ ...OBJECT, apiVersion: "kopf.dev/v3" }]),
    options,
  );
  deepEqual(none.response, {
    uid: "u1",
    result: {
      status: "Failure",
      message: `No conversion from v3 to v1 for "${CRD}": register ` +
        `on.convert("${CRD}", { from: "v3", to: "v1" }, fn)`,
    },
  });
  const thrown = await conversion.convertReview(review("kopf.dev/v4", [OBJECT]), options);
  deepEqual(thrown.response.result, { status: "Failure", message: "v4 is not ready" });
});

Deno.test("convertReview() answers 404 for a CRD no conversion function serves", async () => {
  const registry = registryWithConversions();
  await conversion.convertReview(review("other.dev/v2", [OBJECT]), {
    handlers: registry.admission.conversions(),
    crd: "others.other.dev",
    resources: [],
  }).then(
    () => ok(false, "expected a 404"),
    (error: conversion.ConversionRequestError) => {
      equal(error.status, 404);
      equal(error.message, `No conversion function serves "others.other.dev"`);
    },
  );
});

Deno.test("parseConversionReview() names what is wrong with a body", () => {
  throws(
    () =>
      conversion.parseConversionReview({
        kind: "ConversionReview",
        request: { uid: "1", desiredAPIVersion: "v1" },
      }),
    {
      message:
        `The body is not a ConversionReview: "request.desiredAPIVersion" is not "group/version"`,
    },
  );
  throws(
    () =>
      conversion.parseConversionReview({
        kind: "ConversionReview",
        request: { uid: "1", desiredAPIVersion: "a/v1", objects: [1] },
      }),
    { message: `The body is not a ConversionReview: "request.objects" is not a list of objects` },
  );
});
