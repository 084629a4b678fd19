// The benchmarked operator built on this framework: the behaviour of bench/operators/BEHAVIOUR.md
// for benchobjects.v1.bench.kopf.dev, at the framework's defaults. The variant comes from
// BENCH_VARIANT (create, delete, three, update); the namespace is the `-n` of the command line.
//
// Run: deno run -A cli.ts run bench/operators/deno/handlers.ts -n <namespace>

import * as kopf from "../../../mod.ts";

const RESOURCE = "benchobjects.v1.bench.kopf.dev";
const VARIANTS = ["create", "delete", "three", "update"] as const;

const variant = Deno.env.get("BENCH_VARIANT") ?? "create";
if (!(VARIANTS as readonly string[]).includes(variant)) {
  throw new Error(`Unknown BENCH_VARIANT "${variant}": expected one of ${VARIANTS.join(", ")}`);
}

if (variant === "create" || variant === "delete" || variant === "update") {
  kopf.on.create(RESOURCE, function create_fn({ name, spec, patch }) {
    const startedAt = Date.now();
    patch.status.message = `handled ${name}`;
    patch.status.startedAt = startedAt;
    if (variant === "update" && spec.value !== undefined) patch.status.observed = spec.value;
  });
}

if (variant === "delete") {
  // A non-optional delete handler: the framework keeps its finalizer on the object until it ran.
  kopf.on.delete(RESOURCE, function delete_fn() {});
}

if (variant === "update") {
  // Runs for every change of the spec after the create handler ran (the status is not watched).
  kopf.on.update(RESOURCE, function update_fn({ spec, patch }) {
    if (spec.value !== undefined) patch.status.observed = spec.value;
  });
}

if (variant === "three") {
  kopf.on.create(RESOURCE, function h1({ name, patch }) {
    const startedAt = Date.now();
    patch.status.message = `handled ${name}`;
    patch.status.startedAt = startedAt;
    patch.status.h1 = "done";
  });
  kopf.on.create(RESOURCE, function h2({ patch }) {
    patch.status.h2 = "done";
  });
  kopf.on.create(RESOURCE, function h3({ patch }) {
    patch.status.h3 = "done";
  });
}
