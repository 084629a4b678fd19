// Reacting to changes. An update handler runs when anything essential of the object changed
// since it was last handled (spec, labels, annotations; not status) and gets the `diff`, the
// `old` and the `new` state. A field handler watches one field: it runs when that field
// changes (also on creation, from nothing), with field-relative `old`, `new` and `diff`.
//
// Run: deno run -A cli.ts run examples/05-field-handlers/handlers.ts -n default
// Then: kubectl patch kex -n default kopf-example-1 --type merge -p '{"spec":{"field":"changed"}}'

import * as kopf from "../../mod.ts";

kopf.on.update("kopfexamples.kopf.dev", function update_fn({ diff, logger }) {
  // Each item is [operation, path, old, new], e.g. ["change", ["spec", "field"], "a", "b"].
  const changes = diff.map(([op, path]) => `${op} ${path.join(".")}`);
  logger.info(`Updated: ${changes.join(", ")}`);
  return { changes };
});

kopf.on.field(
  "kopfexamples.kopf.dev",
  { field: "spec.field" },
  function field_fn({ old, new: value, patch, logger }) {
    logger.info(`spec.field: ${JSON.stringify(old)} -> ${JSON.stringify(value)}`);
    // Written through the patch rather than returned: a field handler's result would be
    // stored under its id, "field_fn/spec.field". A null removes the key (a merge patch).
    patch.status.field = { old: old ?? null, new: value ?? null };
  },
);
