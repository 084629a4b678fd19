// Leader election on fake time: the decision of one attempt, the records written, MicroTime, and
// the loop (acquire, renew, lose at the renew deadline, release) against an in-memory Lease.

import { deepEqual, equal, match, ok } from "node:assert/strict";
import * as clocks from "../../../lib/async/clock.ts";
import * as toggles from "../../../lib/async/toggles.ts";
import * as leases from "../../../lib/engines/leases.ts";
import * as errors from "../../../lib/k8s/errors.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import * as peeringSettings from "../../../lib/settings/peering.ts";
import { plainConnection } from "../../_fixtures/fake_operator.ts";
import { recordingLogger } from "../../_fixtures/loggers.ts";

const START = Date.UTC(2026, 11, 7, 1, 50, 0, 0);

function failure(code: number, method: string, reason: string): errors.ApiError {
  return errors.apiError({ kind: "Status", code, reason, message: `${reason} (injected)` }, {
    code,
    method,
    url: "http://127.0.0.1:9/apis/coordination.k8s.io/v1/namespaces/ns/leases/op",
  });
}

/** The Lease API in memory: GET, POST and PUT of one Lease, with resourceVersion checks. */
class MemoryLeases extends transports.Transport {
  lease: leases.Lease | undefined;
  methods: string[] = [];
  /** Every request fails with this until cleared. */
  failing: ((method: string) => unknown) | undefined;
  /** Every request hangs until its signal aborts. */
  hanging = false;
  /** Called with each PUT body before it is stored. */
  onPut: ((body: leases.Lease) => void) | undefined;
  #rv = 0;

  constructor() {
    super(plainConnection("http://127.0.0.1:9"));
  }

  /** Writes the Lease as another party would. */
  put(spec: leases.LeaseRecord): void {
    this.lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "op", namespace: "ns", resourceVersion: String(++this.#rv) },
      spec: structuredClone(spec),
    };
  }

  override request<T>(
    method: string,
    _path: string,
    options: transports.RequestOptions = {},
  ): Promise<T> {
    this.methods.push(method);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.hanging) {
      return new Promise((_, reject) =>
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true })
      );
    }
    if (this.failing) return Promise.reject(this.failing(method));
    const body = options.body as leases.Lease | undefined;
    switch (method) {
      case "GET":
        if (!this.lease) return Promise.reject(failure(404, method, "NotFound"));
        return Promise.resolve(structuredClone(this.lease) as T);
      case "POST":
        if (this.lease) return Promise.reject(failure(409, method, "AlreadyExists"));
        this.put(body!.spec!);
        return Promise.resolve(structuredClone(this.lease) as T);
      case "PUT":
        if (body?.metadata?.resourceVersion !== this.lease?.metadata?.resourceVersion) {
          return Promise.reject(failure(409, method, "Conflict"));
        }
        this.onPut?.(body!);
        this.put(body!.spec!);
        return Promise.resolve(structuredClone(this.lease) as T);
      default:
        return Promise.reject(new Error(`Unexpected ${method}`));
    }
  }
}

/** Lets every pending promise callback run (fake-clock wake-ups resolve promises). */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Moves fake time forward in small steps, letting the election run at each. */
async function pass(clock: clocks.FakeClock, ms: number, stepMs = 100): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    await settle();
    clock.advance(Math.min(stepMs, ms - done));
  }
  await settle();
}

function candidate(
  transport: MemoryLeases,
  overrides: Partial<peeringSettings.LeaseSettings> = {},
  identity = "me",
) {
  const clock = new clocks.FakeClock(START);
  const stop = new AbortController();
  const notLeading = new toggles.Toggle(true, "lease");
  const status = leases.newLeaseStatus();
  const logger = recordingLogger();
  const settings = { ...peeringSettings.defaultPeering().lease, ...overrides };
  const done = leases.elect({
    transport,
    namespace: "ns",
    name: "op",
    identity,
    settings,
    clock,
    signal: stop.signal,
    notLeading,
    status,
    random: () => 0,
    logger,
  });
  return { clock, stop, notLeading, status, logger, done, settings };
}

// ---- decide() ----

Deno.test("decide(): no Lease yet is acquired by creating it", () => {
  equal(leases.decide(undefined, 0, 0, "me"), "acquire");
});

