// Leader election among several candidates against the fake API server, on the real clock with
// short durations: one leads at a time, a graceful stop hands over at once, a crash hands over
// only after the lease duration, and a 403 is one clear line, retried until it goes away.

import { equal, match, ok } from "node:assert/strict";
import * as clocks from "../../../lib/async/clock.ts";
import * as toggles from "../../../lib/async/toggles.ts";
import * as leases from "../../../lib/engines/leases.ts";
import * as transports from "../../../lib/k8s/transport.ts";
import type * as peeringSettings from "../../../lib/settings/peering.ts";
import { FakeApiServer } from "../../_fixtures/fake_apiserver.ts";
import { plainConnection, until } from "../../_fixtures/fake_operator.ts";
import { recordingLogger } from "../../_fixtures/loggers.ts";

const LEASES = {
  group: "coordination.k8s.io",
  version: "v1",
  plural: "leases",
  kind: "Lease",
  namespaced: true,
};

const MICROTIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

function settingsWith(overrides: Partial<peeringSettings.LeaseSettings> = {}) {
  return {
    name: undefined,
    namespace: undefined,
    leaseDurationSeconds: 2,
    renewDeadlineSeconds: 1.5,
    retryPeriodSeconds: 0.2,
    releaseOnCancel: true,
    ...overrides,
  };
}

/** One operator instance taking part in the election, with its own connection. */
class Candidate implements AsyncDisposable {
  readonly stop = new AbortController();
  readonly notLeading: toggles.Toggle;
  readonly status = leases.newLeaseStatus();
  readonly logger = recordingLogger();
  readonly transport: transports.Transport;
  readonly done: Promise<void>;
  stoppedAt: number | undefined;

  constructor(
    server: FakeApiServer,
    readonly identity: string,
    settings: peeringSettings.LeaseSettings,
  ) {
    this.notLeading = new toggles.Toggle(true, `lease ${identity}`);
    this.transport = new transports.Transport(plainConnection(server.url), {
      settings: { retryInitialDelaySeconds: 0.01, retryMaxDelaySeconds: 0.02 },
    });
    this.done = leases.elect({
      transport: this.transport,
      namespace: "default",
      name: "my-operator",
      identity,
      settings,
      clock: clocks.realClock,
      signal: this.stop.signal,
      notLeading: this.notLeading,
      status: this.status,
      logger: this.logger,
    });
  }

  async halt(): Promise<void> {
    this.stoppedAt ??= Date.now();
    this.stop.abort();
    await this.done;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.halt();
    this.transport.close();
  }
}

function leaseOf(server: FakeApiServer): leases.Lease | undefined {
  return server.objects("leases", "default")[0] as leases.Lease | undefined;
}

/** MicroTime to epoch ms (the sub-millisecond digits dropped). */
function msOf(microTime: string | undefined): number {
  ok(microTime !== undefined && MICROTIME.test(microTime), `a MicroTime: ${microTime}`);
  return Date.parse(microTime.replace(/(\.\d{3})\d{3}Z$/, "$1Z"));
}

/** Fails if two candidates lead, or act, at the same time. */
function assertOneLeader(candidates: Candidate[]): void {
  const leading = candidates.filter((c) => c.status.leading).map((c) => c.identity);
  ok(leading.length <= 1, `one leader at most, not ${leading.join(", ")}`);
  const acting = candidates.filter((c) => !c.notLeading.on).map((c) => c.identity);
  ok(acting.length <= 1, `one acting instance at most, not ${acting.join(", ")}`);
}

Deno.test("one of three candidates leads and renews; the others stay paused", async () => {
  await using server = await FakeApiServer.start({ resources: [LEASES] });
  const settings = settingsWith();
  await using a = new Candidate(server, "operator-a", settings);
  await using b = new Candidate(server, "operator-b", settings);
  await using c = new Candidate(server, "operator-c", settings);
  const all = [a, b, c];
  await until(() => all.some((x) => x.status.leading), "a leader");
  const leader = all.find((x) => x.status.leading)!;
  const firstRenewal = leaseOf(server)?.spec?.renewTime;
  const renewals = new Set<string>();
  await until(() => {
    assertOneLeader(all);
    const renewTime = leaseOf(server)?.spec?.renewTime;
    if (renewTime !== undefined && renewTime !== firstRenewal) renewals.add(renewTime);
    return renewals.size >= 3;
  }, "the leader to renew three times");
  ok(leader.status.leading, "the same leader throughout");
  equal(leader.notLeading.on, false);
  for (const other of all.filter((x) => x !== leader)) {
    equal(other.notLeading.on, true, `${other.identity} stays paused`);
    equal(other.status.holder, leader.identity, `${other.identity} sees the leader`);
  }
  const spec = leaseOf(server)?.spec;
  equal(spec?.holderIdentity, leader.identity);
  equal(spec?.leaseDurationSeconds, 2);
  equal(spec?.leaseTransitions, 0);
  match(spec?.acquireTime ?? "", MICROTIME);
  match(spec?.renewTime ?? "", MICROTIME);
  ok(
    leader.logger.messages("info").includes(
      "Became the leader of Lease {lease} (holder {identity})",
    ),
  );
});

