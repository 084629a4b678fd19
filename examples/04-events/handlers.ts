// Kubernetes Events about the handled object, as `kubectl describe` and `kubectl get events`
// show them: `kopf.info()` (Normal), `kopf.warn()` (Warning), `kopf.exception()` (Warning,
// with the error's name as the reason) and `kopf.event()` (any type). They are posted in the
// background and never fail the handler. Object log lines of level warning and above become
// Events too (reason "Logging"), when the operator runs with `run()` or the CLI.
//
// Run: deno run -A cli.ts run examples/04-events/handlers.ts -n default

import * as kopf from "../../mod.ts";

kopf.on.create("kopfexamples.kopf.dev", function create_fn({ body, logger }) {
  kopf.info(body, { reason: "SomeReason", message: "Some message" });
  kopf.warn(body, { reason: "SomeReason", message: "Some warning" });
  try {
    JSON.parse("{not json");
  } catch (error) {
    kopf.exception(body, { message: "The configuration could not be read:", error });
  }
  kopf.event(body, { type: "Normal", reason: "Created", message: "Handled by create_fn" });
  logger.warning("A warning from the object's logger");
});
