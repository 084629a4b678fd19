// Kopf's annotation key conventions: `prefix/name` with the name cut to 63 characters and
// suffixed with a BLAKE2b hash (V1 and V2 forms, written side by side), the `kopf-managed`
// marker, and the detection of other Kopf operators' keys. Used by the annotation storages.

import * as bodies from "../structs/bodies.ts";
import type * as patches from "../structs/patches.ts";

/** The longest name part of an annotation key that Kubernetes accepts. */
export const MAX_NAME_LENGTH = 63;

/** The name that marks a prefix as used by a Kopf operator: `<prefix>/kopf-managed: "yes"`. */
export const MARKER_NAME = "kopf-managed";

// Prefixes that are Kopf's without a marker (and their subdomains).
const KNOWN_PREFIXES = ["kopf.zalando.org"];

/**
 * The annotation name for a record key (a handler id): `/` becomes `.`, and `<` and `>`
 * become `_` (e.g. in ids of lambdas), as Kubernetes allows none of them in names.
 */
export function safeName(key: string): string {
  return key.replaceAll("/", ".").replaceAll("<", "_").replaceAll(">", "_");
}

/**
 * Kopf's hash suffix for a long key: `-` and the Base64 (with `-` and `.` for `+` and `/`) of
 * the 4-byte BLAKE2b digest of the UTF-8 key, with trailing `=`, `-` and `.` stripped (so it
 * can be shorter than 7 characters).
 */
export function hashSuffix(key: string): string {
  const digest = blake2b(new TextEncoder().encode(key), 4);
  const encoded = btoa(String.fromCharCode(...digest)).replaceAll("+", "-").replaceAll("/", ".");
  return `-${encoded}`.replace(/[=.-]+$/, "");
}

/**
 * The V1 key (Kopf < 1.29): the whole key, prefix included, is cut to 63 characters; the
 * hash is of the safe name. With a prefix longer than 55 characters, Kopf's arithmetic goes
 * negative and cuts the name from its end; this is kept for compatibility.
 */
export function v1Key(prefix: string, key: string): string {
  const safe = [...safeName(key)];
  const head = prefix ? `${prefix}/` : "";
  const room = MAX_NAME_LENGTH - [...head].length;
  const suffix = safe.length <= room ? "" : hashSuffix(safe.join(""));
  return `${head}${pySliceTo(safe, room - [...suffix].length).join("")}${suffix}`;
}

/**
 * The V2 key: only the name part is limited to 63 characters; the hash is of the original
 * key (before `/` became `.`).
 */
export function v2Key(prefix: string, key: string): string {
  const chars = [...key];
  const head = prefix ? `${prefix}/` : "";
  const suffix = chars.length > MAX_NAME_LENGTH ? hashSuffix(key) : "";
  const limit = Math.max(0, MAX_NAME_LENGTH - [...suffix].length);
  return `${head}${[...safeName(key)].slice(0, limit).join("")}${suffix}`;
}

/**
 * The key with Kopf's collision-evading mark: ReplicaSets owned by Deployments get `-ofDRS`,
 * because Kubernetes copies a Deployment's annotations down to its ReplicaSets.
 */
export function markKey(key: string, body: bodies.RawBody | undefined): string {
  if (body === undefined || body.kind !== "ReplicaSet") return key;
  const owners = bodies.resolve(body, ["metadata", "ownerReferences"], []);
  const byDeployment = Array.isArray(owners) &&
    owners.some((owner) => bodies.isObject(owner) && owner.kind === "Deployment");
  return byDeployment ? `${key}-ofDRS` : key;
}

/**
 * The annotation keys of one record: the V2 key, then the V1 key if `v1` and it differs. All
 * are written; they are read in this order.
 *
 * @example A sub-handler's keys under a long prefix
 * ```ts
 * import * as keys from "./keys.ts";
 * keys.makeKeys("lengthy-operator-name-to-hit-63-chars.example.com", "update/subhandler1");
 * // ["lengthy-operator-name-to-hit-63-chars.example.com/update.subhandler1",
 * //  "lengthy-operator-name-to-hit-63-chars.example.com/update-<hash>"]
 * ```
 */
export function makeKeys(
  prefix: string,
  key: string,
  options: { body?: bodies.RawBody | undefined; v1?: boolean } = {},
): string[] {
  const marked = markKey(key, options.body);
  const [v2, v1] = namedKeys(prefix, marked);
  return (options.v1 ?? true) && v1 !== v2 ? [v2, v1] : [v2];
}

// The keys of a prefix and id never change, and every event of every object asks for them.
const KEYS = new Map<string, readonly [string, string]>();
const KEYS_LIMIT = 4096;

function namedKeys(prefix: string, key: string): readonly [string, string] {
  const cacheKey = `${prefix}\u0000${key}`;
  let keys = KEYS.get(cacheKey);
  if (keys === undefined) {
    keys = [v2Key(prefix, key), v1Key(prefix, key)];
    if (KEYS.size >= KEYS_LIMIT) KEYS.clear();
    KEYS.set(cacheKey, keys);
  }
  return keys;
}

/** The marker key of a prefix, or undefined for `kopf.*` prefixes, which Kopf never marks. */
export function markerKey(prefix: string): string | undefined {
  return prefix && !prefix.startsWith("kopf.") ? `${prefix}/${MARKER_NAME}` : undefined;
}

