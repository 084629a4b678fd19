// The chaos oracle on hand-made ledgers: what counts as lost, as a successful re-run, as an
// at-least-once repeat, and how recovery is measured from a fault's healing.

import { deepEqual, equal } from "node:assert/strict";
import * as ledgers from "../../../bench/chaos/ledger.ts";
import * as oracles from "../../../bench/chaos/oracle.ts";

type Listed = Parameters<typeof oracles.judge>[0]["final"][number];

/** A ledger entry for an object created (ok) at `at`, with more operations after it. */
function created(
  ledger: ledgers.Ledger,
  at: number,
  ...more: Omit<ledgers.Operation, "outcome">[]
): ledgers.ObjectRecord {
  const record = ledger.newObject();
  record.operations.push({ kind: "create", seq: 0, requestedAt: at, outcome: "ok" });
  for (const op of more) record.operations.push({ ...op, outcome: "ok" });
  return record;
}

function listed(name: string, seq: number, status: unknown, deleting = false): Listed {
  return {
    metadata: { name, ...(deleting ? { deletionTimestamp: "2026-12-07T00:00:00Z" } : {}) },
    spec: { seq },
    status,
  };
}

function invocation(
  name: string,
  handler: oracles.Invocation["handler"],
  seq: number,
  at: number,
  recorded = false,
): oracles.Invocation {
  return {
    name,
    uid: `uid-${name}`,
    handler,
    seq,
    recorded,
    rv: "1",
    at,
    by: "replica-0",
    retry: 0,
  };
}

const none = { invocations: [], faults: [], stuck: new Set<string>() };

Deno.test("judge() finds nothing lost when every object ends handled at its latest spec or gone", () => {
  const ledger = new ledgers.Ledger();
  const kept = created(ledger, 1000, { kind: "update", seq: 2, requestedAt: 2000 });
  const deleted = created(ledger, 1000, { kind: "delete", seq: -1, requestedAt: 3000 });
  const verdict = oracles.judge({
    ...none,
    ledger,
    final: [listed(kept.name, 2, { create: { seq: 0 }, update: { seq: 2 } })],
  });
  deepEqual(verdict.lost, []);
  equal(verdict.objects.deletes, 1);
  equal(verdict.objects.presentAtEnd, 1);
  equal(deleted.name.startsWith("ex-"), true);
});

Deno.test("judge() counts as lost: an unhandled latest spec, a held finalizer, a vanished object", () => {
  const ledger = new ledgers.Ledger();
  const stale = created(ledger, 1000, { kind: "update", seq: 3, requestedAt: 2000 });
  const held = created(ledger, 1000, { kind: "delete", seq: -1, requestedAt: 2000 });
  const vanished = created(ledger, 1000);
  const unhandled = created(ledger, 1000);
  const verdict = oracles.judge({
    ...none,
    ledger,
    final: [
      listed(stale.name, 3, { create: { seq: 0 }, update: { seq: 2 } }),
      listed(held.name, 0, { create: { seq: 0 } }, true),
      listed(unhandled.name, 0, {}),
    ],
  });
  deepEqual(
    verdict.lost.map((l) => [l.name, l.why]),
    [
      [stale.name, "its latest spec (seq 3) is not handled: handled seq 2"],
      [held.name, "deleted, but its finalizer was never released"],
      [vanished.name, "gone, yet never deleted"],
      [unhandled.name, "its create handler's result is not recorded"],
    ],
  );
});

Deno.test("judge() expects objects swept by a CRD removal gone, and racing creates either way", () => {
  const ledger = new ledgers.Ledger();
  const old = created(ledger, 1000);
  ledger.beginCrdRemoval(2000);
  const racing = created(ledger, 2100);
  racing.uncertain = true;
  equal(ledger.sweep(), 1);
  ledger.endCrdRemoval();
  const fresh = created(ledger, 3000);
  const verdict = oracles.judge({
    ...none,
    ledger,
    final: [listed(fresh.name, 0, { create: { seq: 0 } })],
  });
  deepEqual(verdict.lost, []);
  equal(old.sweptInEpoch, 1);
  equal(verdict.objects.swept, 1);
  equal(verdict.objects.uncertain, 1);
});

