// A handler module as `kopf run` imports it: greets every new KopfExample in its status and
// log. Used by the CLI's e2e tests and KopfRunner's tests.

import * as kopf from "../../../mod.ts";

kopf.on.create("kopfexamples.v1.kopf.dev", function greet({ name, logger }) {
  logger.info(`Greeting ${name}`);
  return { message: `hello, ${name}` };
});
