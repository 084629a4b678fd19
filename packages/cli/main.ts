/**
 * The `kopf` command line of Kopf for Deno, as a package of its own, so that the usage line is
 * `deno run -A jsr:@kopf/cli run handlers.ts -n default`. It runs `main()` of `@kopf/kopf/cli`
 * with the process's arguments and exits with its code; see `kopf --help`.
 *
 * The handler modules must import Kopf from the same package and version as this command
 * (`jsr:@kopf/kopf`), so that they register into the registry it serves.
 *
 * @example Running an operator from handler files
 * ```sh
 * deno run -A jsr:@kopf/cli run handlers.ts -n default --liveness http://0.0.0.0:8080/healthz
 * ```
 *
 * @module
 */

import { main } from "@kopf/kopf/cli";

if (import.meta.main) Deno.exit(await main(Deno.args));
