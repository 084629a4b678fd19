// Kopf's namespace patterns (`-n 'myapp-*,!*-pr-*'`): parsing them once, matching namespace
// names against them, and picking the exact names that can be served without listing
// namespaces. Used by the CLI, the operator's options and the namespace observer; no I/O.

/** One comma-separated part of a pattern, as a full-match regular expression. */
export interface NamespaceGlob {
  /** The glob without its `!` and surrounding spaces: `*-pr-*`. */
  readonly text: string;
  /** Whether the glob excludes (`!*-pr-*`) rather than includes. */
  readonly negated: boolean;
  /** Whether the glob has no wildcards, so it matches only the name equal to its text. */
  readonly literal: boolean;
  /** Matches the whole name, never a part of it. */
  readonly regexp: RegExp;
}

/** A parsed `-n` value: its globs from left to right, with the implied leading `*` if any. */
export interface NamespacePattern {
  /** The pattern as it was given: `myapp-*,!*-pr-*`, or a `RegExp` as `/^ns-\d+$/`. */
  readonly source: string;
  /** The globs from left to right; a `RegExp` is one glob. */
  readonly globs: readonly NamespaceGlob[];
}

/**
 * Parses the namespace patterns (the values of `-n`), checking every glob.
 *
 * Each value is a comma-separated list of globs (spaces around them are ignored) with `*`,
 * `?` and character classes (`[a-z]`, `[!0-9]`) as in Python's `fnmatch`. A glob starting
 * with `!` excludes. A namespace is served when it matches any of the patterns; see
 * {@linkcode matchNamespace} for how one pattern decides. A `RegExp` (from code, not the CLI)
 * is taken as is and must match the whole name.
 *
 * @throws {Error} when a pattern or one of its globs is empty, or a character class is
 * unclosed or has a reversed range (`[z-a]`)
 *
 * @example Parsing the values of `-n`
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import * as namespaces from "./namespaces.ts";
 * const [pattern] = namespaces.parsePatterns(["myapp-*, !*-pr-*"]);
 * deepEqual(pattern?.globs.map((glob) => glob.text), ["myapp-*", "*-pr-*"]);
 * ```
 */
export function parsePatterns(specs: readonly (string | RegExp)[]): NamespacePattern[] {
  return specs.map((spec) => typeof spec === "string" ? parseGlobs(spec) : parseRegExp(spec));
}

/**
 * Whether the namespace matches the pattern, by Kopf's rules:
 *
 * - The first glob is decisive: a name it does not include is never served.
 * - A leading `!` implies `*` before it: `!*-pr-*` means `*,!*-pr-*`.
 * - For a name the first glob includes, the right-most glob that matches it wins: `!` globs
 *   exclude it, later inclusive globs bring it back.
 *
 * So `a,b` matches only `a`: later inclusive globs re-include, they never widen the first.
 *
 * @example Excluding pull-request namespaces except one
 * ```ts
 * import { ok } from "node:assert/strict";
 * import * as namespaces from "./namespaces.ts";
 * const [pattern] = namespaces.parsePatterns(["myapp-*,!*-pr-*,*-pr-123"]);
 * ok(pattern !== undefined);
 * ok(namespaces.matchNamespace("myapp-live", pattern));
 * ok(!namespaces.matchNamespace("myapp-pr-456", pattern));
 * ok(namespaces.matchNamespace("myapp-pr-123", pattern));
 * ok(!namespaces.matchNamespace("otherapp-pr-123", pattern));
 * ```
 */
export function matchNamespace(name: string, pattern: NamespacePattern): boolean {
  const [first, ...rest] = pattern.globs;
  if (first === undefined || !first.regexp.test(name)) return false;
  let matches = true;
  for (const glob of rest) {
    if (glob.regexp.test(name)) matches = !glob.negated;
  }
  return matches;
}

/**
 * Whether the pattern is a plain namespace name (one glob, no wildcards, no `!`), which can
 * be watched directly: the fallback when the operator may not list or watch namespaces.
 * Comma lists are never exact, as in Kopf, even though `a,b` matches only `a`.
 *
 * @example Telling plain names from globs
 * ```ts
 * import { ok } from "node:assert/strict";
 * import * as namespaces from "./namespaces.ts";
 * const [plain, glob] = namespaces.parsePatterns(["default", "ns-*"]);
 * ok(plain !== undefined && namespaces.isExact(plain));
 * ok(glob !== undefined && !namespaces.isExact(glob));
 * ```
 */
