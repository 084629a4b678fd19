// CRD conversion (beyond Kopf): KopfConvertibles are stored as v1 (`spec.size`) and also served
// as v2 (`spec.replicas`). When a client reads or writes the version that is not stored, the
// API server asks the operator's conversion webhook; these two functions convert each way. At
// start, the operator points the CRD's spec.conversion at its server, with its CA.
//
// Run: deno run -A cli.ts run examples/13-conversion/handlers.ts -n default

import * as kopf from "../../mod.ts";

/** The CRD of this example: examples/13-conversion/crd.yaml. */
const CRD = "kopfconvertibles.kopf.dev";

kopf.on.convert(CRD, { from: "v1", to: "v2" }, function size_to_replicas({ body }) {
  const { size, ...rest } = body.spec as { size?: number };
  return { ...body, spec: { ...rest, replicas: size } };
});

kopf.on.convert(CRD, { from: "v2", to: "v1" }, function replicas_to_size({ body, logger }) {
  const { replicas, ...rest } = body.spec as { replicas?: number };
  logger.debug(`Storing replicas=${replicas} as size`);
  return { ...body, spec: { ...rest, size: replicas } };
});
