/**
 * The `kopf` command line: `kopf run handlers.ts [-n ns | -A] …`.
 *
 * This version answers `--version` and `--help`; `kopf run` arrives with the runtime.
 *
 * @example Running the command line from a script
 * ```ts ignore
 * import { main } from "./cli.ts";
 * Deno.exit(await main(["--version"]));
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { VERSION } from "./mod.ts";

const HELP = `Usage: kopf <command> [options]

Commands:
  run [paths|URLs...]   Run an operator from handler modules (not available in ${VERSION} yet)

Options:
  -h, --help            Show this help
  -V, --version         Show the version`;

/**
 * Runs the command line with `args` and returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { main } from "./cli.ts";
 * const code = await main(["--help"]);
 * ```
 */
export function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { help: { type: "boolean", short: "h" }, version: { type: "boolean", short: "V" } },
    });
  } catch (error) {
    console.error(
      `kopf: ${error instanceof Error ? error.message : String(error)}; see kopf --help`,
    );
    return Promise.resolve(2);
  }
  if (parsed.values.version) {
    console.log(`kopf ${VERSION}`);
    return Promise.resolve(0);
  }
  const command = parsed.positionals[0];
  if (parsed.values.help || command === undefined) {
    console.log(HELP);
    return Promise.resolve(command === undefined && !parsed.values.help ? 2 : 0);
  }
  if (command === "run") {
    console.error(
      `kopf: "run" is not available in ${VERSION} yet: the operator runtime is still being built`,
    );
    return Promise.resolve(2);
  }
  console.error(`kopf: unknown command "${command}"; see kopf --help`);
  return Promise.resolve(2);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
