// Background work per object. A daemon is one long call per object: it starts when the object
// appears (or the operator starts), and is asked to stop through `stopped` when the object is
// deleted (the finalizer holds the object until it has stopped), stops matching, or the operator
// stops or pauses. A timer calls again and again: every `interval` seconds, or once the object
// has been `idle` (no change of spec, labels, annotations) for that long.
//
// Run: deno run -A cli.ts run examples/11-daemons-timers/handlers.ts -n default
// Then: kubectl apply -n default -f examples/11-daemons-timers/obj.yaml

import * as kopf from "../../mod.ts";

interface KopfExampleSpec {
  field?: string;
}

// The context's fields are live: `context.spec` is the object's spec as the watch last saw it.
// (Destructured in the parameter list, `{ spec }` would keep the spec the daemon started with.)
kopf.daemon<KopfExampleSpec>(
  "kopfexamples.kopf.dev",
  { cancellationTimeout: 5 },
  async function monitor(context) {
    const { name, logger, stopped } = context;
    let checks = 0;
    while (!stopped.aborted) {
      checks++;
      logger.info(`Monitoring ${name}: check #${checks}, spec.field is ${context.spec.field}`);
      await stopped.wait(10); // wakes at once when the stop comes
    }
    logger.info(`Stopped monitoring ${name}: ${stopped.reason}`);
  },
);

// Every 2 seconds on a fixed grid: the patch is applied after each call. The memo is the
// object's own, shared with its other handlers, in memory only.
kopf.timer(
  "kopfexamples.kopf.dev",
  { interval: 2, sharp: true },
  function heartbeat({ patch, memo }) {
    const beats = (memo.beats as number | undefined ?? 0) + 1;
    memo.beats = beats;
    patch.status.heartbeat = { beats, at: new Date().toISOString() };
  },
);

// Once the object has been quiet for 3 seconds; status changes (like the heartbeat's) do not
// count. The result goes to status.settled.
kopf.timer<KopfExampleSpec>(
  "kopfexamples.kopf.dev",
  { idle: 3 },
  function settled({ spec, logger }) {
    logger.info(`Settled with spec.field = ${spec.field}`);
    return { field: spec.field ?? null };
  },
);