Deno.test("judge() counts objects the CRD removal had to strip of finalizers as lost", () => {
  const ledger = new ledgers.Ledger();
  const stuck = created(ledger, 1000);
  ledger.beginCrdRemoval(2000);
  ledger.sweep();
  const verdict = oracles.judge({ ...none, ledger, final: [], stuck: new Set([stuck.name]) });
  deepEqual(verdict.lost.map((l) => [l.name, l.fault]), [[stuck.name, "crd"]]);
});

Deno.test("judge() tells successful re-runs from partial records and at-least-once repeats", () => {
  const ledger = new ledgers.Ledger();
  const a = created(ledger, 1000);
  a.handled.push([0, 1500]);
  a.recorded.push([0, 1500]);
  const b = created(ledger, 1000);
  b.handled.push([0, 2500]);
  b.recorded.push([0, 2500]);
  const c = created(ledger, 1000);
  c.handled.push([0, 1300]); // the status was written, the diff-base not (yet)
  c.recorded.push([0, 1800]);
  const verdict = oracles.judge({
    ...none,
    ledger,
    final: [a, b, c].map((r) => listed(r.name, 0, { create: { seq: 0 } })),
    invocations: [
      invocation(a.name, "create", 0, 1100),
      invocation(a.name, "create", 0, 1600, true), // its body said so
      invocation(b.name, "create", 0, 1100),
      invocation(b.name, "create", 0, 1200), // killed before the first was recorded: allowed
      invocation(b.name, "create", 0, 2600), // the driver had seen the success recorded at 2500
      invocation(c.name, "create", 0, 1100),
      invocation(c.name, "create", 0, 1400), // after the result, before the record
    ],
    faults: [{ kind: "kill", injectedAt: 1150, healedAt: 1160 }],
  });
  deepEqual(
    verdict.reruns.map((r) => [r.name, r.kind, r.fault]),
    [[c.name, "partial", "kill"], [a.name, "recorded", "kill"], [b.name, "after-recorded", "kill"]],
  );
  equal(verdict.repeatedBeforeRecorded, 1);
  deepEqual(verdict.invocations, { create: 7, update: 0, delete: 0 });
});

Deno.test("judge() counts invocations by a replica that did not hold the Lease then", () => {
  const ledger = new ledgers.Ledger();
  const a = created(ledger, 1000);
  const verdict = oracles.judge({
    ...none,
    ledger,
    final: [listed(a.name, 0, { create: { seq: 0 } })],
    invocations: [
      invocation(a.name, "create", 0, 1_000),
      { ...invocation(a.name, "update", 1, 20_000), by: "replica-1" },
    ],
    holders: [{ at: 0, holder: "replica-0" }],
  });
  equal(verdict.byNonLeader, 1);
});

Deno.test("recovery() measures from the healing to the first new success and to the backlog's end", () => {
  const ledger = new ledgers.Ledger();
  const before = created(ledger, 1000); // requested before the fault, handled after it
  before.handled.push([0, 5200]);
  const during = created(ledger, 4000); // requested before the first new success
  during.handled.push([0, 6000]);
  const later = created(ledger, 9000);
  later.handled.push([0, 9100]);
  const invocations = [
    invocation(before.name, "create", 0, 5100),
    invocation(during.name, "create", 0, 5900),
    invocation(later.name, "create", 0, 9050),
  ];
  const recovery = oracles.recovery(ledger, invocations, 5000);
  deepEqual(recovery, { firstSuccessMs: 200, caughtUpMs: 1000, unsatisfied: 0 });
  equal(oracles.caughtUp(ledger, 8000), true);
  const waiting = created(ledger, 9500);
  equal(oracles.caughtUp(ledger, 9600), false);
  waiting.goneAt = 9700; // deleted before it was handled: nothing to wait for any more
  equal(oracles.caughtUp(ledger, 9600), true);
});

Deno.test("faultAt() names the fault whose window holds the time, or none before the first", () => {
  const faults = [
    { kind: "kill", injectedAt: 100, healedAt: 110 },
    { kind: "crd", injectedAt: 500, healedAt: 900 },
  ];
  deepEqual([50, 100, 499, 500, 10_000].map((at) => oracles.faultAt(faults, at)), [
    "none",
    "kill",
    "kill",
    "crd",
    "crd",
  ]);
});
