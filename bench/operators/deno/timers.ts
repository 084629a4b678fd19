// The timers benchmark's operator on this framework: one timer per benchobject at the interval
// of $TIMER_INTERVAL seconds (not sharp: the interval is slept after each tick, as Kopf does),
// writing nothing to the API; each tick appends "<name> <epoch ms>" to $TIMER_TICKS.
//
// Run: deno run -A cli.ts run -q --standalone bench/operators/deno/timers.ts -n <namespace>

import * as kopf from "../../../mod.ts";

const interval = Number(Deno.env.get("TIMER_INTERVAL") ?? "1");
const ticks = Deno.openSync(Deno.env.get("TIMER_TICKS") ?? "/dev/null", {
  append: true,
  create: true,
});
const encoder = new TextEncoder();

kopf.timer("benchobjects.v1.bench.kopf.dev", { id: "tick", interval }, function tick({ name }) {
  // One write per tick, the same as the Kopf operator's os.write().
  ticks.writeSync(encoder.encode(`${name} ${Date.now()}\n`));
});
