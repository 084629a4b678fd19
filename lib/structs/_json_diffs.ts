// The RFC 6902 operations between two JSON documents, in the form Kopf's `jsonpatch` library
// produces them (so the requests match Kopf's): removed keys, then added keys, then changed
// ones; lists matched up item by item around their longest common runs. Used by patches.ts.

import * as bodies from "./bodies.ts";
import type * as patches from "./patches.ts";

// Above this product of list lengths, lists are compared by position only.
const EXACT_MATCH_LIMIT = 500 ** 2;

type Op = patches.JsonPatchOperation;

/**
 * The operations that turn `src` into `dst`; empty when they are equal. Unlike `jsonpatch`,
 * no `move` operations are produced: a value removed in one place and added in another is a
 * `remove` and an `add` (the outcome is the same).
 */
export function diff(src: unknown, dst: unknown): Op[] {
  const ops: Op[] = [];
  compareValues([], src, dst, ops);
  return ops;
}

/** An RFC 6901 JSON pointer: `/metadata/annotations/kopf.zalando.org~1touch-dummy`. */
export function pointer(path: readonly (string | number)[]): string {
  return path.map((part) => `/${String(part).replaceAll("~", "~0").replaceAll("/", "~1")}`)
    .join("");
}

function compareValues(path: (string | number)[], src: unknown, dst: unknown, ops: Op[]): void {
  if (bodies.isObject(src) && bodies.isObject(dst)) {
    compareObjects(path, src, dst, ops);
  } else if (Array.isArray(src) && Array.isArray(dst)) {
    compareLists(path, src, dst, ops);
  } else if (canonical(src) !== canonical(dst)) {
    ops.push({ op: "replace", path: pointer(path), value: bodies.deepCopy(dst) });
  }
}

function compareObjects(
  path: (string | number)[],
  src: Record<string, unknown>,
  dst: Record<string, unknown>,
  ops: Op[],
): void {
  for (const key of Object.keys(src)) {
    if (!Object.hasOwn(dst, key)) ops.push({ op: "remove", path: pointer([...path, key]) });
  }
  for (const key of Object.keys(dst)) {
    if (!Object.hasOwn(src, key)) {
      ops.push({ op: "add", path: pointer([...path, key]), value: bodies.deepCopy(dst[key]) });
    }
  }
  for (const key of Object.keys(src)) {
    if (Object.hasOwn(dst, key)) compareValues([...path, key], src[key], dst[key], ops);
  }
}

// Each run replaces src[i1:i2] by dst[j1:j2]; when a run is handled, the list already is
// dst[:j1] + src[i1:], so the indices below are those of the list at that moment.
function compareLists(
  path: (string | number)[],
  src: readonly unknown[],
  dst: readonly unknown[],
  ops: Op[],
): void {
  for (const [i1, i2, j1, j2] of differingRuns(src, dst)) {
    const paired = Math.min(i2 - i1, j2 - j1);
    for (let j = j1; j < j1 + paired; j++) {
      const before = src[i1 + j - j1];
      const after = dst[j];
      const bothObjects = bodies.isObject(before) && bodies.isObject(after);
      const bothLists = Array.isArray(before) && Array.isArray(after);
      if (bothObjects || bothLists) {
        compareValues([...path, j], before, after, ops);
      } else if (canonical(before) !== canonical(after)) {
        ops.push({ op: "replace", path: pointer([...path, j]), value: bodies.deepCopy(after) });
      }
    }
    for (let i = i1 + paired; i < i2; i++) {
      ops.push({ op: "remove", path: pointer([...path, j1 + paired]) });
    }
    for (let j = j1 + paired; j < j2; j++) {
      ops.push({ op: "add", path: pointer([...path, j]), value: bodies.deepCopy(dst[j]) });
    }
  }
}

type Run = readonly [i1: number, i2: number, j1: number, j2: number];

