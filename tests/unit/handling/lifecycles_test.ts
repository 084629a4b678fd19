import { deepEqual, equal } from "node:assert/strict";
import * as lifecycles from "../../../lib/handling/lifecycles.ts";

const handlers = [{ id: "a" }, { id: "b" }, { id: "c" }];
const retries: Record<string, number> = { a: 2, b: 0, c: 1 };

Deno.test("all_at_once runs every ready handler in registration order; one_by_one only the first", () => {
  deepEqual(lifecycles.allAtOnce(handlers, (id) => retries[id]!).map((h) => h.id), ["a", "b", "c"]);
  deepEqual(lifecycles.oneByOne(handlers, (id) => retries[id]!).map((h) => h.id), ["a"]);
});

Deno.test("asap runs the least retried handler first, so a failing one does not block the others", () => {
  deepEqual(lifecycles.asap(handlers, (id) => retries[id]!).map((h) => h.id), ["b"]);
});

Deno.test("shuffled keeps every handler and randomized picks one; both handle no handlers", () => {
  deepEqual(lifecycles.shuffled(handlers, () => 0).map((h) => h.id).sort(), ["a", "b", "c"]);
  equal(lifecycles.randomized(handlers, () => 0).length, 1);
  deepEqual(lifecycles.randomized([], () => 0), []);
  deepEqual(lifecycles.shuffled([], () => 0), []);
});
