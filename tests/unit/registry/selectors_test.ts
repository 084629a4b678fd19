import { deepEqual, equal, throws } from "node:assert/strict";
import * as handlers from "../../../lib/registry/handlers.ts";
import * as selectors from "../../../lib/registry/selectors.ts";
import type * as references from "../../../lib/structs/references.ts";

function resource(
  group: string,
  version: string,
  plural: string,
  extra: Partial<references.Resource> = {},
): references.Resource {
  return { group, version, plural, namespaced: true, preferred: true, ...extra };
}

const examplesV1 = resource("kopf.dev", "v1", "kopfexamples", {
  kind: "KopfExample",
  singular: "kopfexample",
  shortNames: ["kex", "kexes"],
  categories: ["all", "kopf"],
});
const examplesV2 = resource("kopf.dev", "v2beta1", "kopfexamples", {
  kind: "KopfExample",
  singular: "kopfexample",
  shortNames: ["kex"],
  preferred: false,
});
const pods = resource("", "v1", "pods", { kind: "Pod", singular: "pod", shortNames: ["po"] });
const podMetrics = resource("metrics.k8s.io", "v1beta1", "pods", { kind: "PodMetrics" });
const coreEvents = resource("", "v1", "events", { kind: "Event", singular: "event" });
const k8sEvents = resource("events.k8s.io", "v1", "events", { kind: "Event", singular: "event" });
const leases = resource("coordination.k8s.io", "v1", "leases", { kind: "Lease" });
const otherKex = resource("other.dev", "v1", "otherexamples", {
  kind: "OtherExample",
  shortNames: ["kex"],
});
const ALL = [examplesV1, examplesV2, pods, podMetrics, coreEvents, k8sEvents, leases];

function select(selector: handlers.ResourceSelector, from = ALL) {
  return selectors.select(selectors.parse(selector), from);
}

Deno.test("select() matches a name by plural, singular, kind or short name in the preferred version", () => {
  for (const name of ["kopfexamples", "kopfexample", "KopfExample", "kex", "kexes"]) {
    deepEqual(select(name), [examplesV1], name);
  }
  deepEqual(select("kopfExample"), []);
});

Deno.test("select() narrows by group and version in the string forms", () => {
  deepEqual(select("kopfexamples.kopf.dev"), [examplesV1]);
  deepEqual(select("kopfexamples.v2beta1.kopf.dev"), [examplesV2]);
  deepEqual(select("kex.v2beta1.kopf.dev"), [examplesV2]);
  deepEqual(select("kopfexamples.other.dev"), []);
  deepEqual(select("pods.v1"), [pods]);
});

Deno.test("select() reads object selectors field by field", () => {
  deepEqual(select({ group: "kopf.dev", version: "v1", plural: "kopfexamples" }), [examplesV1]);
  deepEqual(select({ kind: "KopfExample" }), [examplesV1]);
  deepEqual(select({ singular: "kopfexample", version: "v2beta1" }), [examplesV2]);
  deepEqual(select({ shortcut: "kexes" }), [examplesV1]);
  deepEqual(select({ plural: "kopfexample" }), []);
  deepEqual(select({ category: "kopf" }), [examplesV1]);
  deepEqual(select({ group: "", plural: "pods" }), [pods]);
});

Deno.test("select() serves only the preferred version without a version; an unmarked resource counts as preferred", () => {
  deepEqual(select({ group: "kopf.dev", plural: "kopfexamples" }), [examplesV1]);
  const unmarked = { group: "x.dev", version: "v1", plural: "things", namespaced: true };
  deepEqual(select("things", [unmarked]), [unmarked]);
});

Deno.test("select() lets the core group win for names, as kubectl does", () => {
  deepEqual(select("pods"), [pods]);
  deepEqual(select({ plural: "pods" }), [pods]);
  deepEqual(select("pods", [podMetrics]), [podMetrics]);
});

Deno.test("select() keeps every group for categories and EVERYTHING", () => {
  const a = resource("a.dev", "v1", "things", { categories: ["all"] });
  const b = resource("b.dev", "v1", "things", { categories: ["all"] });
  deepEqual(select({ category: "all" }, [a, b]), [a, b]);
  deepEqual(select(handlers.EVERYTHING, [a, b]), [a, b]);
});

Deno.test("EVERYTHING selects all preferred resources except core and events.k8s.io events", () => {
  deepEqual(select(handlers.EVERYTHING), [examplesV1, pods, podMetrics, leases]);
});