function differingRuns(src: readonly unknown[], dst: readonly unknown[]): Run[] {
  const srcKeys = src.map(canonical);
  const dstKeys = dst.map(canonical);
  const shorter = Math.min(src.length, dst.length);
  let start = 0;
  while (start < shorter && srcKeys[start] === dstKeys[start]) start++;
  let end = 0;
  while (end < shorter - start && srcKeys.at(-1 - end) === dstKeys.at(-1 - end)) end++;
  const srcEnd = src.length - end;
  const dstEnd = dst.length - end;

  const cost = ([i1, i2, j1, j2]: Run): number => {
    let total = Math.abs((i2 - i1) - (j2 - j1));
    for (let i = i1, j = j1; i < i2 && j < j2; i++, j++) {
      if (srcKeys[i] !== dstKeys[j]) total += positionalCost(src[i], dst[j]);
    }
    return total;
  };
  const byPosition: Run = [start, srcEnd, start, dstEnd];
  if ((srcEnd - start) * (dstEnd - start) > EXACT_MATCH_LIMIT) return [byPosition];

  const runs = gaps(srcKeys.slice(start, srcEnd), dstKeys.slice(start, dstEnd))
    .map(([i1, i2, j1, j2]): Run => [start + i1, start + i2, start + j1, start + j2]);
  // Items can be equal by chance; matching them up must not cost more than going by position.
  const matchedCost = runs.reduce((sum, run) => sum + cost(run), 0);
  return matchedCost > cost(byPosition) ? [byPosition] : runs;
}

// The non-matching stretches between the matching blocks of two sequences, found as
// Python's difflib does without junk: the longest common block first (earliest in `a`, then
// in `b`), then the same on both sides of it.
function gaps(a: readonly string[], b: readonly string[]): Run[] {
  const positions = new Map<string, number[]>();
  b.forEach((key, j) => {
    const list = positions.get(key);
    if (list) list.push(j);
    else positions.set(key, [j]);
  });

  const blocks: [number, number, number][] = [];
  const queue: Run[] = [[0, a.length, 0, b.length]];
  while (queue.length > 0) {
    const [alo, ahi, blo, bhi] = queue.pop()!;
    let [bestI, bestJ, bestSize] = [alo, blo, 0];
    let lengths = new Map<number, number>();
    for (let i = alo; i < ahi; i++) {
      const next = new Map<number, number>();
      for (const j of positions.get(a[i]!) ?? []) {
        if (j < blo) continue;
        if (j >= bhi) break;
        const size = (lengths.get(j - 1) ?? 0) + 1;
        next.set(j, size);
        if (size > bestSize) [bestI, bestJ, bestSize] = [i - size + 1, j - size + 1, size];
      }
      lengths = next;
    }
    if (bestSize === 0) continue;
    blocks.push([bestI, bestJ, bestSize]);
    if (alo < bestI && blo < bestJ) queue.push([alo, bestI, blo, bestJ]);
    if (bestI + bestSize < ahi && bestJ + bestSize < bhi) {
      queue.push([bestI + bestSize, ahi, bestJ + bestSize, bhi]);
    }
  }
  blocks.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  blocks.push([a.length, b.length, 0]);

  const runs: Run[] = [];
  let [i, j] = [0, 0];
  for (const [ai, bj, size] of blocks) {
    if (i < ai || j < bj) runs.push([i, ai, j, bj]);
    [i, j] = [ai + size, bj + size];
  }
  return runs;
}

function positionalCost(before: unknown, after: unknown): number {
  if (bodies.deepEqual(before, after)) return 0;
  if (bodies.isObject(before) && bodies.isObject(after)) {
    let total = 0;
    for (const key of Object.keys(before)) {
      total += Object.hasOwn(after, key) ? positionalCost(before[key], after[key]) : 1;
    }
    for (const key of Object.keys(after)) if (!Object.hasOwn(before, key)) total += 1;
    return total;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    let total = Math.abs(before.length - after.length);
    for (let i = 0; i < Math.min(before.length, after.length); i++) {
      total += positionalCost(before[i], after[i]);
    }
    return total;
  }
  return 1;
}

// A key equal for equal JSON values regardless of the key order of objects.
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (!bodies.isObject(item)) return item;
    return Object.fromEntries(Object.keys(item).sort().map((key) => [key, item[key]]));
  }) ?? "undefined";
}