/** Adds the prefix's marker to the patch unless the body or the patch has it already. */
export function storeMarker(prefix: string, patch: patches.Patch, body: bodies.RawBody): void {
  const marker = markerKey(prefix);
  if (marker === undefined) return;
  const absent = Symbol("absent");
  const inBody = bodies.resolve(body, ["metadata", "annotations", marker], absent) !== absent;
  const inPatch =
    bodies.resolve(patch.body, ["metadata", "annotations", marker], absent) !== absent;
  if (!inBody && !inPatch) patch.metadata.annotations[marker] = "yes";
}

/**
 * The prefixes of the given annotation keys that belong to Kopf operators: those with a
 * `kopf-managed` marker, plus `kopf.zalando.org` and its subdomains. (A `kopf.*` prefix other
 * than these is neither marked nor detected, as in Kopf.)
 */
export function detectMarkedPrefixes(keys: Iterable<string>): Set<string> {
  const prefixes = new Set<string>();
  for (const key of keys) {
    const slash = key.indexOf("/");
    if (slash < 0) continue;
    const prefix = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const known = KNOWN_PREFIXES.some((p) => prefix === p || prefix.endsWith(`.${p}`));
    if (name === MARKER_NAME || known) prefixes.add(prefix);
  }
  return prefixes;
}

// Python's `items[:end]`: a negative end counts from the end.
function pySliceTo<T>(items: readonly T[], end: number): T[] {
  return items.slice(0, end < 0 ? Math.max(0, items.length + end) : end);
}

const MASK = (1n << 64n) - 1n;
const IV = [
  0x6a09e667f3bcc908n,
  0xbb67ae8584caa73bn,
  0x3c6ef372fe94f82bn,
  0xa54ff53a5f1d36f1n,
  0x510e527fade682d1n,
  0x9b05688c2b3e6c1fn,
  0x1f83d9abfb41bd6bn,
  0x5be0cd19137e2179n,
];
// The message word order of each round (RFC 7693, section 2.7); rounds 10 and 11 reuse 0 and 1.
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

/**
 * BLAKE2b (RFC 7693) without a key, with a digest of 1 to 64 bytes. Small inputs only: it
 * runs on BigInt words, which is plenty for annotation keys.
 */
export function blake2b(data: Uint8Array, digestSize: number): Uint8Array {
  if (!Number.isInteger(digestSize) || digestSize < 1 || digestSize > 64) {
    throw new RangeError(`Cannot hash with BLAKE2b: digest size ${digestSize} is not 1 to 64`);
  }
  const h = [...IV];
  h[0] = h[0]! ^ 0x01010000n ^ BigInt(digestSize);
  const blocks = Math.max(1, Math.ceil(data.length / 128));
  for (let b = 0; b < blocks; b++) {
    const block = new Uint8Array(128);
    block.set(data.subarray(b * 128, (b + 1) * 128));
    const last = b === blocks - 1;
    compress(h, block, BigInt(Math.min(data.length, (b + 1) * 128)), last);
  }
  const out = new Uint8Array(64);
  const view = new DataView(out.buffer);
  h.forEach((word, i) => view.setBigUint64(i * 8, word, true));
  return out.slice(0, digestSize);
}

function compress(h: bigint[], block: Uint8Array, counter: bigint, last: boolean): void {
  const view = new DataView(block.buffer);
  const m = Array.from({ length: 16 }, (_, i) => view.getBigUint64(i * 8, true));
  const v = [...h, ...IV];
  v[12] = v[12]! ^ (counter & MASK);
  v[13] = v[13]! ^ (counter >> 64n);
  if (last) v[14] = v[14]! ^ MASK;
  const rotr = (x: bigint, n: bigint) => ((x >> n) | (x << (64n - n))) & MASK;
  const mix = (a: number, b: number, c: number, d: number, x: bigint, y: bigint) => {
    v[a] = (v[a]! + v[b]! + x) & MASK;
    v[d] = rotr(v[d]! ^ v[a]!, 32n);
    v[c] = (v[c]! + v[d]!) & MASK;
    v[b] = rotr(v[b]! ^ v[c]!, 24n);
    v[a] = (v[a]! + v[b]! + y) & MASK;
    v[d] = rotr(v[d]! ^ v[a]!, 16n);
    v[c] = (v[c]! + v[d]!) & MASK;
    v[b] = rotr(v[b]! ^ v[c]!, 63n);
  };
  for (let round = 0; round < 12; round++) {
    const s = SIGMA[round % 10]!;
    const w = (i: number) => m[s[i]!]!;
    mix(0, 4, 8, 12, w(0), w(1));
    mix(1, 5, 9, 13, w(2), w(3));
    mix(2, 6, 10, 14, w(4), w(5));
    mix(3, 7, 11, 15, w(6), w(7));
    mix(0, 5, 10, 15, w(8), w(9));
    mix(1, 6, 11, 12, w(10), w(11));
    mix(2, 7, 8, 13, w(12), w(13));
    mix(3, 4, 9, 14, w(14), w(15));
  }
  for (let i = 0; i < 8; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 8]!;
}