Deno.test("decide(): our own Lease is renewed, even when it looks expired", () => {
  const record = { holderIdentity: "me", leaseDurationSeconds: 15 };
  equal(leases.decide(record, 0, 1_000, "me"), "renew");
  equal(leases.decide(record, 0, 60_000, "me"), "renew");
});

Deno.test("decide(): another holder's Lease is waited for until observedAt plus its duration", () => {
  const record = { holderIdentity: "other", leaseDurationSeconds: 15 };
  equal(leases.decide(record, 5_000, 5_000, "me"), "wait");
  equal(leases.decide(record, 5_000, 19_999, "me"), "wait");
  equal(leases.decide(record, 5_000, 20_000, "me"), "takeover");
});

Deno.test("decide(): the record's duration counts, the default only when it has none", () => {
  equal(
    leases.decide({ holderIdentity: "other", leaseDurationSeconds: 2 }, 0, 2_000, "me"),
    "takeover",
  );
  equal(leases.decide({ holderIdentity: "other" }, 0, 14_000, "me", 15), "wait");
  equal(leases.decide({ holderIdentity: "other" }, 0, 15_000, "me", 15), "takeover");
});

Deno.test("decide(): a released Lease (no holder) is taken over at once", () => {
  equal(leases.decide({ holderIdentity: "", leaseDurationSeconds: 1 }, 0, 0, "me"), "takeover");
  equal(leases.decide({}, 0, 0, "me"), "takeover");
});

Deno.test("decide(): the holder's renewTime does not count, only when we saw it change (clock skew)", () => {
  // The holder's clock is an hour behind: its renewTime looks stale, yet we saw it change now.
  const record = {
    holderIdentity: "other",
    leaseDurationSeconds: 15,
    renewTime: leases.microTime(START - 3_600_000),
  };
  equal(leases.decide(record, START, START + 1_000, "me"), "wait");
});

// ---- records ----

Deno.test("nextRecord(): a new Lease starts with us as holder and no transitions", () => {
  deepEqual(leases.nextRecord("acquire", undefined, START, "me", 15), {
    holderIdentity: "me",
    leaseDurationSeconds: 15,
    acquireTime: "2026-12-07T01:50:00.000000Z",
    renewTime: "2026-12-07T01:50:00.000000Z",
    leaseTransitions: 0,
  });
});

Deno.test("nextRecord(): a renewal keeps acquireTime and transitions; a takeover counts one more", () => {
  const old = {
    holderIdentity: "me",
    leaseDurationSeconds: 15,
    acquireTime: "2026-12-07T01:00:00.000000Z",
    renewTime: "2026-12-07T01:49:58.000000Z",
    leaseTransitions: 3,
  };
  deepEqual(leases.nextRecord("renew", old, START, "me", 15), {
    ...old,
    renewTime: "2026-12-07T01:50:00.000000Z",
  });
  deepEqual(leases.nextRecord("takeover", { ...old, holderIdentity: "other" }, START, "me", 15), {
    holderIdentity: "me",
    leaseDurationSeconds: 15,
    acquireTime: "2026-12-07T01:50:00.000000Z",
    renewTime: "2026-12-07T01:50:00.000000Z",
    leaseTransitions: 4,
  });
});

Deno.test("releasedRecord(): no holder, 1 s of duration, the transitions kept", () => {
  deepEqual(leases.releasedRecord({ holderIdentity: "me", leaseTransitions: 2 }, START), {
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTime: "2026-12-07T01:50:00.000000Z",
    renewTime: "2026-12-07T01:50:00.000000Z",
    leaseTransitions: 2,
  });
});

Deno.test("observe(): the observed time moves only when the record changes, whatever its key order", () => {
  const first = leases.observe(undefined, { holderIdentity: "a", leaseTransitions: 0 }, 1_000);
  equal(first.at, 1_000);
  const same = leases.observe(first, { leaseTransitions: 0, holderIdentity: "a" }, 5_000);
  equal(same.at, 1_000);
  const changed = leases.observe(same, { holderIdentity: "a", leaseTransitions: 1 }, 6_000);
  equal(changed.at, 6_000);
});

// ---- microTime() ----

