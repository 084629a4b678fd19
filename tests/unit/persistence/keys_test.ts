import { deepEqual, equal, throws } from "node:assert/strict";
import * as keys from "../../../lib/persistence/keys.ts";
import * as patches from "../../../lib/structs/patches.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const utf8 = (text: string) => new TextEncoder().encode(text);

Deno.test("blake2b() matches the test vectors of RFC 7693", () => {
  // Appendix A: BLAKE2b-512("abc").
  equal(
    hex(keys.blake2b(utf8("abc"), 64)),
    "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1" +
      "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923",
  );
  // The empty message, as in the reference implementation's test vectors.
  equal(
    hex(keys.blake2b(utf8(""), 64)),
    "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419" +
      "d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce",
  );
});

Deno.test("blake2b() hashes across block boundaries and with short digests", () => {
  // Python: hashlib.blake2b(b"create_fn", digest_size=4).hexdigest()
  equal(hex(keys.blake2b(utf8("create_fn"), 4)), "0198c5b8");
  equal(keys.blake2b(utf8("y".repeat(300)), 32).length, 32);
  throws(() => keys.blake2b(utf8("a"), 0), /digest size 0 is not 1 to 64/);
  throws(() => keys.blake2b(utf8("a"), 65), /digest size 65/);
});

Deno.test("hashSuffix() is a dash and six Base64 characters of the 4-byte digest", () => {
  equal(keys.hashSuffix("create_fn"), "-AZjFuA");
  for (const key of ["a", "b/c", "x".repeat(100), "ünïcødé"]) {
    equal(keys.hashSuffix(key).length, 7);
    equal(/^-[A-Za-z0-9.-]{6}$/.test(keys.hashSuffix(key)), true);
  }
});

Deno.test("safeName() turns slashes into dots and angle brackets into underscores", () => {
  equal(keys.safeName("create_fn/sub1/<lambda>"), "create_fn.sub1._lambda_");
});

Deno.test("short keys are the same in V1 and V2, so only one key is written", () => {
  equal(keys.v1Key("kopf.zalando.org", "create_fn/sub1"), "kopf.zalando.org/create_fn.sub1");
  equal(keys.v2Key("kopf.zalando.org", "create_fn/sub1"), "kopf.zalando.org/create_fn.sub1");
  deepEqual(keys.makeKeys("kopf.zalando.org", "create_fn/sub1"), [
    "kopf.zalando.org/create_fn.sub1",
  ]);
});

Deno.test("V1 cuts the whole key to 63 characters; V2 only the name part", () => {
  const prefix = "lengthy-operator-name-to-hit-63-chars.example.com";
  const v1 = keys.v1Key(prefix, "update/subhandler1");
  const v2 = keys.v2Key(prefix, "update/subhandler1");
  equal(v1.length, 63);
  equal(v1, `${prefix}/update${keys.hashSuffix("update.subhandler1")}`);
  equal(v2, `${prefix}/update.subhandler1`);
  deepEqual(keys.makeKeys(prefix, "update/subhandler1"), [v2, v1]);
  deepEqual(keys.makeKeys(prefix, "update/subhandler1", { v1: false }), [v2]);
});

Deno.test("V2 hashes names over 63 characters, keeping 56 of them and a suffix of the raw id", () => {
  equal(keys.v2Key("p", "a".repeat(63)), `p/${"a".repeat(63)}`);
  const long = `handler/${"b".repeat(70)}`;
  const v2 = keys.v2Key("p", long);
  equal(v2, `p/handler.${"b".repeat(48)}${keys.hashSuffix(long)}`);
  equal(v2.length - "p/".length, 63);
});

Deno.test("V1 with a prefix over 55 characters cuts the name from its end, as Kopf's slicing does", () => {
  const prefix = "a-very-long-prefix-that-makes-kopf-slice-from-the-end.example"; // 61
  const key = "a".repeat(10);
  // 63 - 62 - 7 = -6: Python's key[:-6] keeps the first 4 characters.
  equal(keys.v1Key(prefix, key), `${prefix}/aaaa${keys.hashSuffix(key)}`);
});

Deno.test("ReplicaSets owned by Deployments get -ofDRS keys; other objects do not", () => {
  const owned = {
    kind: "ReplicaSet",
    metadata: { ownerReferences: [{ kind: "Deployment", name: "d" }] },
  };
  deepEqual(keys.makeKeys("kopf.zalando.org", "create_fn", { body: owned }), [
    "kopf.zalando.org/create_fn-ofDRS",
  ]);
  const unowned = { kind: "ReplicaSet", metadata: {} };
  deepEqual(keys.makeKeys("kopf.zalando.org", "create_fn", { body: unowned }), [
    "kopf.zalando.org/create_fn",
  ]);
  const pod = { kind: "Pod", metadata: { ownerReferences: [{ kind: "Deployment" }] } };
  equal(keys.markKey("create_fn", pod), "create_fn");
});

Deno.test("storeMarker() marks non-kopf.* prefixes once, unless the body has the marker", () => {
  equal(keys.markerKey("kopf.zalando.org"), undefined);
  equal(keys.markerKey("kopf.example.com"), undefined);
  equal(keys.markerKey("my-op.example.com"), "my-op.example.com/kopf-managed");

  const patch = new patches.Patch();
  keys.storeMarker("my-op.example.com", patch, {});
  keys.storeMarker("kopf.zalando.org", patch, {});
  deepEqual(patch.toMergePatch(), {
    metadata: { annotations: { "my-op.example.com/kopf-managed": "yes" } },
  });

  const marked = { metadata: { annotations: { "my-op.example.com/kopf-managed": "yes" } } };
  const untouched = new patches.Patch();
  keys.storeMarker("my-op.example.com", untouched, marked);
  equal(untouched.isEmpty(), true);
});

Deno.test("detectMarkedPrefixes() finds marked prefixes and kopf.zalando.org with its subdomains", () => {
  const found = keys.detectMarkedPrefixes([
    "other.example.com/kopf-managed",
    "other.example.com/create_fn",
    "kopf.zalando.org/create_fn",
    "team.kopf.zalando.org/x",
    "kopf.example.com/create_fn",
    "example.com/note",
    "no-prefix",
  ]);
  deepEqual([...found].sort(), ["kopf.zalando.org", "other.example.com", "team.kopf.zalando.org"]);
});
