// Resuming: an operator that starts (or restarts) finds objects that it handled before. Resume
// handlers run once per operator process for each of them, e.g. to rebuild what lived in
// memory only. New objects get their creation handlers instead, not the resume handlers.
//
// Run: deno run -A cli.ts run examples/08-resume/handlers.ts -n default
// Create obj.yaml, stop the operator with Ctrl-C and start it again: resume_fn runs.

import * as kopf from "../../mod.ts";

kopf.on.create("kopfexamples.kopf.dev", function create_fn({ logger }) {
  logger.info("Created");
  return { message: "created" };
});

kopf.on.resume("kopfexamples.kopf.dev", function resume_fn({ logger }) {
  logger.info("Resumed after an operator start");
  return { resumedAt: new Date().toISOString() };
});
