// An operator process for the crash-safety test: three create handlers that append one line per
// invocation to a log file (object, handler, and whether its success was already recorded on the
// object it was given), then run() on the namespace from KOPF_TEST_NAMESPACE.

import * as kopf from "../../../mod.ts";

const log = Deno.env.get("KOPF_TEST_INVOCATIONS")!;
const namespace = Deno.env.get("KOPF_TEST_NAMESPACE")!;
const DIFFBASE = "kopf.zalando.org/last-handled-configuration";

function recorded(annotations: Readonly<Record<string, string>>, id: string): boolean {
  if (annotations[DIFFBASE] !== undefined) return true;
  try {
    return JSON.parse(annotations[`kopf.zalando.org/${id}`] ?? "{}").success === true;
  } catch {
    return false;
  }
}

for (const id of ["first", "second", "third"]) {
  kopf.on.create("kopfexamples.v1.kopf.dev", { id }, async ({ name, annotations }) => {
    Deno.writeTextFileSync(log, `${name} ${id} ${recorded(annotations, id)}\n`, { append: true });
    await new Promise((resolve) => setTimeout(resolve, 40)); // a handler that takes a moment
    return { done: true };
  });
}

// The first processed event tells the test that this process serves (and handles signals).
const ready = Deno.env.get("KOPF_TEST_READY");
let announced = false;
Deno.exit(
  await kopf.run({
    namespaces: [namespace],
    logging: { level: "warning" },
    onProcessed: () => {
      if (ready && !announced) Deno.writeTextFileSync(ready, "serving\n");
      announced = true;
    },
  }),
);
