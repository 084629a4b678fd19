// The handlers of the silent-watch e2e test: the watch's inactivity timeout shortened to
// $KOPF_TEST_INACTIVITY seconds (the test keeps the watch busy, so that only a frozen connection
// is silent that long), and a create handler whose result marks the object handled.

import * as kopf from "../../../mod.ts";

kopf.on.startup(function inactivity({ settings }) {
  settings.watching.inactivityTimeoutSeconds = Number(Deno.env.get("KOPF_TEST_INACTIVITY"));
});

kopf.on.create("kopfexamples.v1.kopf.dev", { id: "seen" }, ({ name }) => ({ name }));
