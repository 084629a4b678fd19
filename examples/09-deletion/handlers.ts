// Deletion: a delete handler runs when the object is being deleted, and the object stays
// until the handler succeeds. The framework puts its finalizer on the object first (the
// finalizer is what makes Kubernetes wait), and removes it after the delete handlers are done.
// Here the handler is not ready at its first attempt and retries, so the deletion waits.
//
// Run: deno run -A cli.ts run examples/09-deletion/handlers.ts -n default
// Then: kubectl delete kex -n default kopf-example-1   (it takes about a second)

import * as kopf from "../../mod.ts";

kopf.on.create("kopfexamples.kopf.dev", function create_fn() {
  return { message: "created" };
});

kopf.on.delete("kopfexamples.kopf.dev", function delete_fn({ body, retry, logger }) {
  if (retry === 0) {
    throw new kopf.TemporaryError("Releasing the external resources", { delay: 1 });
  }
  logger.info("The external resources are released");
  // The object is about to go, and its status with it: an Event stays for a while.
  kopf.info(body, { reason: "Released", message: "The external resources are released" });
});