Deno.test("microTime(): RFC 3339 in UTC with exactly 6 fractional digits", () => {
  equal(leases.microTime(Date.UTC(2026, 11, 7, 1, 50, 0, 123)), "2026-12-07T01:50:00.123000Z");
  equal(leases.microTime(Date.UTC(2026, 0, 1)), "2026-01-01T00:00:00.000000Z");
  equal(leases.microTime(Date.UTC(2026, 0, 1) + 7.25), "2026-01-01T00:00:00.007250Z");
  match(leases.microTime(Date.now()), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
});

Deno.test("newLeaseStatus(): not leading, nothing seen", () => {
  deepEqual(leases.newLeaseStatus(), {
    leading: false,
    holder: undefined,
    transitions: 0,
    renewedAt: undefined,
  });
});

// ---- the loop ----

Deno.test("elect(): a missing Lease is created with us as holder, and we lead and renew it", async () => {
  const transport = new MemoryLeases();
  const c = candidate(transport);
  await pass(c.clock, 0);
  equal(c.notLeading.on, false);
  equal(c.status.leading, true);
  equal(c.status.holder, "me");
  equal(transport.lease?.spec?.holderIdentity, "me");
  equal(transport.lease?.spec?.leaseTransitions, 0);
  equal(transport.lease?.spec?.renewTime, "2026-12-07T01:50:00.000000Z");
  await pass(c.clock, 2_000);
  equal(transport.lease?.spec?.renewTime, "2026-12-07T01:50:02.000000Z");
  equal(transport.lease?.spec?.acquireTime, "2026-12-07T01:50:00.000000Z");
  equal(c.status.renewedAt, START + 2_000);
  // The leader renews the copy it wrote, without reading it first.
  deepEqual(transport.methods, ["GET", "POST", "PUT"]);
  c.stop.abort();
  await c.done;
  ok(c.logger.messages("info").some((m) => m.startsWith("Became the leader of Lease")));
});

Deno.test("elect(): a leader that cannot renew steps down at the renew deadline, not before", async () => {
  const transport = new MemoryLeases();
  const c = candidate(transport); // retry 2 s, renew deadline 10 s, lease 15 s
  await pass(c.clock, 0);
  equal(c.notLeading.on, false);
  transport.failing = (method) => failure(503, method, "ServiceUnavailable");
  // The last renewal was at 0 s; the next round starts at 2 s and may try until 12 s.
  await pass(c.clock, 11_900);
  equal(c.notLeading.on, false, "still leading within the renew deadline");
  equal(c.status.leading, true);
  await pass(c.clock, 200);
  equal(c.notLeading.on, true, "stepped down at the renew deadline");
  equal(c.status.leading, false);
  ok(c.logger.messages("warning").some((m) => m.startsWith("Stopped leading Lease")));
  equal(
    c.logger.messages("warning").filter((m) => m.startsWith("Cannot")).length,
    1,
    "the repeated failure is logged once",
  );
  // Back to a candidate: once the API answers, our own Lease is ours again.
  transport.failing = undefined;
  await pass(c.clock, 2_000);
  equal(c.notLeading.on, false);
  equal(transport.lease?.spec?.leaseTransitions, 0, "renewing our own Lease is no transition");
  c.stop.abort();
  await c.done;
});

Deno.test("elect(): a renewal that hangs is cut at the renew deadline", async () => {
  const transport = new MemoryLeases();
  const c = candidate(transport, { renewDeadlineSeconds: 5 });
  await pass(c.clock, 0);
  transport.hanging = true;
  await pass(c.clock, 6_900); // the round starts at 2 s; its deadline is 7 s
  equal(c.notLeading.on, false);
  await pass(c.clock, 200);
  equal(c.notLeading.on, true);
  transport.hanging = false;
  c.stop.abort();
  await c.done;
});

Deno.test("elect(): another holder's Lease is taken over only after its duration since we saw it change", async () => {
  const transport = new MemoryLeases();
  // Renewed "an hour ago" by the holder's clock: irrelevant, we count from when we saw it.
  transport.put({
    holderIdentity: "other",
    leaseDurationSeconds: 15,
    acquireTime: leases.microTime(START - 3_600_000),
    renewTime: leases.microTime(START - 3_600_000),
    leaseTransitions: 4,
  });
  const c = candidate(transport);
  await pass(c.clock, 14_900);
  equal(c.notLeading.on, true, "waits while the other's lease is valid");
  equal(c.status.holder, "other");
  equal(c.status.transitions, 4);
  await pass(c.clock, 2_200);
  equal(c.notLeading.on, false, "took over after the lease duration");
  equal(transport.lease?.spec?.holderIdentity, "me");
  equal(transport.lease?.spec?.leaseTransitions, 5);
  equal(c.status.transitions, 5);
  c.stop.abort();
  await c.done;
});

Deno.test("elect(): a holder that keeps renewing is never taken over", async () => {
  const transport = new MemoryLeases();
  const record = { holderIdentity: "other", leaseDurationSeconds: 15, leaseTransitions: 0 };
  transport.put({ ...record, renewTime: leases.microTime(START) });
  const c = candidate(transport);
  for (let second = 1; second <= 60; second++) {
    await pass(c.clock, 1_000);
    transport.put({ ...record, renewTime: leases.microTime(c.clock.now()) });
    equal(c.notLeading.on, true);
  }
  equal(transport.lease?.spec?.holderIdentity, "other");
  c.stop.abort();
  await c.done;
});

Deno.test("elect(): a leader that finds another holder stops acting at once", async () => {
  const transport = new MemoryLeases();
  const c = candidate(transport);
  await pass(c.clock, 0);
  equal(c.notLeading.on, false);
  transport.put({ holderIdentity: "other", leaseDurationSeconds: 15, leaseTransitions: 1 });
  await pass(c.clock, 2_000);
  equal(c.notLeading.on, true);
  ok(c.logger.messages("info").includes("Lost the lease {lease} to {holder}"));
  c.stop.abort();
  await c.done;
});

Deno.test("elect(): a graceful stop pauses first, then releases the Lease, then resolves", async () => {
  const transport = new MemoryLeases();
  const c = candidate(transport);
  await pass(c.clock, 2_000);
  let pausedAtRelease: boolean | undefined;
  transport.onPut = (body) => {
    if (body.spec?.holderIdentity === "") pausedAtRelease = c.notLeading.on;
  };
  c.stop.abort();
  await c.done;
  equal(pausedAtRelease, true, "the toggle was on before the release was written");
  equal(transport.lease?.spec?.holderIdentity, "");
  equal(transport.lease?.spec?.leaseDurationSeconds, 1);
  equal(transport.lease?.spec?.leaseTransitions, 0);
  equal(c.status.leading, false);
  ok(c.logger.messages("info").includes("Released the Lease {lease}"));
});

Deno.test("elect(): without releaseOnCancel, a stop leaves the Lease as it is", async () => {
  const transport = new MemoryLeases();
  const c = candidate(transport, { releaseOnCancel: false });
  await pass(c.clock, 0);
  const before = transport.methods.length;
  c.stop.abort();
  await c.done;
  equal(c.notLeading.on, true);
  equal(transport.methods.length, before);
  equal(transport.lease?.spec?.holderIdentity, "me");
});

Deno.test("elect(): a candidate that stops releases nothing", async () => {
  const transport = new MemoryLeases();
  transport.put({ holderIdentity: "other", leaseDurationSeconds: 15 });
  const c = candidate(transport);
  await pass(c.clock, 2_000);
  c.stop.abort();
  await c.done;
  equal(transport.lease?.spec?.holderIdentity, "other");
  ok(!transport.methods.includes("PUT"));
});

Deno.test("elect(): a 403 is one error line naming RBAC, and the election goes on", async () => {
  const transport = new MemoryLeases();
  transport.failing = (method) => failure(403, method, "Forbidden");
  const c = candidate(transport);
  await pass(c.clock, 10_000);
  equal(c.notLeading.on, true);
  const rbac = c.logger.messages("error").filter((m) => m.includes("RBAC"));
  equal(rbac.length, 1);
  match(rbac[0]!, /leases\.coordination\.k8s\.io/);
  ok(transport.methods.filter((m) => m === "GET").length >= 5, "kept retrying");
  transport.failing = undefined;
  await pass(c.clock, 2_000);
  equal(c.notLeading.on, false);
  c.stop.abort();
  await c.done;
});
