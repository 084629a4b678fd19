// Admission webhooks: the API server asks the operator before it stores a KopfExample. The
// mutating handler fills in defaults (a label, `spec.items`) by writing to `patch`; the
// validating handler rejects an object without `spec.field` with its own message and code, and
// warns the client about a long one. Only objects labelled examples.kopf.dev/admission=checked
// are sent to these webhooks: the `labels` filter becomes the webhooks' objectSelector.
//
// Run: deno run -A cli.ts run examples/12-admission/handlers.ts -n default \
//        --webhook-managed kopfexamples.examples.kopf.dev

import * as kopf from "../../mod.ts";

/** What a KopfExample's spec holds. */
export interface KopfExampleSpec {
  field?: string;
  items?: string[];
}

/** The label that sends an object to these webhooks. */
const CHECKED = { "examples.kopf.dev/admission": "checked" };

kopf.on.mutate<KopfExampleSpec>(
  "kopfexamples.kopf.dev",
  { labels: CHECKED, operations: ["CREATE"] },
  function set_defaults({ spec, patch, dryrun, logger }) {
    patch.metadata.labels["examples.kopf.dev/mutated"] = "yes";
    if (spec.items === undefined) patch.spec.items = ["default"];
    logger.info(`Defaults set${dryrun ? " (dry run)" : ""}`);
  },
);

kopf.on.validate<KopfExampleSpec>(
  "kopfexamples.kopf.dev",
  { labels: CHECKED, operations: ["CREATE", "UPDATE"] },
  function check_field({ spec, warnings, userInfo, logger }) {
    if (!spec.field) {
      throw new kopf.AdmissionError("spec.field is required", { code: 422 });
    }
    if (spec.field.length > 20) warnings.push("spec.field is longer than 20 characters");
    logger.info(`Checked spec.field=${spec.field} for ${userInfo.username}`);
  },
);
