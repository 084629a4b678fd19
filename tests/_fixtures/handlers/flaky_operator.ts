// A handler module for the metrics e2e test: a create handler that fails its first attempt with a
// TemporaryError (retried after 1 s) and succeeds on the second.

import * as kopf from "../../../mod.ts";

kopf.on.create("kopfexamples.v1.kopf.dev", { id: "flaky" }, ({ retry }) => {
  if (retry === 0) throw new kopf.TemporaryError("not yet", { delay: 1 });
  return { done: true };
});
