// A handler module whose startup handler prints where it was imported from: it proves that
// `kopf run` imported the module and serves the registry the module registered into. Used by
// tests/unit/cli_package_test.ts (imported by path, by file: URL and over http:).

import * as kopf from "../../../mod.ts";

kopf.on.startup(function marker() {
  console.log(`startup ran: ${import.meta.url}`);
});
