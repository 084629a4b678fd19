import { deepEqual, equal } from "node:assert/strict";
import * as causes from "../../../lib/causes/causes.ts";
import * as diffs from "../../../lib/structs/diffs.ts";

const FINALIZER = "kopf.zalando.org/KopfFinalizerMarker";

function body(metadata: Record<string, unknown> = {}, spec: unknown = { x: 1 }) {
  return { metadata: { name: "a", ...metadata }, spec };
}

function detect(overrides: Partial<causes.Detection> = {}): causes.ChangingCause {
  const old = { spec: { x: 1 } };
  const current = { spec: { x: 1 } };
  return causes.detect({
    eventType: "MODIFIED",
    body: body(),
    old,
    new: current,
    diff: diffs.diff(old, current),
    initial: false,
    finalizer: FINALIZER,
    ...overrides,
  });
}

const deleting = { deletionTimestamp: "2026-01-01T00:00:00Z" };

Deno.test("detect() calls a DELETED event gone, even while deletion is ongoing with our finalizer", () => {
  equal(detect({ eventType: "DELETED" }).reason, "gone");
  equal(
    detect({ eventType: "DELETED", body: body({ ...deleting, finalizers: [FINALIZER] }) }).reason,
    "gone",
  );
});

Deno.test("detect() calls a deletion without our finalizer free, and with it delete", () => {
  equal(detect({ body: body({ ...deleting, finalizers: ["other/finalizer"] }) }).reason, "free");
  equal(detect({ body: body(deleting) }).reason, "free");
  const cause = detect({ body: body({ ...deleting, finalizers: [FINALIZER] }) });
  equal(cause.reason, "delete");
  equal(cause.deleting, true);
});

Deno.test("detect() calls an object without a diff-base created, and never mixes creation with resuming", () => {
  const cause = detect({
    old: undefined,
    diff: diffs.diff(undefined, { spec: {} }),
    initial: true,
  });
  equal(cause.reason, "create");
  equal(cause.initial, false);
  equal(cause.deleting, false);
});

Deno.test("detect() calls an unchanged object of the initial listing resumed, otherwise noop", () => {
  const resumed = detect({ initial: true });
  equal(resumed.reason, "resume");
  equal(resumed.initial, true);
  equal(detect({ initial: false }).reason, "noop");
});

Deno.test("detect() calls a changed essence an update, keeping the initial flag for resume handlers", () => {
  const old = { spec: { x: 1 } };
  const current = { spec: { x: 2 } };
  const cause = detect({ old, new: current, diff: diffs.diff(old, current), initial: true });
  equal(cause.reason, "update");
  equal(cause.initial, true);
  deepEqual(cause.diff, [["change", ["spec", "x"], 1, 2]]);
});

Deno.test("detect() treats a present deletionTimestamp of null as no deletion", () => {
  equal(detect({ body: body({ deletionTimestamp: null }) }).reason, "noop");
});

Deno.test("isHandlerReason() separates the handler reasons from the reactor's", () => {
  deepEqual(
    ["create", "update", "delete", "resume", "noop", "free", "gone"].map((r) =>
      causes.isHandlerReason(r as causes.CauseReason)
    ),
    [true, true, true, true, false, false, false],
  );
});

const onCreate = { reason: "create", initial: false, deleted: false } as const;
const onUpdate = { reason: "update", initial: false, deleted: false } as const;
const onDelete = { reason: "delete", initial: false, deleted: false } as const;
const onResume = { reason: "resume", initial: true, deleted: false } as const;
const onResumeDeleted = { reason: "resume", initial: true, deleted: true } as const;
const onField = { reason: undefined, initial: false, deleted: false } as const;

function cause(reason: causes.CauseReason, initial = false, isDeleting = false) {
  return { ...detect(), reason, initial, deleting: isDeleting };
}

Deno.test("invokes() runs handlers of the cause's reason, and field handlers for every handler reason", () => {
  equal(causes.invokes(cause("create"), onCreate), true);
  equal(causes.invokes(cause("create"), onUpdate), false);
  equal(causes.invokes(cause("update"), onUpdate), true);
  equal(causes.invokes(cause("delete", false, true), onDelete), true);
  for (const reason of ["create", "update", "delete", "resume"] as const) {
    equal(causes.invokes(cause(reason), onField), true, reason);
  }
});

Deno.test("invokes() runs nothing for noop, free and gone", () => {
  for (const reason of ["noop", "free", "gone"] as const) {
    for (const gates of [onCreate, onUpdate, onDelete, onResume, onField]) {
      equal(causes.invokes(cause(reason, true), gates), false, `${reason} ${gates.reason}`);
    }
  }
});

Deno.test("invokes() mixes resume handlers into any cause of an object of the initial listing", () => {
  equal(causes.invokes(cause("resume", true), onResume), true);
  equal(causes.invokes(cause("update", true), onResume), true);
  equal(causes.invokes(cause("update", false), onResume), false);
  equal(causes.invokes(cause("resume", true), onUpdate), false);
});

Deno.test("invokes() skips resume handlers while deleting unless they accept deleted objects", () => {
  equal(causes.invokes(cause("delete", true, true), onResume), false);
  equal(causes.invokes(cause("delete", true, true), onResumeDeleted), true);
  equal(causes.invokes(cause("update", true, true), onResume), false);
});

Deno.test("fieldView() gives the field's old and new values and the diff relative to the field", () => {
  const old = { spec: { a: { b: 1 }, c: 1 } };
  const current = { spec: { a: { b: 2 }, c: 2 } };
  const view = causes.fieldView(
    { ...detect(), old, new: current, diff: diffs.diff(old, current) },
    ["spec", "a"],
  );
  deepEqual(view.old, { b: 1 });
  deepEqual(view.new, { b: 2 });
  deepEqual(view.diff, [["change", ["b"], 1, 2]]);
});

Deno.test("fieldView() gives undefined for a field missing on one side", () => {
  const current = { spec: { a: 1 } };
  const view = causes.fieldView(
    { ...detect(), old: undefined, new: current, diff: diffs.diff(undefined, current) },
    ["spec", "a"],
  );
  equal(view.old, undefined);
  equal(view.new, 1);
  deepEqual(view.diff, [["add", [], undefined, 1]]);
});

Deno.test("fieldChanged() sees changes, appearances and disappearances of the field only", () => {
  const view = (old: Record<string, unknown> | undefined, current: Record<string, unknown>) => ({
    ...detect(),
    old,
    new: current,
    diff: diffs.diff(old, current),
  });
  equal(
    causes.fieldChanged(view({ spec: { a: 1, b: 1 } }, { spec: { a: 1, b: 2 } }), ["spec", "a"]),
    false,
  );
  equal(causes.fieldChanged(view({ spec: { a: 1 } }, { spec: { a: 2 } }), ["spec", "a"]), true);
  equal(causes.fieldChanged(view({ spec: {} }, { spec: { a: 2 } }), ["spec", "a"]), true);
  equal(causes.fieldChanged(view({ spec: { a: 1 } }, { spec: {} }), ["spec", "a"]), true);
  equal(causes.fieldChanged(view(undefined, { spec: { a: 1 } }), ["spec", "a"]), true);
  equal(
    causes.fieldChanged(view({ spec: { a: [1] } }, { spec: { a: [1] } }), ["spec", "a"]),
    false,
  );
});
