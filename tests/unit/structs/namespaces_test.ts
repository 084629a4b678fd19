import { deepEqual, equal, throws } from "node:assert/strict";
import * as namespaces from "../../../lib/structs/namespaces.ts";

const NAMES = [
  "a",
  "b",
  "ab",
  "default",
  "kube-system",
  "kube-public",
  "myapp-live",
  "myapp-pr-123",
  "myapp-pr-456",
  "otherapp-pr-123",
  "ns-1",
  "ns-12",
  "ns-a",
  "x",
  "x1",
  "x12",
  "x123",
  "x1234",
  "x2",
] as const;

function parse(spec: string | RegExp): namespaces.NamespacePattern {
  const [pattern] = namespaces.parsePatterns([spec]);
  if (pattern === undefined) throw new Error("parsePatterns() returned nothing");
  return pattern;
}

/** The names (of `names`) that the pattern matches. */
function served(spec: string | RegExp, names: readonly string[] = NAMES): string[] {
  const pattern = parse(spec);
  return names.filter((name) => namespaces.matchNamespace(name, pattern));
}

Deno.test("an exact name matches only itself, with the spaces around it ignored", () => {
  deepEqual(served("default"), ["default"]);
  deepEqual(served("  x1 "), ["x1"]);
  deepEqual(served("nowhere"), []);
});

Deno.test("* matches any characters and ? exactly one", () => {
  deepEqual(served("kube-*"), ["kube-system", "kube-public"]);
  deepEqual(served("x*"), ["x", "x1", "x12", "x123", "x1234", "x2"]);
  deepEqual(served("x?"), ["x1", "x2"]);
  deepEqual(served("ns-??"), ["ns-12"]);
  deepEqual(served("*"), [...NAMES]);
});

Deno.test("character classes match one character of a set, range or negated set", () => {
  deepEqual(served("ns-[0-9]"), ["ns-1"]);
  deepEqual(served("ns-[!0-9]"), ["ns-a"]);
  deepEqual(served("x[12]"), ["x1", "x2"]);
  deepEqual(served("ns-[0-9]*"), ["ns-1", "ns-12"]);
});

Deno.test("classes take ] first and - first or last as members, and - after a range too", () => {
  const names = ["]x", "x", "-z", "az", "bz", "-", "b", "d", "e"];
  deepEqual(served("[]]x", names), ["]x"]);
  deepEqual(served("[!]]x", names), []);
  deepEqual(served("[-a]z", names), ["-z", "az"]);
  deepEqual(served("[a-]z", names), ["-z", "az"]);
  deepEqual(served("[a-c-e]", names), ["-", "b", "e"]);
});

Deno.test("characters special to regular expressions are literal in globs", () => {
  const names = ["a.b", "axb", "a+b", "aab", "^a", "a$", "a\\b", "(a)", "a|b", "a"];
  deepEqual(served("a.b", names), ["a.b"]);
  deepEqual(served("a+b", names), ["a+b"]);
  deepEqual(served("^a", names), ["^a"]);
  deepEqual(served("a$", names), ["a$"]);
  deepEqual(served("a\\b", names), ["a\\b"]);
  deepEqual(served("(a)", names), ["(a)"]);
  deepEqual(served("a|b", names), ["a|b"]);
});

Deno.test("a class starting with ^ matches ^ literally, as fnmatch does (only ! negates)", () => {
  deepEqual(served("[^a]", ["^", "a", "b"]), ["^", "a"]);
});

Deno.test("a leading ! excludes from an implied *", () => {
  deepEqual(served("!kube-*"), NAMES.filter((name) => !name.startsWith("kube-")));
  deepEqual(parse("!kube-*").globs.map((glob) => [glob.text, glob.negated]), [
    ["*", false],
    ["kube-*", true],
  ]);
});

Deno.test("repeated ! is one negation, as in Kopf", () => {
  deepEqual(served("!!kube-*"), served("!kube-*"));
  deepEqual(served("a,!!a"), []);
});

Deno.test("the first glob decides: later inclusive globs never add names it did not include", () => {
  deepEqual(served("a,b"), ["a"]);
  deepEqual(served("x1*,x2"), ["x1", "x12", "x123", "x1234"]);
  deepEqual(served("myapp-*,!*-pr-*,*-pr-123"), ["myapp-live", "myapp-pr-123"]);
});

Deno.test("after an implied * the later inclusive globs re-include anything they match", () => {
  deepEqual(
    served("!*-pr-*,*pr-123"),
    NAMES.filter((name) => name !== "myapp-pr-456"),
  );
});

