import { deepEqual, equal } from "node:assert/strict";
import * as indexes from "../../../lib/structs/indexes.ts";

/** The index as plain data: key → values, in the index's own order. */
function contents(index: indexes.Index): [unknown, unknown[]][] {
  return [...index].map(([key, store]) => [key, [...store]]);
}

Deno.test("Indexer: values of several objects under one key accumulate in its store", () => {
  const indexer = new indexes.Indexer<string, string>();
  indexer.replace("uid-1", { key1: "valueA" });
  indexer.replace("uid-2", { key1: "valueB" });
  indexer.replace("uid-3", { key2: "valueC" });
  deepEqual(contents(indexer.index), [["key1", ["valueA", "valueB"]], ["key2", ["valueC"]]]);
  equal(indexer.index.size, 2);
  equal(indexer.index.get("key1")?.size, 2);
});

Deno.test("Indexer: one object may give several keys; nested objects are values, not keys", () => {
  const indexer = new indexes.Indexer();
  indexer.replace("uid-1", { a: 1, b: { c: 2 } });
  deepEqual(contents(indexer.index), [["a", [1]], ["b", [{ c: 2 }]]]);
});

Deno.test("Indexer: a non-object result goes under the key null; arrays and instances too", () => {
  const indexer = new indexes.Indexer();
  indexer.replace("uid-1", "pod-1");
  indexer.replace("uid-2", ["ns", "pod-2"]);
  const set = new Set(["main"]);
  indexer.replace("uid-3", set);
  indexer.replace("uid-4", 0);
  indexer.replace("uid-5", false);
  deepEqual(contents(indexer.index), [[null, ["pod-1", ["ns", "pod-2"], set, 0, false]]]);
});

Deno.test("Indexer: a Map merges under its keys, whatever their type", () => {
  const indexer = new indexes.Indexer<unknown, string>();
  indexer.replace("uid-1", new Map<unknown, string>([[7, "seven"], [null, "none"]]));
  deepEqual(contents(indexer.index), [[7, ["seven"]], [null, ["none"]]]);
});

Deno.test("Indexer: null-prototype objects are key-value objects too", () => {
  const indexer = new indexes.Indexer();
  const result = Object.assign(Object.create(null), { k: "v" });
  indexer.replace("uid-1", result);
  deepEqual(contents(indexer.index), [["k", ["v"]]]);
});

Deno.test("Indexer: undefined and null change nothing; null as a value is kept", () => {
  const indexer = new indexes.Indexer();
  indexer.replace("uid-1", { k: "v" });
  indexer.replace("uid-1", undefined);
  indexer.replace("uid-1", null);
  deepEqual(contents(indexer.index), [["k", ["v"]]]);
  indexer.replace("uid-2", { k: null });
  deepEqual(contents(indexer.index), [["k", ["v", null]]]);
});

Deno.test("Indexer: a new result replaces the object's values and leaves keys it no longer has", () => {
  const indexer = new indexes.Indexer();
  indexer.replace("uid-1", { a: 1, b: 1 });
  indexer.replace("uid-2", { b: 2 });
  indexer.replace("uid-1", { b: 10, c: 10 });
  deepEqual(contents(indexer.index), [["b", [10, 2]], ["c", [10]]]);
  equal(indexer.index.has("a"), false, "the emptied store is removed");
});

Deno.test("Indexer: an empty object removes all the object's values", () => {
  const indexer = new indexes.Indexer();
  indexer.replace("uid-1", { a: 1 });
  indexer.replace("uid-1", {});
  equal(indexer.index.size, 0);
  equal(indexer.holds("uid-1"), false);
});

Deno.test("Indexer: discarding removes the object's values and the stores it emptied", () => {
  const indexer = new indexes.Indexer();
  indexer.replace("uid-1", { a: 1, b: 1 });
  indexer.replace("uid-2", { b: 2 });
  indexer.discard("uid-1");
  deepEqual(contents(indexer.index), [["b", [2]]]);
  indexer.discard("uid-1");
  indexer.discard("never-seen");
  deepEqual(contents(indexer.index), [["b", [2]]]);
  indexer.discard("uid-2");
  equal(indexer.index.size, 0);
});

Deno.test("Index: a live read-only view with the ReadonlyMap methods", () => {
  const indexer = new indexes.Indexer<string, string>();
  const index = indexer.index;
  indexer.replace("uid-1", { web: "pod-1" });
  deepEqual([...index.keys()], ["web"]);
  deepEqual([...index.values()].map((store) => [...store]), [["pod-1"]]);
  deepEqual([...index.entries()].map(([key]) => key), ["web"]);
  const visited: string[] = [];
  index.forEach((store, key, self) => {
    equal(self, index);
    visited.push(`${key}=${[...store].join(",")}`);
  });
  deepEqual(visited, ["web=pod-1"]);
  const asMap: ReadonlyMap<string, indexes.Store<string>> = index;
  equal(asMap.get("web")?.size, 1, "usable where a ReadonlyMap is expected");
  equal(Object.prototype.toString.call(index), "[object Index]");
  equal("set" in index || "delete" in index, false, "no writing methods");
});

Deno.test("Store: has() compares values deeply, as Kopf's `in` does", () => {
  const indexer = new indexes.Indexer();
  indexer.replace("uid-1", { k: { name: "pod-1", ports: [80] } });
  const store = indexer.index.get("k")!;
  equal(store.has({ name: "pod-1", ports: [80] }), true);
  equal(store.has({ name: "pod-1", ports: [81] }), false);
  deepEqual([...store.values()], [{ name: "pod-1", ports: [80] }]);
  equal(Object.prototype.toString.call(store), "[object Store]");
});

Deno.test("Store: values are not deduplicated across objects", () => {
  const indexer = new indexes.Indexer();
  indexer.replace("uid-1", { k: "same" });
  indexer.replace("uid-2", { k: "same" });
  deepEqual([...indexer.index.get("k")!], ["same", "same"]);
});