Deno.test("events are served when named explicitly", () => {
  deepEqual(select("events"), [coreEvents]);
  deepEqual(select("events.events.k8s.io"), [k8sEvents]);
  deepEqual(select({ group: "events.k8s.io", plural: "events" }), [k8sEvents]);
});

Deno.test("a predicate sees every version but never events", () => {
  deepEqual(select((r) => r.group === "kopf.dev"), [examplesV1, examplesV2]);
  deepEqual(select((r) => r.plural === "events"), []);
});

Deno.test("served() drops name-like selectors that are ambiguous between non-core groups", () => {
  const served = selectors.served(["kex", "leases"], [examplesV1, otherKex, leases]);
  deepEqual(served.resources, [leases]);
  deepEqual(served.ambiguous, [{ selector: "kex", resources: [examplesV1, otherKex] }]);
  deepEqual(served.unresolved, []);
});

Deno.test("served() is not ambiguous when the core group wins, and reports unresolved selectors", () => {
  const served = selectors.served(["pods", "nosuchthings"], [pods, podMetrics]);
  deepEqual(served.resources, [pods]);
  deepEqual(served.ambiguous, []);
  deepEqual(served.unresolved, ["nosuchthings"]);
});

Deno.test("served() unions what all selectors select, once each", () => {
  const served = selectors.served(["kex", { kind: "KopfExample" }, handlers.EVERYTHING], ALL);
  deepEqual(served.resources, [examplesV1, pods, podMetrics, leases]);
});

Deno.test("staticReference() resolves full names and complete objects without discovery", () => {
  deepEqual(selectors.staticReference("kopfexamples.v1.kopf.dev"), {
    group: "kopf.dev",
    version: "v1",
    plural: "kopfexamples",
  });
  deepEqual(selectors.staticReference("configmaps.v1"), {
    group: "",
    version: "v1",
    plural: "configmaps",
  });
  deepEqual(selectors.staticReference({ group: "apps", version: "v1", plural: "deployments" }), {
    group: "apps",
    version: "v1",
    plural: "deployments",
  });
  for (
    const needsDiscovery of [
      "kopfexamples",
      "kopfexamples.kopf.dev",
      { group: "apps", version: "v1", kind: "Deployment" },
      handlers.EVERYTHING,
      () => true,
    ] as handlers.ResourceSelector[]
  ) {
    equal(selectors.staticReference(needsDiscovery), undefined);
  }
});

Deno.test("same() compares selectors as written, predicates by identity", () => {
  const predicate = () => true;
  equal(selectors.same("kopfexamples.kopf.dev", "kopfexamples.kopf.dev"), true);
  equal(
    selectors.same("kopfexamples.v1.kopf.dev", { group: "kopf.dev", version: "v1", plural: "x" }),
    false,
  );
  equal(selectors.same({ plural: "pods" }, { plural: "pods" }), true);
  equal(selectors.same("kopfexamples", "kex"), false);
  equal(selectors.same(predicate, predicate), true);
  equal(selectors.same(predicate, () => true), false);
  equal(selectors.same(handlers.EVERYTHING, handlers.EVERYTHING), true);
});

Deno.test("parse() rejects malformed selectors with a message that shows the accepted forms", () => {
  throws(
    () => selectors.parse("kopfexamples..dev"),
    /^RegistrationError: Cannot select the resource "kopfexamples\.\.dev": use plural, plural\.group, plural\.version\.group or plural\.version$/,
  );
  throws(
    () => selectors.parse({ group: "kopf.dev" }),
    /Cannot select the resource \{"group":"kopf\.dev"\}: name it by one of kind, plural, singular, shortcut, category/,
  );
  throws(
    () => selectors.parse({ plural: "kopfexamples", kind: "KopfExample" }),
    /it names kind and plural; keep exactly one of them/,
  );
  throws(() => selectors.parse({ plural: "" }), /"plural" must be a non-empty string/);
  throws(
    () => selectors.parse({ plurals: "pods" } as handlers.ResourceSelector),
    /unknown key "plurals"; known keys are group, version, kind, plural, singular, shortcut, category/,
  );
  throws(
    () => selectors.parse(42 as unknown as handlers.ResourceSelector),
    /Cannot select the resource 42: use a name, \{ group, version, plural \}, EVERYTHING or a predicate/,
  );
});
