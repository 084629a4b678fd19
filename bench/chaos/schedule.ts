// The fault schedule: faults in shuffled rounds (every included fault once per round, so the
// counts stay even), each after a random pause, each followed by a wait until the operator has
// caught up again — every request older than 3 s handled — (or a cap). Faults never overlap, so
// each recovery is one fault's. Notes the watch restarts (relists and reconnects from the
// replicas' liveness) between one injection and the next. Called by bench/chaos/run.ts.

import * as faults from "./faults.ts";
import * as oracles from "./oracle.ts";
import * as replicas from "./replicas.ts";

const POLL_MS = 250;
/** Longer than a request takes to be handled without faults (tens to hundreds of ms). */
const LAG_MS = 3_000;

/** One entry of the schedule's output: the fault, its live recovery and its watch restarts. */
export interface ScheduledFault extends faults.FaultRecord {
  /**
   * Healed → the moment from which everything requested had its effect within 3 s, as the
   * schedule saw it live (the report's figures are the oracle's, computed after the run).
   */
  liveRecoveryMs?: number;
  /** Relists, reconnects and pauses of all replicas from this injection to the next. */
  watch?: replicas.WatchCounters;
  error?: string;
}

/** Runs faults until `durationSeconds` passed (with `--smoke`: and every fault ran once). */
export async function runSchedule(
  context: faults.Context,
  options: { began: number; signal: AbortSignal },
): Promise<ScheduledFault[]> {
  const { faults: kinds, durationSeconds, gapSeconds, recoveryCapSeconds, mode } = context.options;
  const end = options.began + durationSeconds * 1000;
  const done: ScheduledFault[] = [];
  if (kinds.length === 0) {
    await sleep(end - Date.now(), options.signal);
    return done;
  }
  const counters = () => replicas.sum(context.replicas);
  let round: string[] = [];
  let rounds = 0;
  const before: ReturnType<typeof counters>[] = [];
  while (!options.signal.aborted) {
    if (round.length === 0) {
      round = context.random.shuffle(kinds);
      rounds++;
    }
    // The smoke finishes its first round whatever the clock says: every fault at least once.
    const mustRun = mode === "smoke" && rounds === 1;
    const gap = context.random.between(...gapSeconds) * 1000;
    if (!mustRun && Date.now() + gap >= end) break;
    await sleep(gap, options.signal);
    if (options.signal.aborted) break;
    const kind = round.shift() as faults.FaultRecord["kind"];
    before.push(counters());
    let record: ScheduledFault;
    const injectedAt = Date.now();
    try {
      record = await faults.INJECTORS[kind](context);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      context.log(`${kind}: the injection failed: ${message}`);
      record = { kind, injectedAt, healedAt: Date.now(), details: {}, error: message };
    }
    done.push(record);
    // Recovered, for the pacing: every request older than the normal lag has its effect.
    const capAt = record.healedAt + recoveryCapSeconds * 1000;
    while (Date.now() < capAt && !options.signal.aborted) {
      const now = Date.now();
      if (now - record.healedAt >= LAG_MS && oracles.caughtUp(context.ledger, now - LAG_MS)) {
        record.liveRecoveryMs = now - LAG_MS - record.healedAt;
        break;
      }
      await sleep(POLL_MS, options.signal);
    }
    context.log(
      `${kind} #${done.filter((f) => f.kind === kind).length}: ` +
        `${JSON.stringify(record.details)}; caught up ${
          record.liveRecoveryMs === undefined
            ? `not within ${recoveryCapSeconds} s`
            : `after ${(record.liveRecoveryMs / 1000).toFixed(1)} s`
        }`,
    );
  }
  // Let the last fault's restarts reach the liveness counters before the last snapshot.
  await sleep(2 * POLL_MS * 4, options.signal);
  before.push(counters());
  done.forEach((record, i) => {
    const from = before[i]!;
    const to = before[i + 1]!;
    record.watch = {
      relists: to.relists - from.relists,
      reconnects: to.reconnects - from.reconnects,
      errors: to.errors - from.errors,
      pauses: to.pauses - from.pauses,
    };
  });
  return done;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
