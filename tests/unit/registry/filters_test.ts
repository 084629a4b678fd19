import { deepEqual, equal } from "node:assert/strict";
import type * as causes from "../../../lib/causes/causes.ts";
import * as filters from "../../../lib/registry/filters.ts";
import type * as handlers from "../../../lib/registry/handlers.ts";
import { ABSENT, PRESENT } from "../../../lib/registry/handlers.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as diffs from "../../../lib/structs/diffs.ts";

const CONTEXT = { marker: "the context" };

type Kind = "create" | "update" | "delete" | "resume" | "field";

// deno-lint-ignore no-explicit-any
function changing(kind: Kind, options: any = {}, fn = function handler() {}) {
  const registry = new registries.OperatorRegistry();
  // deno-lint-ignore no-explicit-any
  (on as any)[kind]("kopfexamples", { ...options, registry }, fn);
  return registry.allChangingHandlers()[0] as handlers.ChangingHandler;
}

// deno-lint-ignore no-explicit-any
function watching(options: any = {}) {
  const registry = new registries.OperatorRegistry();
  on.event("kopfexamples", { ...options, registry }, function spy() {});
  return registry.allWatchingHandlers()[0] as handlers.WatchingHandler;
}

function body(metadata: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) {
  return { metadata: { name: "a", ...metadata }, spec };
}

function cause(
  reason: causes.CauseReason,
  old: Record<string, unknown> | undefined,
  current: Record<string, unknown>,
  extra: Partial<causes.ChangingCause> = {},
): causes.ChangingCause {
  return {
    reason,
    initial: false,
    deleting: false,
    body: { metadata: { name: "a" }, ...current },
    old,
    new: current,
    diff: diffs.diff(old, current),
    ...extra,
  };
}

Deno.test("labels filters match exact values, PRESENT and ABSENT", () => {
  const labels = { app: "web", tier: "front" };
  equal(filters.matchesMeta({ app: "web" }, labels, CONTEXT), true);
  equal(filters.matchesMeta({ app: "db" }, labels, CONTEXT), false);
  equal(filters.matchesMeta({ zone: "a" }, labels, CONTEXT), false);
  equal(filters.matchesMeta({ app: PRESENT, zone: ABSENT }, labels, CONTEXT), true);
  equal(filters.matchesMeta({ zone: PRESENT }, labels, CONTEXT), false);
  equal(filters.matchesMeta({ app: ABSENT }, labels, CONTEXT), false);
  equal(filters.matchesMeta({ app: "web", tier: "back" }, labels, CONTEXT), false);
  equal(filters.matchesMeta({ zone: ABSENT }, undefined, CONTEXT), true);
});

Deno.test("labels predicates receive the value (undefined when missing) and the context", () => {
  const calls: unknown[] = [];
  const predicate = (value: unknown, context: unknown) => {
    calls.push([value, context]);
    return value === "web";
  };
  equal(filters.matchesMeta({ app: predicate }, { app: "web" }, CONTEXT), true);
  equal(filters.matchesMeta({ app: predicate }, {}, CONTEXT), false);
  deepEqual(calls, [["web", CONTEXT], [undefined, CONTEXT]]);
});

Deno.test("handlers match on labels and annotations of the current body", () => {
  const handler = changing("update", {
    labels: { app: "web" },
    annotations: { "example.com/mode": PRESENT, "example.com/off": ABSENT },
  });
  const subject = (metadata: Record<string, unknown>) => ({ body: body(metadata) });
  const annotations = { "example.com/mode": "x" };
  equal(filters.matches(handler, subject({ labels: { app: "web" }, annotations }), CONTEXT), true);
  equal(filters.matches(handler, subject({ labels: { app: "db" }, annotations }), CONTEXT), false);
  equal(filters.matches(handler, subject({ labels: { app: "web" } }), CONTEXT), false);
  equal(
    filters.matches(
      handler,
      subject({
        labels: { app: "web" },
        annotations: { ...annotations, "example.com/off": "" },
      }),
      CONTEXT,
    ),
    false,
  );
});

Deno.test("annotation predicates see the annotation's value", () => {
  const handler = watching({ annotations: { "example.com/size": (v: string) => Number(v) > 2 } });
  const subject = (size: string) => ({ body: body({ annotations: { "example.com/size": size } }) });
  equal(filters.matches(handler, subject("3"), CONTEXT), true);
  equal(filters.matches(handler, subject("1"), CONTEXT), false);
});

Deno.test("when receives the context and runs last, after the cheaper filters", () => {
  const seen: unknown[] = [];
  const handler = watching({
    labels: { app: "web" },
    when: (context: unknown) => {
      seen.push(context);
      return true;
    },
  });
  equal(filters.matches(handler, { body: body({ labels: { app: "db" } }) }, CONTEXT), false);
  deepEqual(seen, []);
  equal(filters.matches(handler, { body: body({ labels: { app: "web" } }) }, CONTEXT), true);
  deepEqual(seen, [CONTEXT]);
  equal(filters.matches(watching({ when: () => false }), { body: body() }, CONTEXT), false);
});

