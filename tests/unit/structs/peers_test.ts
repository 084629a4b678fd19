import { deepEqual, equal, match, ok } from "node:assert/strict";
import * as peers from "../../../lib/structs/peers.ts";

const NOW = Date.parse("2026-12-07T10:00:00.000Z");
const SECOND = 1000;

/** A live or dead peer as parsePeers() would return it, `lastseen` seconds before NOW. */
function peer(identity: string, priority: number, options: {
  lastseenAgoSeconds?: number;
  lifetimeSeconds?: number;
} = {}): peers.Peer {
  const lifetimeSeconds = options.lifetimeSeconds ?? 60;
  const lastseen = NOW - (options.lastseenAgoSeconds ?? 0) * SECOND;
  const deadline = lastseen + lifetimeSeconds * SECOND;
  return { identity, priority, lifetimeSeconds, lastseen, deadline, dead: deadline <= NOW };
}

function identities(list: readonly peers.Peer[]): string[] {
  return list.map((p) => p.identity).toSorted();
}

// --- parsePeers() -------------------------------------------------------------------------------

Deno.test("parsePeers() reads a status as Kopf writes it, with microseconds and +00:00", () => {
  const { peers: found, malformed } = peers.parsePeers({
    "alice@laptop/20261207095959/abc": {
      priority: 666,
      lifetime: 60,
      lastseen: "2026-12-07T09:59:59.123456+00:00",
    },
    "pod-1": { priority: 0, lifetime: 120, lastseen: "2026-12-07T09:58:00.000001+00:00" },
  }, NOW);
  deepEqual(malformed, []);
  deepEqual(found, [
    {
      identity: "alice@laptop/20261207095959/abc",
      priority: 666,
      lifetimeSeconds: 60,
      lastseen: Date.parse("2026-12-07T09:59:59.123Z"),
      deadline: Date.parse("2026-12-07T10:00:59.123Z"),
      dead: false,
    },
    {
      identity: "pod-1",
      priority: 0,
      lifetimeSeconds: 120,
      lastseen: Date.parse("2026-12-07T09:58:00.000Z"),
      deadline: Date.parse("2026-12-07T10:00:00.000Z"),
      dead: true,
    },
  ]);
});

Deno.test("parsePeers() reads a lastseen without a fraction, as Python writes a whole second", () => {
  const { peers: found } = peers.parsePeers({
    "pod-1": { priority: 10, lifetime: 60, lastseen: "2026-12-07T09:59:30+00:00" },
  }, NOW);
  equal(found[0]?.lastseen, Date.parse("2026-12-07T09:59:30Z"));
  equal(found[0]?.deadline, Date.parse("2026-12-07T10:00:30Z"));
  equal(found[0]?.dead, false);
});

Deno.test("parsePeers() reads a lastseen written with Z", () => {
  const { peers: found, malformed } = peers.parsePeers({
    "pod-1": { lastseen: "2026-12-07T09:59:30.5Z" },
  }, NOW);
  deepEqual(malformed, []);
  equal(found[0]?.lastseen, Date.parse("2026-12-07T09:59:30.500Z"));
});

Deno.test("parsePeers() defaults priority to 0, lifetime to 60 s, and lastseen to now", () => {
  const { peers: found, malformed } = peers.parsePeers({ "pod-1": {} }, NOW);
  deepEqual(malformed, []);
  deepEqual(found, [{
    identity: "pod-1",
    priority: 0,
    lifetimeSeconds: 60,
    lastseen: NOW,
    deadline: NOW + 60 * SECOND,
    dead: false,
  }]);
});

Deno.test("parsePeers() ignores fields it does not know, as Kopf does for forward compatibility", () => {
  const { peers: found, malformed } = peers.parsePeers({
    "pod-1": { priority: 5, namespace: "ns1", somethingNew: [1, 2] },
  }, NOW);
  deepEqual(malformed, []);
  equal(found[0]?.priority, 5);
});

Deno.test("parsePeers() treats a peer as dead exactly when lastseen + lifetime <= now", () => {
  const { peers: found } = peers.parsePeers({
    "just-expired": { lifetime: 60, lastseen: "2026-12-07T09:59:00.000000+00:00" },
    "one-ms-left": { lifetime: 60, lastseen: "2026-12-07T09:59:00.001000+00:00" },
    "said-goodbye": { lifetime: 0, lastseen: "2026-12-07T10:00:00.000000+00:00" },
    "long-gone": { lifetime: 60, lastseen: "2026-12-07T08:00:00+00:00" },
  }, NOW);
  deepEqual(Object.fromEntries(found.map((p) => [p.identity, p.dead])), {
    "just-expired": true,
    "one-ms-left": false,
    "said-goodbye": true,
    "long-gone": true,
  });
});