Deno.test("a leader that stops gracefully releases the Lease and another leads at once", async () => {
  await using server = await FakeApiServer.start({ resources: [LEASES] });
  // A long lease: a takeover well before it ends can only come from the release.
  const settings = settingsWith({ leaseDurationSeconds: 6, renewDeadlineSeconds: 4 });
  await using a = new Candidate(server, "operator-a", settings);
  await using b = new Candidate(server, "operator-b", settings);
  await using c = new Candidate(server, "operator-c", settings);
  const all = [a, b, c];
  await until(() => all.some((x) => x.status.leading), "a leader");
  const leader = all.find((x) => x.status.leading)!;
  const others = all.filter((x) => x !== leader);
  await until(() => others.every((x) => x.status.holder === leader.identity), "all to see it");
  await leader.halt();
  equal(leader.notLeading.on, true);
  equal(leader.status.holder, undefined, "the release was stored without a holder");
  ok(leader.logger.messages("info").includes("Released the Lease {lease}"));
  await until(() => {
    assertOneLeader(all);
    return others.some((x) => x.status.leading);
  }, "another leader");
  const tookMs = Date.now() - leader.stoppedAt!;
  ok(tookMs < 3_000, `took over ${tookMs} ms after the release, not after the 6 s lease`);
  const next = others.find((x) => x.status.leading)!;
  const spec = leaseOf(server)?.spec;
  equal(spec?.holderIdentity, next.identity);
  equal(spec?.leaseTransitions, 1);
  equal(spec?.leaseDurationSeconds, 6);
});

Deno.test("after a leader crashes, another takes over only once the lease has expired", async () => {
  await using server = await FakeApiServer.start({ resources: [LEASES] });
  // A stop without release is a crash as the others see it: the renewals just end.
  const settings = settingsWith({ releaseOnCancel: false });
  await using a = new Candidate(server, "operator-a", settings);
  await using b = new Candidate(server, "operator-b", settings);
  await using c = new Candidate(server, "operator-c", settings);
  const all = [a, b, c];
  await until(() => all.some((x) => x.status.leading), "a leader");
  const crashed = all.find((x) => x.status.leading)!;
  const others = all.filter((x) => x !== crashed);
  await until(() => others.every((x) => x.status.holder === crashed.identity), "all to see it");
  let lastRenewal = 0;
  const sample = () => {
    assertOneLeader(all);
    const spec = leaseOf(server)?.spec;
    if (spec?.holderIdentity === crashed.identity) {
      lastRenewal = Math.max(lastRenewal, msOf(spec.renewTime));
    }
  };
  sample();
  await crashed.halt();
  equal(crashed.notLeading.on, true);
  await until(() => {
    sample();
    return others.some((x) => x.status.leading);
  }, "another leader");
  const next = others.find((x) => x.status.leading)!;
  const spec = leaseOf(server)?.spec;
  equal(spec?.holderIdentity, next.identity);
  equal(spec?.leaseTransitions, 1);
  const waitedMs = msOf(spec?.acquireTime) - lastRenewal;
  // Not earlier than the 2 s lease duration after the last renewal (1 ms for MicroTime rounding).
  ok(waitedMs >= 2_000 - 1, `took over ${waitedMs} ms after the last renewal`);
  ok(waitedMs < 2_000 + 3_000, `took over ${waitedMs} ms after the last renewal`);
  ok(
    next.logger.messages("info").includes("Became the leader of Lease {lease} (holder {identity})"),
  );
});

Deno.test("a 403 on Leases is one error line naming RBAC; the candidate leads once it is allowed", async () => {
  await using server = await FakeApiServer.start({ resources: [LEASES] });
  server.inject({ kind: "status", code: 403, times: 5, match: { pathIncludes: "/leases" } });
  await using a = new Candidate(server, "operator-a", settingsWith());
  await until(() => a.status.leading, "the candidate to lead", 15_000);
  equal(server.requests.filter((r) => r.path.includes("/leases") && r.status === 403).length, 5);
  const rbac = a.logger.lines.filter((l) => l.message.includes("RBAC"));
  equal(rbac.filter((l) => l.level === "error").length, 1, "one error line for five refusals");
  match(rbac[0]!.message, /leases\.coordination\.k8s\.io/);
  equal(rbac[0]!.properties?.namespace, "default");
  match(String(rbac[0]!.properties?.error), /forbidden/);
  equal(leaseOf(server)?.spec?.holderIdentity, "operator-a");
});