Deno.test("a field without a value requires the field to be present", () => {
  const handler = watching({ field: "spec.size" });
  equal(filters.matches(handler, { body: body({}, { size: 0 }) }, CONTEXT), true);
  equal(filters.matches(handler, { body: body({}, { size: null }) }, CONTEXT), true);
  equal(filters.matches(handler, { body: body({}, {}) }, CONTEXT), false);
});

Deno.test("field values match deep-equal values, PRESENT, ABSENT and predicates", () => {
  const subject = { body: body({}, { size: { cpu: 2 } }) };
  const missing = { body: body({}, {}) };
  equal(
    filters.matches(watching({ field: "spec.size", value: { cpu: 2 } }), subject, CONTEXT),
    true,
  );
  equal(
    filters.matches(watching({ field: "spec.size", value: { cpu: 3 } }), subject, CONTEXT),
    false,
  );
  equal(filters.matches(watching({ field: "spec.size", value: PRESENT }), subject, CONTEXT), true);
  equal(filters.matches(watching({ field: "spec.size", value: PRESENT }), missing, CONTEXT), false);
  equal(filters.matches(watching({ field: "spec.size", value: ABSENT }), missing, CONTEXT), true);
  equal(filters.matches(watching({ field: "spec.size", value: ABSENT }), subject, CONTEXT), false);
  const calls: unknown[] = [];
  const predicate = (value: unknown, context: unknown) => {
    calls.push([value, context]);
    return value === undefined;
  };
  equal(
    filters.matches(watching({ field: "spec.size", value: predicate }), missing, CONTEXT),
    true,
  );
  deepEqual(calls, [[undefined, CONTEXT]]);
});

Deno.test("update handlers match a value if either the old or the new value satisfies it", () => {
  const handler = changing("update", { field: "spec.mode", value: "on" });
  equal(
    filters.matches(
      handler,
      cause("update", { spec: { mode: "off" } }, { spec: { mode: "on" } }),
      CONTEXT,
    ),
    true,
  );
  equal(
    filters.matches(
      handler,
      cause("update", { spec: { mode: "on" } }, { spec: { mode: "off" } }),
      CONTEXT,
    ),
    true,
  );
  equal(
    filters.matches(
      handler,
      cause("update", { spec: { mode: "a" } }, { spec: { mode: "b" } }),
      CONTEXT,
    ),
    false,
  );
});

Deno.test("update value predicates try the new value first and stop when it satisfies them", () => {
  const seen: unknown[] = [];
  const handler = changing("update", {
    field: "spec.mode",
    value: (v: unknown) => {
      seen.push(v);
      return v === "on";
    },
  });
  filters.matches(
    handler,
    cause("update", { spec: { mode: "off" } }, { spec: { mode: "on" } }),
    CONTEXT,
  );
  deepEqual(seen, ["on"]);
  filters.matches(
    handler,
    cause("update", { spec: { mode: "on" } }, { spec: { mode: "off" } }),
    CONTEXT,
  );
  deepEqual(seen, ["on", "off", "on"]);
});

Deno.test("creation has no old value: only the new one can satisfy a value filter", () => {
  const absent = changing("create", { field: "spec.mode", value: ABSENT });
  equal(
    filters.matches(absent, cause("create", undefined, { spec: { mode: "on" } }), CONTEXT),
    false,
  );
  equal(filters.matches(absent, cause("create", undefined, { spec: {} }), CONTEXT), true);
});

Deno.test("old and new filters test the field's value before and after the change", () => {
  const handler = changing("update", { field: "spec.mode", old: "off", new: "on" });
  const run = (a: unknown, b: unknown) =>
    filters.matches(
      handler,
      cause("update", { spec: { mode: a } }, { spec: { mode: b } }),
      CONTEXT,
    );
  equal(run("off", "on"), true);
  equal(run("on", "off"), false);
  equal(run("x", "on"), false);
});

Deno.test("old and new filters accept PRESENT, ABSENT and predicates", () => {
  const appeared = changing("field", { field: "spec.mode", old: ABSENT, new: PRESENT });
  equal(
    filters.matches(appeared, cause("update", { spec: {} }, { spec: { mode: "on" } }), CONTEXT),
    true,
  );
  equal(
    filters.matches(
      appeared,
      cause("update", { spec: { mode: "a" } }, { spec: { mode: "b" } }),
      CONTEXT,
    ),
    false,
  );
  const grew = changing("update", {
    field: "spec.size",
    old: (v: number | undefined) => (v ?? 0) < 3,
    new: (v: number, context: unknown) => v >= 3 && context === CONTEXT,
  });
  equal(
    filters.matches(grew, cause("update", { spec: { size: 1 } }, { spec: { size: 5 } }), CONTEXT),
    true,
  );
  equal(
    filters.matches(grew, cause("update", { spec: { size: 4 } }, { spec: { size: 5 } }), CONTEXT),
    false,
  );
});

