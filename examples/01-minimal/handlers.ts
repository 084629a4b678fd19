// The smallest operator: one creation handler that logs and returns a message. What it
// returns is merged into the object's status under the handler's id: status.create_fn.
//
// Run: deno run -A cli.ts run examples/01-minimal/handlers.ts -n default

import * as kopf from "../../mod.ts";

/** What a KopfExample's spec holds; typing it makes `spec.field` a string here. */
export interface KopfExampleSpec {
  duration?: string;
  field?: string;
  items?: string[];
}

kopf.on.create<KopfExampleSpec>(
  "kopfexamples.kopf.dev",
  function create_fn({ spec, name, namespace, logger }) {
    logger.info(`And here we are! Created ${namespace}/${name} with spec: ${JSON.stringify(spec)}`);
    return { message: "hello world" };
  },
);