Deno.test("parsePeers() skips null entries, as a merge patch would have removed them", () => {
  const { peers: found, malformed } = peers.parsePeers({
    "gone": null,
    "pod-1": { priority: 1 },
  }, NOW);
  deepEqual(malformed, []);
  deepEqual(identities(found), ["pod-1"]);
});

Deno.test("parsePeers() of a missing status finds nobody and complains of nothing", () => {
  deepEqual(peers.parsePeers(undefined, NOW), { peers: [], malformed: [] });
  deepEqual(peers.parsePeers(null, NOW), { peers: [], malformed: [] });
  deepEqual(peers.parsePeers({}, NOW), { peers: [], malformed: [] });
});

Deno.test("parsePeers() reports malformed entries with a phrase and still reads the good ones", () => {
  const { peers: found, malformed } = peers.parsePeers({
    "good": { priority: 100, lifetime: 60, lastseen: "2026-12-07T09:59:59.000000+00:00" },
    "a-string": "alive",
    "a-list": [1, 2, 3],
    "a-number": 42,
    "text-priority": { priority: "high" },
    "text-lifetime": { lifetime: "60s" },
    "null-lifetime": { lifetime: null },
    "bad-lastseen": { lastseen: "yesterday" },
    "numeric-lastseen": { lastseen: 1796637600 },
    "also-good": { priority: -1 },
  }, NOW);
  deepEqual(identities(found), ["also-good", "good"]);
  const problems = Object.fromEntries(malformed.map((m) => [m.identity, m.problem]));
  deepEqual(Object.keys(problems).toSorted(), [
    "a-list",
    "a-number",
    "a-string",
    "bad-lastseen",
    "null-lifetime",
    "numeric-lastseen",
    "text-lifetime",
    "text-priority",
  ]);
  match(problems["a-string"] ?? "", /not an object/);
  match(problems["a-list"] ?? "", /not an object/);
  match(problems["a-number"] ?? "", /not an object/);
  match(problems["text-priority"] ?? "", /priority "high" is not a number/);
  match(problems["text-lifetime"] ?? "", /lifetime "60s" is not a number/);
  match(problems["null-lifetime"] ?? "", /lifetime null is not a number/);
  match(problems["bad-lastseen"] ?? "", /lastseen "yesterday" is not .*time/);
  match(problems["numeric-lastseen"] ?? "", /lastseen 1796637600 is not .*time/);
});

Deno.test("parsePeers() reports a status that is not an object, instead of failing", () => {
  for (const status of ["alive", 42, true, [{ priority: 1 }]]) {
    const { peers: found, malformed } = peers.parsePeers(status, NOW);
    deepEqual(found, [], `status ${JSON.stringify(status)}`);
    equal(malformed.length, 1, `status ${JSON.stringify(status)}`);
    match(malformed[0]?.problem ?? "", /status is not an object/);
  }
});

Deno.test({
  // A lastseen without an offset (older Kopf versions, hand edits) is UTC for Kopf's
  // iso8601.parse_date(), not local time as for Date.parse(): checked in another time zone.
  name: "parsePeers() reads a lastseen without an offset as UTC, whatever the host's time zone",
  async fn() {
    const module = new URL("../../../lib/structs/peers.ts", import.meta.url).href;
    const code = `
      import * as peers from ${JSON.stringify(module)};
      const status = { "old-kopf": { lastseen: "2026-12-07T09:59:59.123456" } };
      console.log(peers.parsePeers(status, 0).peers[0].lastseen);
    `;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      env: { TZ: "Asia/Tokyo" },
      stdout: "piped",
      stderr: "inherit",
    }).output();
    ok(output.success);
    equal(
      Number(new TextDecoder().decode(output.stdout).trim()),
      Date.parse("2026-12-07T09:59:59.123Z"),
    );
  },
});

Deno.test({
  // Date.parse() also takes V8's legacy formats: a hand-edited `lastseen: "1"` would be a
  // peer last seen in 2001 instead of a malformed entry.
  name: "parsePeers() reports a lastseen that is not ISO 8601 even if Date.parse() accepts it",
  fn() {
    const { peers: found, malformed } = peers.parsePeers({
      "digit": { lastseen: "1" },
      "prose": { lastseen: "December 7, 2026 10:00" },
    }, NOW);
    deepEqual(found, []);
    deepEqual(malformed.map((m) => m.identity).toSorted(), ["digit", "prose"]);
  },
});

