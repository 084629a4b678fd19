// bench/driver/options.ts: a run that is not the full one never writes the day's full results
// (bench/results/<date>.*), and --deno-v8-flags / --name are checked with one line each.

import { equal, throws } from "node:assert/strict";
import * as options from "../../../bench/driver/options.ts";

const base = (args: string[]) =>
  options.resultsBase("r/", "2026-12-07", options.parseOptions(args));

Deno.test("only the full run writes <date>.*; a partial one <date>-partial.*", () => {
  equal(base([]), "r/2026-12-07");
  equal(base(["--quick"]), "r/quick-2026-12-07");
  for (
    const partial of [
      ["--operators", "deno,go"],
      ["--scenarios", "burst"],
      ["--reps", "1"],
      ["--size", "churnSeconds=60"],
      ["--no-audit"],
      ["--deno-v8-flags=--optimize-for-size"],
    ]
  ) {
    equal(base(partial), "r/2026-12-07-partial", partial.join(" "));
  }
  equal(base(["--scenarios", "burst", "--name", "semi-1"]), "r/2026-12-07-semi-1");
  equal(base(["--quick", "--name", "x"]), "r/quick-2026-12-07-x");
});

Deno.test("--deno-v8-flags and --name are checked, one line each", () => {
  const chosen = options.parseOptions(["--deno-v8-flags=--max-semi-space-size=1 "]);
  equal(chosen.denoV8Flags, "--max-semi-space-size=1");
  throws(
    () => options.parseOptions(["--deno-v8-flags", "--optimize-for-size"]),
    /^UsageError: --deno-v8-flags takes its value after "=": --deno-v8-flags=--FLAG$/,
  );
  throws(
    () => options.parseOptions(["--deno-v8-flags", "optimize-for-size"]),
    /^UsageError: Invalid --deno-v8-flags "optimize-for-size": expected V8 flags/,
  );
  throws(
    () => options.parseOptions(["--name", "../x"]),
    /^UsageError: Invalid --name "\.\.\/x": expected letters, digits and dashes/,
  );
});
