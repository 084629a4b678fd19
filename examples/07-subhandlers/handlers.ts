// Sub-handlers: a handler declares one sub-handler per item of the spec with
// `kopf.subhandler()`. Each has its own id (`create_fn/item1`), its own retries and its own
// progress on the object; the parent counts as done when all of them are. Here the second item
// fails once and is retried alone, while the first one is not run again.
//
// Run: deno run -A cli.ts run examples/07-subhandlers/handlers.ts -n default

import * as kopf from "../../mod.ts";

/** What a KopfExample's spec holds. */
export interface KopfExampleSpec {
  items?: string[];
}

kopf.on.create<KopfExampleSpec>("kopfexamples.kopf.dev", function create_fn({ spec }) {
  // Declared again each time the parent runs: the ones already done are skipped.
  for (const [index, item] of (spec.items ?? []).entries()) {
    kopf.subhandler(function create_item_fn({ retry, logger }) {
      if (index === 1 && retry === 0) {
        throw new kopf.TemporaryError(`${item} is not ready yet`, { delay: 1 });
      }
      logger.info(`Handling ${item} (attempt ${retry + 1})`);
      return { item, attempt: retry + 1 };
    }, { id: item });
  }
});