Deno.test("the right-most glob that matches wins", () => {
  const pattern = "x*,!x1*,x12*,!x123";
  deepEqual(served(pattern), ["x", "x12", "x1234", "x2"]);
  deepEqual(served("x*,!x1*,x12*"), ["x", "x12", "x123", "x1234", "x2"]);
  deepEqual(served("x*,x12*,!x1*"), ["x", "x2"]);
});

Deno.test("comma lists ignore spaces around each glob", () => {
  deepEqual(served(" myapp-* , !*-pr-* ,*-pr-123 "), served("myapp-*,!*-pr-*,*-pr-123"));
  deepEqual(parse(" a , ! b ").globs.map((glob) => glob.text), ["a", " b"]);
});

Deno.test("a namespace is served by any of several patterns, each parsed on its own", () => {
  const patterns = namespaces.parsePatterns(["default", "kube-*", "!*"]);
  const servedByAny = NAMES.filter((name) =>
    patterns.some((pattern) => namespaces.matchNamespace(name, pattern))
  );
  deepEqual(servedByAny, ["default", "kube-system", "kube-public"]);
  deepEqual(patterns.map((pattern) => pattern.source), ["default", "kube-*", "!*"]);
});

Deno.test("a RegExp must match the whole name, and its g and y flags change nothing", () => {
  deepEqual(served(/ns-\d+/), ["ns-1", "ns-12"]);
  deepEqual(served(/x1|x2/), ["x1", "x2"]);
  deepEqual(served(/NS-A/i), ["ns-a"]);
  const sticky = parse(/x\d/gy);
  deepEqual([1, 2, 3].map(() => namespaces.matchNamespace("x1", sticky)), [true, true, true]);
  equal(parse(/ns-\d+/).source, "/ns-\\d+/");
});

Deno.test("parsePatterns() rejects empty patterns and empty globs", () => {
  throws(() => namespaces.parsePatterns([""]), {
    message: `Cannot parse the namespace pattern "": it is empty`,
  });
  throws(() => namespaces.parsePatterns(["  "]), /it is empty/);
  throws(() => namespaces.parsePatterns(["a,,b"]), {
    message: `Cannot parse the namespace pattern "a,,b": glob 2 is empty`,
  });
  throws(() => namespaces.parsePatterns(["a,"]), /"a,": glob 2 is empty/);
  throws(() => namespaces.parsePatterns(["!"]), /"!": glob 1 is empty/);
  throws(() => namespaces.parsePatterns(["a, !!"]), /glob 2 is empty/);
});

Deno.test("parsePatterns() rejects unclosed character classes", () => {
  throws(() => namespaces.parsePatterns(["ns-[0-9"]), {
    message: `Cannot parse the namespace pattern "ns-[0-9": the character class in "ns-[0-9" ` +
      `has no closing "]"`,
  });
  throws(() => namespaces.parsePatterns(["a,[]"]), /the character class in "\[\]" has no/);
  throws(() => namespaces.parsePatterns(["[!]"]), /has no closing/);
});

Deno.test("parsePatterns() rejects reversed ranges in classes", () => {
  throws(() => namespaces.parsePatterns(["ok", "ns-[9-0]"]), {
    message: `Cannot parse the namespace pattern "ns-[9-0]": the range "9-0" in "ns-[9-0]" ` +
      `is reversed`,
  });
});

Deno.test("isExact() is true only for one inclusive glob without wildcards", () => {
  const exact = (spec: string | RegExp) => namespaces.isExact(parse(spec));
  equal(exact("default"), true);
  equal(exact(" default "), true);
  equal(exact("ns-*"), false);
  equal(exact("ns-?"), false);
  equal(exact("ns-[12]"), false);
  equal(exact("!default"), false);
  equal(exact("a,b"), false);
  equal(exact("a,!b"), false);
  equal(exact(/default/), false);
});

Deno.test("exactNames() lists the exact patterns' names once, in order", () => {
  const patterns = namespaces.parsePatterns(["ns2", "ns-*", " ns1", "!ns3", "ns2", "a,b", /c/]);
  deepEqual(namespaces.exactNames(patterns), ["ns2", "ns1"]);
  deepEqual(namespaces.exactNames([]), []);
});

Deno.test("parsed patterns are frozen", () => {
  const pattern = parse("a,!b");
  equal(Object.isFrozen(pattern), true);
  equal(Object.isFrozen(pattern.globs), true);
  equal(pattern.globs.every((glob) => Object.isFrozen(glob)), true);
});