// --- judge() ------------------------------------------------------------------------------------

Deno.test("judge() never counts our own entry, whatever its priority", () => {
  const verdict = peers.judge([peer("me", 1000), peer("me", 0)], "me", 0);
  equal(verdict.pause, false);
  deepEqual(verdict.higher, []);
  deepEqual(verdict.same, []);
  deepEqual(verdict.dead, []);
  equal(verdict.recheckAt, undefined);
});

Deno.test("judge() does not count our own entry as dead either", () => {
  const verdict = peers.judge([peer("me", 0, { lastseenAgoSeconds: 3600 })], "me", 0);
  deepEqual(verdict.dead, []);
  equal(verdict.pause, false);
});

Deno.test("judge() pauses in favour of a live peer with a higher priority", () => {
  const verdict = peers.judge([peer("me", 0), peer("dev", 666)], "me", 0);
  equal(verdict.pause, true);
  deepEqual(identities(verdict.higher), ["dev"]);
  deepEqual(verdict.same, []);
});

Deno.test("judge() pauses (freezes) when a live peer has the same priority", () => {
  const verdict = peers.judge([peer("pod-1", 0), peer("pod-2", 0)], "pod-1", 0);
  equal(verdict.pause, true);
  deepEqual(verdict.higher, []);
  deepEqual(identities(verdict.same), ["pod-2"]);
});

Deno.test("judge() does not pause for peers with a lower priority", () => {
  const verdict = peers.judge([peer("low", 10), peer("lower", -5)], "me", 100);
  equal(verdict.pause, false);
  deepEqual(verdict.higher, []);
  deepEqual(verdict.same, []);
  equal(verdict.recheckAt, undefined);
});

Deno.test("judge() lists dead peers and never lets them block", () => {
  const verdict = peers.judge(
    [
      peer("dead-dev", 666, { lastseenAgoSeconds: 61 }),
      peer("dead-twin", 0, { lastseenAgoSeconds: 60 }),
      peer("dead-junior", -1, { lastseenAgoSeconds: 3600 }),
      peer("live-junior", -1),
    ],
    "me",
    0,
  );
  equal(verdict.pause, false);
  deepEqual(verdict.higher, []);
  deepEqual(verdict.same, []);
  deepEqual(identities(verdict.dead), ["dead-dev", "dead-junior", "dead-twin"]);
  equal(verdict.recheckAt, undefined);
});

Deno.test("judge() rechecks at the earliest deadline of the blocking peers only", () => {
  const verdict = peers.judge(
    [
      peer("dev", 666, { lastseenAgoSeconds: 10 }), // deadline NOW + 50 s
      peer("twin", 0, { lastseenAgoSeconds: 30 }), // deadline NOW + 30 s
      peer("senior", 5, { lastseenAgoSeconds: 0, lifetimeSeconds: 120 }), // NOW + 120 s
      peer("junior", -1, { lastseenAgoSeconds: 55 }), // NOW + 5 s, but does not block
      peer("dead", 666, { lastseenAgoSeconds: 90 }), // NOW - 30 s, dead
      peer("me", 0, { lastseenAgoSeconds: 59 }), // NOW + 1 s, but ours
    ],
    "me",
    0,
  );
  equal(verdict.pause, true);
  deepEqual(identities(verdict.higher), ["dev", "senior"]);
  deepEqual(identities(verdict.same), ["twin"]);
  deepEqual(identities(verdict.dead), ["dead"]);
  equal(verdict.recheckAt, NOW + 30 * SECOND);
});

Deno.test("judge() of what parsePeers() read from a Kopf status pauses a deployed operator", () => {
  const { peers: found } = peers.parsePeers({
    "pod-1": { priority: 0, lifetime: 60, lastseen: "2026-12-07T09:59:50.000000+00:00" },
    "alice@laptop/20261207095959/abc": {
      priority: 666,
      lifetime: 60,
      lastseen: "2026-12-07T09:59:59.123456+00:00",
    },
  }, NOW);
  const verdict = peers.judge(found, "pod-1", 0);
  equal(verdict.pause, true);
  deepEqual(identities(verdict.higher), ["alice@laptop/20261207095959/abc"]);
  equal(verdict.recheckAt, Date.parse("2026-12-07T10:00:59.123Z"));
});

// --- lastseenText(), entryOf(), keepaliveSeconds(), describe() ----------------------------------

