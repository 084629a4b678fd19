import { deepEqual, equal, match } from "node:assert/strict";
import { violations } from "../../../tools/check_layers.ts";

Deno.test("check:layers accepts imports from lower rooms and the same room", () => {
  deepEqual(
    violations({
      "lib/k8s/watching.ts":
        'import * as b from "../async/backoff.ts";\nimport * as a from "./api.ts";',
      "lib/structs/references.ts": 'import type * as c from "../async/clock.ts";',
    }),
    [],
  );
});

Deno.test("check:layers rejects upward imports, engines importing engines, and lib importing the doors", () => {
  const found = violations({
    "lib/k8s/api.ts": 'import * as r from "../reactor/running.ts";',
    "lib/engines/peering.ts": 'import * as p from "./probing.ts";',
    "lib/async/clock.ts": 'import { VERSION } from "../../mod.ts";',
  });
  equal(found.length, 3);
  match(
    found[0]!,
    /lib\/k8s\/api\.ts: imports "..\/reactor\/running.ts" from the higher room reactor\//,
  );
  match(found[1]!, /engines never import each other/);
  match(found[2]!, /must not import the public doors/);
});