export function isExact(pattern: NamespacePattern): boolean {
  const [only, ...rest] = pattern.globs;
  return only !== undefined && rest.length === 0 && only.literal && !only.negated;
}

/**
 * The names of the exact patterns (see {@linkcode isExact}), each once, in order.
 *
 * @example Serving what can be served when namespaces cannot be listed
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import * as namespaces from "./namespaces.ts";
 * const patterns = namespaces.parsePatterns(["ns1", "ns-*", " ns2 ", "ns1"]);
 * deepEqual(namespaces.exactNames(patterns), ["ns1", "ns2"]);
 * ```
 */
export function exactNames(patterns: readonly NamespacePattern[]): string[] {
  const names = patterns.filter(isExact).map((pattern) => pattern.globs[0]?.text ?? "");
  return [...new Set(names)];
}

const CATCH_ALL: NamespaceGlob = Object.freeze({
  text: "*",
  negated: false,
  literal: false,
  regexp: /^.*$/su,
});

function parseGlobs(source: string): NamespacePattern {
  const fail = (detail: string): never => {
    throw new Error(`Cannot parse the namespace pattern "${source}": ${detail}`);
  };
  if (source.trim() === "") fail("it is empty");
  const globs = source.split(",").map((part, index) => {
    const trimmed = part.trim();
    const negated = trimmed.startsWith("!");
    // Kopf strips every leading "!": "!!x" excludes, like "!x".
    const text = trimmed.replace(/^!+/, "");
    if (text === "") fail(`glob ${index + 1} is empty`);
    const { regexp, literal } = translate(text, fail);
    return Object.freeze({ text, negated, literal, regexp });
  });
  if (globs[0]?.negated) globs.unshift(CATCH_ALL);
  return Object.freeze({ source, globs: Object.freeze(globs) });
}

function parseRegExp(spec: RegExp): NamespacePattern {
  // Global and sticky flags would make test() remember its position between calls.
  const flags = spec.flags.replace(/[gy]/g, "");
  const regexp = new RegExp(`^(?:${spec.source})$`, flags);
  const glob = Object.freeze({ text: String(spec), negated: false, literal: false, regexp });
  return Object.freeze({ source: String(spec), globs: Object.freeze([glob]) });
}

/** Translates an fnmatch glob into a full-match regular expression. */
function translate(
  glob: string,
  fail: (detail: string) => never,
): { regexp: RegExp; literal: boolean } {
  const chars = [...glob];
  let source = "";
  let literal = true;
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] ?? "";
    if (char === "*") {
      literal = false;
      source += ".*";
    } else if (char === "?") {
      literal = false;
      source += ".";
    } else if (char === "[") {
      literal = false;
      const { regexp, end } = translateClass(chars, i + 1, glob, fail);
      source += regexp;
      i = end;
    } else {
      source += escape(char);
    }
  }
  return { regexp: new RegExp(`^${source}$`, "su"), literal };
}

/**
 * Translates the class that starts after `[` at `start`; returns the index of its `]`.
 * As in fnmatch: `!` first negates, `]` first is a member, `-` first or last is a member.
 */
function translateClass(
  chars: readonly string[],
  start: number,
  glob: string,
  fail: (detail: string) => never,
): { regexp: string; end: number } {
  let i = start;
  const negated = chars[i] === "!";
  if (negated) i++;
  if (chars[i] === "]") i++;
  const end = chars.indexOf("]", i);
  if (end < 0) return fail(`the character class in "${glob}" has no closing "]"`);
  const members = chars.slice(negated ? start + 1 : start, end);
  let body = "";
  for (let k = 0; k < members.length; k++) {
    const low = members[k] ?? "";
    const high = members[k + 2];
    if (members[k + 1] === "-" && high !== undefined) {
      if ((low.codePointAt(0) ?? 0) > (high.codePointAt(0) ?? 0)) {
        fail(`the range "${low}-${high}" in "${glob}" is reversed`);
      }
      body += `${escape(low)}-${escape(high)}`;
      k += 2;
    } else {
      body += escape(low);
    }
  }
  return { regexp: `[${negated ? "^" : ""}${body}]`, end };
}

/** Any character as a literal, valid inside and outside of classes in unicode mode. */
function escape(char: string): string {
  return /[\p{L}\p{N}_]/u.test(char) ? char : `\\u{${(char.codePointAt(0) ?? 0).toString(16)}}`;
}
