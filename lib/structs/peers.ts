// Kopf's peering model, pure: who the peers in a KopfPeering/ClusterKopfPeering status are,
// which of them are dead, and whether this operator must pause in favour of another. The
// status format (`status.<identity> = {priority, lifetime, lastseen}`) is Kopf 1.44's, so
// Python Kopf operators and ours see each other. Used by engines/peering.ts; no I/O, no timers.

import type * as references from "../structs/references.ts";

/** One operator instance in a peering object. */
export interface Peer {
  /** `$POD_ID`, or `user@host/<UTC timestamp>/<3 random characters>`. */
  readonly identity: string;
  readonly priority: number;
  readonly lifetimeSeconds: number;
  /** When it last said it is alive (ms since the epoch). */
  readonly lastseen: number;
  /** `lastseen + lifetime`: after it, the peer is presumed dead. */
  readonly deadline: number;
  readonly dead: boolean;
}

/** A status entry that is not a peer as Kopf writes one (e.g. edited by hand). */
export interface MalformedEntry {
  readonly identity: string;
  /** What is wrong, as one phrase. */
  readonly problem: string;
}

/** The peers of a peering object's `status`, and the entries that could not be read. */
export interface Peers {
  readonly peers: Peer[];
  readonly malformed: MalformedEntry[];
}

/** The peering resources, preferred first: Kopf's `kopf.dev` and its legacy `zalando.org`. */
export const PEERING_RESOURCES: readonly references.Resource[] = [
  peeringResource("kopf.dev", false),
  peeringResource("kopf.dev", true),
  peeringResource("zalando.org", false),
  peeringResource("zalando.org", true),
];

function peeringResource(group: string, namespaced: boolean): references.Resource {
  return {
    group,
    version: "v1",
    plural: namespaced ? "kopfpeerings" : "clusterkopfpeerings",
    kind: namespaced ? "KopfPeering" : "ClusterKopfPeering",
    namespaced,
  };
}

/**
 * Reads the peers from a peering object's status, as Kopf does: `priority` defaults to 0,
 * `lifetime` to 60 s, a missing `lastseen` means "now". Entries that are not objects, or whose
 * fields have the wrong types, are reported as malformed instead of failing the whole status.
 *
 * @example Two peers, one of them long dead
 * ```ts
 * import * as peers from "./peers.ts";
 * const now = Date.parse("2026-12-07T10:00:00Z");
 * const { peers: found } = peers.parsePeers({
 *   "alice@laptop/20261207095959/abc": { priority: 666, lifetime: 60, lastseen: "2026-12-07T09:59:59.000000+00:00" },
 *   "pod-1": { priority: 0, lifetime: 60, lastseen: "2026-12-07T08:00:00+00:00" },
 * }, now);
 * found.map((p) => p.dead); // [false, true]
 * ```
 */
export function parsePeers(status: unknown, now: number): Peers {
  const peers: Peer[] = [];
  const malformed: MalformedEntry[] = [];
  if (status === undefined || status === null) return { peers, malformed };
  if (typeof status !== "object" || Array.isArray(status)) {
    return { peers, malformed: [{ identity: "", problem: "the status is not an object" }] };
  }
  for (const [identity, info] of Object.entries(status as Record<string, unknown>)) {
    if (info === null) continue; // a removed entry that a merge patch left as null
    const problem = problemOf(info);
    if (problem !== undefined) {
      malformed.push({ identity, problem });
      continue;
    }
    const entry = info as { priority?: number; lifetime?: number; lastseen?: string };
    const lifetimeSeconds = Math.trunc(entry.lifetime ?? 60);
    const lastseen = entry.lastseen === undefined ? now : parseTime(entry.lastseen)!;
    const deadline = lastseen + lifetimeSeconds * 1000;
    peers.push({
      identity,
      priority: Math.trunc(entry.priority ?? 0),
      lifetimeSeconds,
      lastseen,
      deadline,
      dead: deadline <= now,
    });
  }
  return { peers, malformed };
}