Deno.test("update and field handlers with a field match only when that field changed", () => {
  const handler = changing("update", { field: "spec.a" });
  equal(
    filters.matches(
      handler,
      cause("update", { spec: { a: 1, b: 1 } }, { spec: { a: 1, b: 2 } }),
      CONTEXT,
    ),
    false,
  );
  equal(
    filters.matches(handler, cause("update", { spec: { a: 1 } }, { spec: { a: 2 } }), CONTEXT),
    true,
  );
  const create = changing("create", { field: "spec.a" });
  equal(
    filters.matches(create, cause("resume", { spec: { a: 1 } }, { spec: { a: 1 } }), CONTEXT),
    true,
  );
});

Deno.test("selectChanging() picks handlers by reason, field change and filters, in registration order", () => {
  const registry = new registries.OperatorRegistry();
  const fns = {
    created: function created() {},
    updated: function updated() {},
    scaled: function scaled() {},
    resumed: function resumed() {},
    deleted: function deleted() {},
  };
  on.create("kopfexamples", { registry }, fns.created);
  on.update("kopfexamples", { registry }, fns.updated);
  on.field("kopfexamples", { registry, field: "spec.size" }, fns.scaled);
  on.resume("kopfexamples", { registry }, fns.resumed);
  on.delete("kopfexamples", { registry }, fns.deleted);
  const all = registry.allChangingHandlers();
  const names = (c: causes.ChangingCause) =>
    filters.selectChanging(all, c, CONTEXT).map((h) => h.id);

  deepEqual(names(cause("create", undefined, { spec: { size: 1 } })), [
    "created",
    "scaled/spec.size",
  ]);
  deepEqual(names(cause("update", { spec: { size: 1 } }, { spec: { size: 2 } })), [
    "updated",
    "scaled/spec.size",
  ]);
  deepEqual(names(cause("update", { spec: { x: 1 } }, { spec: { x: 2 } })), ["updated"]);
  deepEqual(names(cause("update", { spec: { x: 1 } }, { spec: { x: 2 } }, { initial: true })), [
    "updated",
    "resumed",
  ]);
  deepEqual(names(cause("resume", { spec: {} }, { spec: {} }, { initial: true })), ["resumed"]);
  deepEqual(names(cause("delete", { spec: {} }, { spec: {} }, { initial: true, deleting: true })), [
    "deleted",
  ]);
  deepEqual(names(cause("noop", { spec: {} }, { spec: {} })), []);
});

Deno.test("selectChanging() runs a function registered for several reasons once, as first registered", () => {
  const registry = new registries.OperatorRegistry();
  function ensure() {}
  on.create("kopfexamples", { registry }, ensure);
  on.resume("kopfexamples", { registry }, ensure);
  on.update("kopfexamples", { registry }, ensure);
  const selected = filters.selectChanging(
    registry.allChangingHandlers(),
    cause("update", { spec: { x: 1 } }, { spec: { x: 2 } }, { initial: true }),
    CONTEXT,
  );
  equal(selected.length, 1);
  equal(selected[0]?.reason, "resume");
});

Deno.test("selectWatching() picks event handlers whose filters match the body", () => {
  const registry = new registries.OperatorRegistry();
  on.event("kopfexamples", { registry, labels: { app: "web" } }, function web() {});
  on.event("kopfexamples", { registry }, function all() {});
  const ids = (labels: Record<string, string>) =>
    filters.selectWatching(registry.allWatchingHandlers(), { body: body({ labels }) }, CONTEXT)
      .map((h) => h.id);
  deepEqual(ids({ app: "web" }), ["web", "all"]);
  deepEqual(ids({ app: "db" }), ["all"]);
});

Deno.test("requiresFinalizer() is true when a non-optional delete handler pre-matches, whatever the cause", () => {
  const required = changing("delete", { labels: { app: "web" } });
  const optional = changing("delete", { optional: true });
  const created = cause("create", undefined, { metadata: { labels: { app: "web" } }, spec: {} });
  const other = cause("create", undefined, { metadata: { labels: { app: "db" } }, spec: {} });
  equal(filters.requiresFinalizer([required], created, CONTEXT), true);
  equal(filters.requiresFinalizer([required], other, CONTEXT), false);
  equal(filters.requiresFinalizer([optional], created, CONTEXT), false);
  equal(filters.requiresFinalizer([changing("create")], created, CONTEXT), false);
});

Deno.test("anyPrematches() tells objects in scope from objects no handler is interested in", () => {
  const handler = changing("update", { labels: { app: "web" }, field: "spec.a" });
  const c = (labels: Record<string, string>) =>
    cause("update", { spec: { a: 1 } }, { metadata: { labels }, spec: { a: 1 } });
  equal(filters.anyPrematches([handler], c({ app: "web" }), CONTEXT), true);
  equal(filters.matches(handler, c({ app: "web" }), CONTEXT), false);
  equal(filters.anyPrematches([handler], c({ app: "db" }), CONTEXT), false);
});
