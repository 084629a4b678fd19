// The static entry point of the minimal operator, for `deno compile` and the Dockerfile. A
// compiled binary contains only the modules it imports statically, so it cannot load a
// handlers file by path as `cli.ts run handlers.ts` does: this file imports the handlers, then
// hands its arguments to the command line's `run`, which serves the handlers already registered.
// For your own operator, copy this file next to your handlers and change the import below.
//
// Usage: main.ts (-n NAMESPACE... | -A) [--liveness URL] [-v | -q] …   (see `cli.ts run --help`)
// Run:   deno run -A examples/01-minimal/main.ts -n default

import { main } from "../../cli.ts";
import "./handlers.ts";

if (import.meta.main) {
  Deno.exit(await main(["run", ...Deno.args]));
}
