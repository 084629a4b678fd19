// Filters decide which objects and changes a handler is for: `labels` and `annotations` (an
// exact value, `kopf.PRESENT`, `kopf.ABSENT`, or a predicate of the value), `when` (a
// predicate of the whole context), `field` with `value`, and for updates the transition of a
// field with `old`/`new`. Objects no handler matches are left alone: nothing is written to them.
// Handlers with a `field` get it in their ids (and status keys): `field_value_fn/spec.field`.
//
// Run: deno run -A cli.ts run examples/06-filters/handlers.ts -n default

import * as kopf from "../../mod.ts";

/** What a KopfExample's spec holds. */
export interface KopfExampleSpec {
  field?: string;
}

const R = "kopfexamples.kopf.dev";

kopf.on.create(R, { labels: { somelabel: "somevalue" } }, function label_value_fn() {
  return { matched: true };
});

kopf.on.create(R, { labels: { somelabel: kopf.PRESENT } }, function label_present_fn() {
  return { matched: true };
});

kopf.on.create(R, { labels: { otherlabel: kopf.ABSENT } }, function label_absent_fn() {
  return { matched: true };
});

kopf.on.create(
  R,
  { labels: { somelabel: (value) => value?.startsWith("some") ?? false } },
  function label_predicate_fn() {
    return { matched: true };
  },
);

kopf.on.create(R, { annotations: { someannotation: "somevalue" } }, function annotation_fn() {
  return { matched: true };
});

kopf.on.create<KopfExampleSpec>(
  R,
  { when: ({ spec }) => spec.field === "value" },
  function when_fn() {
    return { matched: true };
  },
);

kopf.on.create(R, { field: "spec.field", value: "value" }, function field_value_fn() {
  return { matched: true };
});

// Never matches obj.yaml: its label has another value.
kopf.on.create(R, { labels: { somelabel: "othervalue" } }, function mismatch_fn() {
  return { matched: true };
});

// Only the transition of spec.field to "stopped", from whatever it was.
kopf.on.update(
  R,
  { field: "spec.field", new: "stopped" },
  function stopped_fn({ old, logger }) {
    logger.info(`Stopped; spec.field was ${JSON.stringify(old)}`);
    return { was: old };
  },
);
