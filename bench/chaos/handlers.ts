// The operator under chaos: create, update and delete handlers for kopfexamples.v1.kopf.dev that
// append one JSON line per invocation to $CHAOS_INVOCATIONS — the object, the handler, the
// spec's `seq`, and whether this handler's success was already recorded on the body as it
// arrived (a re-run the oracle counts) — and return `{ seq }`, which the framework stores in
// `status.<handler>` for the oracle to read. A startup handler applies $CHAOS_LEASE timings.
//
// Run: deno run -A cli.ts run bench/chaos/handlers.ts -n <namespace> [--peering lease]

import * as kopf from "../../mod.ts";

const RESOURCE = "kopfexamples.v1.kopf.dev";
const PREFIX = "kopf.zalando.org";
const DIFFBASE = `${PREFIX}/last-handled-configuration`;

const invocations = Deno.env.get("CHAOS_INVOCATIONS");
if (!invocations) throw new Error("CHAOS_INVOCATIONS is not set: the handlers need a log file");
const by = Deno.env.get("POD_ID") ?? `pid-${Deno.pid}`;
const handlerMs = Number(Deno.env.get("CHAOS_HANDLER_MS") ?? "30");

/** One line of the invocation log. */
export interface Invocation {
  readonly name: string;
  readonly uid: string;
  readonly handler: "create" | "update" | "delete";
  readonly seq: number;
  /** This handler's success was already recorded on the body the handler got. */
  readonly recorded: boolean;
  /** The body's resourceVersion. */
  readonly rv: string;
  /** Epoch ms at the handler's first statement. */
  readonly at: number;
  /** The replica ($POD_ID). */
  readonly by: string;
  readonly retry: number;
}

kopf.on.startup(function timings({ settings }) {
  const lease = Deno.env.get("CHAOS_LEASE");
  if (!lease) return;
  const [duration, renew, retry] = lease.split(",").map(Number);
  settings.peering.lease.leaseDurationSeconds = duration!;
  settings.peering.lease.renewDeadlineSeconds = renew!;
  settings.peering.lease.retryPeriodSeconds = retry!;
});

kopf.on.create(RESOURCE, { id: "create" }, async (kwargs) => {
  const annotations = kwargs.annotations;
  note(
    kwargs,
    "create",
    annotations[DIFFBASE] !== undefined || progressSucceeded(kwargs, "create"),
  );
  await delay(handlerMs);
  return { seq: seqOf(kwargs.spec) };
});

kopf.on.update(RESOURCE, { id: "update" }, async (kwargs) => {
  // The change was handled already when the diff-base holds this very spec.
  const handled = essenceSpec(kwargs.annotations[DIFFBASE]);
  const same = handled !== undefined && JSON.stringify(handled) === JSON.stringify(kwargs.spec);
  note(kwargs, "update", same || progressSucceeded(kwargs, "update"));
  await delay(handlerMs);
  return { seq: seqOf(kwargs.spec) };
});

kopf.on.delete(RESOURCE, { id: "delete" }, async (kwargs) => {
  note(kwargs, "delete", progressSucceeded(kwargs, "delete"));
  await delay(handlerMs);
});

interface Kwargs {
  readonly name: string;
  readonly uid: string;
  readonly spec: unknown;
  readonly annotations: Readonly<Record<string, string>>;
  readonly meta: { readonly resourceVersion?: string };
  readonly retry: number;
}

function note(kwargs: Kwargs, handler: Invocation["handler"], recorded: boolean): void {
  const line: Invocation = {
    name: kwargs.name,
    uid: kwargs.uid,
    handler,
    seq: seqOf(kwargs.spec),
    recorded,
    rv: kwargs.meta.resourceVersion ?? "",
    at: Date.now(),
    by,
    retry: kwargs.retry,
  };
  // One write of one short line with O_APPEND: lines of two replicas never interleave.
  Deno.writeTextFileSync(invocations!, JSON.stringify(line) + "\n", { append: true });
}

/** Whether the handler's progress record says it succeeded (Kopf's `<prefix>/<id>` annotation). */
function progressSucceeded(kwargs: Kwargs, id: string): boolean {
  try {
    return JSON.parse(kwargs.annotations[`${PREFIX}/${id}`] ?? "{}").success === true;
  } catch {
    return false;
  }
}

function essenceSpec(diffbase: string | undefined): unknown {
  if (diffbase === undefined) return undefined;
  try {
    return (JSON.parse(diffbase) as { spec?: unknown }).spec ?? {};
  } catch {
    return undefined;
  }
}

function seqOf(spec: unknown): number {
  const seq = (spec as { seq?: unknown } | undefined)?.seq;
  return typeof seq === "number" ? seq : -1;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
