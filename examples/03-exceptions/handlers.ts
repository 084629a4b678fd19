// Errors steer retries. A handler that throws `kopf.TemporaryError` is retried after the
// error's `delay`; any other error is retried after the handler's `backoff` (by default 60 s);
// `kopf.PermanentError` gives up at once. Each handler's progress (its retries, its failure)
// is kept on the object, so a restarted operator goes on where this one stopped.
//
// Run: deno run -A cli.ts run examples/03-exceptions/handlers.ts -n default

import * as kopf from "../../mod.ts";

/** What a KopfExample's spec holds. */
export interface KopfExampleSpec {
  duration?: string;
}

// The first attempt waits for something (TemporaryError), the second one breaks unexpectedly
// (an arbitrary error, retried after `backoff` seconds), the third one succeeds.
kopf.on.create("kopfexamples.kopf.dev", { backoff: 1 }, function create_fn({ retry, logger }) {
  if (retry === 0) {
    throw new kopf.TemporaryError("The external service is not ready yet", { delay: 1 });
  }
  if (retry === 1) {
    throw new Error("Something unexpected happened");
  }
  logger.info(`Succeeded on attempt ${retry + 1}`);
  return { message: `succeeded on attempt ${retry + 1}` };
});

// A spec that cannot work fails permanently: no retries, the failure is recorded.
kopf.on.create<KopfExampleSpec>("kopfexamples.kopf.dev", function validate_fn({ spec }) {
  const duration = spec.duration;
  if (typeof duration !== "string" || !/^[0-9]+[smh]$/.test(duration)) {
    throw new kopf.PermanentError(
      `spec.duration must be a number with s, m or h, got ${JSON.stringify(duration)}`,
    );
  }
  return { duration };
});