Deno.test("lastseenText() writes UTC with exactly 6 fractional digits and +00:00", () => {
  equal(
    peers.lastseenText(Date.parse("2026-12-07T10:00:00.123Z")),
    "2026-12-07T10:00:00.123000+00:00",
  );
  equal(peers.lastseenText(Date.parse("2026-12-07T10:00:00Z")), "2026-12-07T10:00:00.000000+00:00");
  equal(
    peers.lastseenText(Date.parse("2026-01-02T03:04:05.006Z")),
    "2026-01-02T03:04:05.006000+00:00",
  );
  for (const ms of [0, NOW, NOW + 1, NOW + 999, 1796637600123]) {
    match(peers.lastseenText(ms), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
  }
});

Deno.test("lastseenText() round-trips through Date.parse() to the millisecond", () => {
  for (const ms of [0, NOW, NOW + 1, NOW + 999, NOW + 86_399_999, 1796637600123]) {
    equal(Date.parse(peers.lastseenText(ms)), ms);
  }
});

Deno.test("lastseenText() is what parsePeers() reads back as the same moment", () => {
  const when = NOW - 1234;
  const { peers: found } = peers.parsePeers({ me: { lastseen: peers.lastseenText(when) } }, NOW);
  equal(found[0]?.lastseen, when);
});

Deno.test("entryOf() is the status entry as Kopf writes it, and parsePeers() reads it back", () => {
  const entry = peers.entryOf(100, 60, NOW);
  deepEqual(entry, { priority: 100, lifetime: 60, lastseen: "2026-12-07T10:00:00.000000+00:00" });
  const { peers: found, malformed } = peers.parsePeers({ "pod-1": entry }, NOW + 5 * SECOND);
  deepEqual(malformed, []);
  deepEqual(found, [{
    identity: "pod-1",
    priority: 100,
    lifetimeSeconds: 60,
    lastseen: NOW,
    deadline: NOW + 60 * SECOND,
    dead: false,
  }]);
});

Deno.test("keepaliveSeconds(60) renews 5 to 10 seconds before the entry expires", () => {
  const seen = new Set<number>();
  for (const r of [0, 0.1, 0.1666, 0.1667, 0.3, 0.4, 0.5, 0.7, 0.8333, 0.8334, 0.9, 0.999999]) {
    const seconds = peers.keepaliveSeconds(60, () => r);
    ok(seconds >= 50 && seconds <= 55, `random ${r} gives ${seconds}`);
    ok(Number.isInteger(seconds), `random ${r} gives ${seconds}`);
    seen.add(seconds);
  }
  // The jitter spans the whole range, as Python's random.randint(5, 10) does.
  deepEqual([...seen].toSorted((a, b) => a - b), [50, 51, 52, 53, 54, 55]);
  equal(peers.keepaliveSeconds(60, () => 0), 55);
  equal(peers.keepaliveSeconds(60, () => 0.999999), 50);
});

Deno.test("keepaliveSeconds() of a short lifetime is at least 1 s and at most the lifetime", () => {
  for (const r of [0, 0.25, 0.5, 0.75, 0.999999]) {
    const seconds = peers.keepaliveSeconds(3, () => r);
    ok(seconds >= 1 && seconds <= 3, `random ${r} gives ${seconds}`);
    equal(peers.keepaliveSeconds(1, () => r), 1);
  }
  equal(peers.keepaliveSeconds(12, () => 0), 7);
});

Deno.test("describe() names a peer and its priority for log lines", () => {
  equal(
    peers.describe(peer("alice@laptop/20261207095959/abc", 666)),
    "alice@laptop/20261207095959/abc (priority 666)",
  );
  equal(peers.describe(peer("pod-1", -1)), "pod-1 (priority -1)");
});

// --- PEERING_RESOURCES --------------------------------------------------------------------------

Deno.test("PEERING_RESOURCES prefers kopf.dev and falls back to zalando.org, both scopes each", () => {
  const summary = peers.PEERING_RESOURCES.map((r) =>
    `${r.plural}.${r.version}.${r.group} ${r.kind} ${r.namespaced ? "namespaced" : "cluster"}`
  );
  equal(summary.length, 4);
  deepEqual(summary.slice(0, 2).toSorted(), [
    "clusterkopfpeerings.v1.kopf.dev ClusterKopfPeering cluster",
    "kopfpeerings.v1.kopf.dev KopfPeering namespaced",
  ]);
  deepEqual(summary.slice(2).toSorted(), [
    "clusterkopfpeerings.v1.zalando.org ClusterKopfPeering cluster",
    "kopfpeerings.v1.zalando.org KopfPeering namespaced",
  ]);
});