function problemOf(info: unknown): string | undefined {
  if (typeof info !== "object" || Array.isArray(info)) {
    return "it is not an object of priority, lifetime and lastseen";
  }
  const entry = info as Record<string, unknown>;
  if (entry.priority !== undefined && !Number.isFinite(entry.priority)) {
    return `its priority ${JSON.stringify(entry.priority)} is not a number`;
  }
  if (entry.lifetime !== undefined && !Number.isFinite(entry.lifetime)) {
    return `its lifetime ${JSON.stringify(entry.lifetime)} is not a number`;
  }
  if (
    entry.lastseen !== undefined &&
    (typeof entry.lastseen !== "string" || parseTime(entry.lastseen) === undefined)
  ) {
    return `its lastseen ${JSON.stringify(entry.lastseen)} is not an ISO 8601 time`;
  }
  return undefined;
}

/** ISO 8601 as Kopf's parser takes it: a date, a time, a fraction, an optional offset. */
const ISO_TIME =
  /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?)(Z|[+-]\d\d(?::?\d\d)?)?$/i;

/**
 * Milliseconds since the epoch of an ISO 8601 time; a time without an offset is UTC (as
 * Python's `iso8601.parse_date` reads it, whatever the host's time zone); undefined if it is
 * not ISO 8601.
 */
export function parseTime(text: string): number | undefined {
  const match = ISO_TIME.exec(text.trim());
  if (!match) return undefined;
  const [, date, time, zone] = match;
  const offset = !zone || zone.toUpperCase() === "Z"
    ? "Z"
    : zone.length === 3
    ? `${zone}:00`
    : zone.includes(":")
    ? zone
    : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${date}T${time!.replace(",", ".")}${offset}`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** What this operator should do, given the peers it sees. */
export interface Verdict {
  /** Pause: a live peer has a higher priority, or the same one (then all of them freeze). */
  readonly pause: boolean;
  /** Live peers with a higher priority. */
  readonly higher: Peer[];
  /** Live peers with the same priority. */
  readonly same: Peer[];
  /** Dead peers, to be removed from the status by whoever notices. */
  readonly dead: Peer[];
  /** When the verdict may change by itself: the earliest deadline of a blocking peer. */
  readonly recheckAt: number | undefined;
}

/**
 * Kopf's rule: pause while any live peer has a higher priority; with the same priority, every
 * such peer pauses ("freeze"), as there is no way to tell which one should run. Our own entry
 * never counts.
 *
 * @example A developer's `--dev` instance pauses the deployed one
 * ```ts
 * import * as peers from "./peers.ts";
 * const now = Date.now();
 * const dev = { identity: "dev", priority: 666, lifetimeSeconds: 60, lastseen: now, deadline: now + 60_000, dead: false };
 * peers.judge([dev], "pod-1", 0).pause; // true
 * ```
 */
export function judge(peers: readonly Peer[], identity: string, priority: number): Verdict {
  const others = peers.filter((p) => p.identity !== identity);
  const live = others.filter((p) => !p.dead);
  const higher = live.filter((p) => p.priority > priority);
  const same = live.filter((p) => p.priority === priority);
  const blocking = [...higher, ...same];
  return {
    pause: blocking.length > 0,
    higher,
    same,
    dead: others.filter((p) => p.dead),
    recheckAt: blocking.length ? Math.min(...blocking.map((p) => p.deadline)) : undefined,
  };
}

/**
 * A time as Kopf writes `lastseen`: Python's `datetime.isoformat()` of a UTC time, with
 * microseconds and `+00:00`.
 *
 * @example
 * ```ts
 * import { lastseenText } from "./peers.ts";
 * lastseenText(Date.parse("2026-12-07T10:00:00.123Z")); // "2026-12-07T10:00:00.123000+00:00"
 * ```
 */
export function lastseenText(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-12-07T10:00:00.123Z
  return `${iso.slice(0, 23)}000+00:00`;
}

/** The entry of one peer as the keep-alive writes it. */
export function entryOf(priority: number, lifetimeSeconds: number, now: number): {
  priority: number;
  lifetime: number;
  lastseen: string;
} {
  return { priority, lifetime: lifetimeSeconds, lastseen: lastseenText(now) };
}

/**
 * The seconds between keep-alives, as Kopf picks them: `lifetime - 5..10` s with jitter, at
 * least 1, at most the lifetime, so the entry is renewed before it expires.
 */
export function keepaliveSeconds(lifetimeSeconds: number, random: () => number): number {
  const jitter = 5 + Math.floor(random() * 6);
  return Math.min(lifetimeSeconds, Math.max(1, lifetimeSeconds - jitter));
}

/** A peer as log lines show it: `id (priority N)`. */
export function describe(peer: Peer): string {
  return `${peer.identity} (priority ${peer.priority})`;
}
