import { deepEqual, equal, notEqual, throws } from "node:assert/strict";
import * as hierarchies from "../../../lib/kits/hierarchies.ts";

const OWNER = {
  apiVersion: "kopf.dev/v1",
  kind: "KopfExample",
  metadata: {
    name: "kopf-example-1",
    namespace: "ns1",
    uid: "uid-1",
    labels: { app: "example", tier: "back" },
  },
} as const;

const REFERENCE: hierarchies.OwnerReference = {
  apiVersion: "kopf.dev/v1",
  kind: "KopfExample",
  name: "kopf-example-1",
  uid: "uid-1",
  controller: true,
  blockOwnerDeletion: true,
};

const CLUSTER_OWNER = {
  apiVersion: "kopf.dev/v1",
  kind: "KopfCluster",
  metadata: { name: "cluster-1", uid: "uid-c" },
};

type Child = { kind?: string; metadata?: Record<string, unknown>; spec?: Record<string, unknown> };

// buildOwnerReference()

Deno.test("buildOwnerReference() makes a controller reference that blocks deletion by default", () => {
  deepEqual(hierarchies.buildOwnerReference(OWNER), REFERENCE);
});

Deno.test("buildOwnerReference() takes controller and blockOwnerDeletion from the options", () => {
  deepEqual(
    hierarchies.buildOwnerReference(OWNER, { controller: false, blockOwnerDeletion: false }),
    { ...REFERENCE, controller: false, blockOwnerDeletion: false },
  );
});

Deno.test("buildOwnerReference() names every field the owner lacks", () => {
  throws(() => hierarchies.buildOwnerReference({ kind: "Pod", metadata: { name: "p" } }), {
    message: `Cannot build an owner reference to "Pod/p": it has no apiVersion, metadata.uid`,
  });
  throws(() => hierarchies.buildOwnerReference({}), {
    message: `Cannot build an owner reference to "?/?": ` +
      `it has no apiVersion, kind, metadata.name, metadata.uid`,
  });
});

// appendOwnerReference()

Deno.test("appendOwnerReference() adds the reference to an object, creating its metadata", () => {
  const child: Child = { kind: "Pod" };
  const result = hierarchies.appendOwnerReference(child, OWNER);
  equal(result, child);
  deepEqual(child, { kind: "Pod", metadata: { ownerReferences: [REFERENCE] } });
});

Deno.test("appendOwnerReference() keeps other owners and passes the options", () => {
  const other = { apiVersion: "v1", kind: "ConfigMap", name: "cm", uid: "uid-2" };
  const child = { metadata: { ownerReferences: [other] } };
  hierarchies.appendOwnerReference(child, OWNER, { controller: false });
  deepEqual(child.metadata.ownerReferences, [other, { ...REFERENCE, controller: false }]);
});

Deno.test("appendOwnerReference() adds nothing when a reference has the owner's uid already", () => {
  const stale = { apiVersion: "old/v0", kind: "Old", name: "old", uid: "uid-1", controller: false };
  const child = { metadata: { ownerReferences: [stale] } };
  hierarchies.appendOwnerReference(child, OWNER);
  hierarchies.appendOwnerReference(child, OWNER);
  deepEqual(child.metadata.ownerReferences, [stale]);
});

Deno.test("appendOwnerReference() gives each object of a list its own copy", () => {
  const children: Child[] = [{}, { metadata: { name: "b" } }];
  hierarchies.appendOwnerReference(children, OWNER);
  deepEqual(children.map((child) => child.metadata?.ownerReferences), [[REFERENCE], [REFERENCE]]);
  const [first, second] = children.map((child) =>
    (child.metadata?.ownerReferences as unknown[])[0]
  );
  notEqual(first, second);
});

Deno.test("appendOwnerReference() flattens arrays of arrays", () => {
  const children: Child[] = [{}, {}];
  hierarchies.appendOwnerReference([[children[0]!], [[children[1]!]]], OWNER);
  deepEqual(children.map((child) => child.metadata), [
    { ownerReferences: [REFERENCE] },
    { ownerReferences: [REFERENCE] },
  ]);
});

Deno.test("appendOwnerReference() rejects a list with a non-object before changing any", () => {
  const child: Child = {};
  throws(
    () => hierarchies.appendOwnerReference([child, 42], OWNER),
    {
      name: "TypeError",
      message: "appendOwnerReference() changes objects and arrays of objects, not a number (42)",
    },
  );
  deepEqual(child, {});
});

Deno.test("appendOwnerReference() rejects ownerReferences that are not an array", () => {
  const child = { kind: "Pod", metadata: { name: "p", ownerReferences: { uid: "x" } } };
  throws(() => hierarchies.appendOwnerReference(child, OWNER), {
    message: `Cannot change "Pod/p": its ownerReferences is an object ({"uid":"x"})`,
  });
});

Deno.test("appendOwnerReference() without an owner uses the current one, or fails", async () => {
  const child: Child = {};
  await hierarchies.currentOwner.run(OWNER, async () => {
    await Promise.resolve();
    hierarchies.appendOwnerReference(child);
  });
  deepEqual(child.metadata, { ownerReferences: [REFERENCE] });
  throws(() => hierarchies.appendOwnerReference({}), {
    message: "appendOwnerReference() needs an owner: pass one, or call it inside a handler",
  });
});

// removeOwnerReference()

Deno.test("removeOwnerReference() removes the owner's references by uid, in place", () => {
  const other = { apiVersion: "v1", kind: "ConfigMap", name: "cm", uid: "uid-2" };
  const references = [{ ...REFERENCE }, other, { uid: "uid-1", kind: "Stale" }];
  const child = { metadata: { ownerReferences: references } };
  equal(hierarchies.removeOwnerReference(child, { metadata: { uid: "uid-1" } }), child);
  equal(child.metadata.ownerReferences, references);
  deepEqual(references, [other]);
});

Deno.test("removeOwnerReference() changes nothing in objects without the reference", () => {
  const children: Child[] = [{}, { metadata: { ownerReferences: [] } }, {
    metadata: { ownerReferences: [REFERENCE] },
  }];
  hierarchies.removeOwnerReference(children, OWNER);
  deepEqual(children, [{}, { metadata: { ownerReferences: [] } }, {
    metadata: { ownerReferences: [] },
  }]);
});

Deno.test("removeOwnerReference() needs an owner with a uid", () => {
  throws(() => hierarchies.removeOwnerReference({}, { kind: "Pod", metadata: { name: "p" } }), {
    message: `Cannot remove the owner references to "Pod/p": it has no uid`,
  });
  throws(() => hierarchies.removeOwnerReference({}), {
    message: "removeOwnerReference() needs an owner: pass one, or call it inside a handler",
  });
  const child = { metadata: { ownerReferences: [REFERENCE] } };
  hierarchies.currentOwner.run(OWNER, () => hierarchies.removeOwnerReference(child));
  deepEqual(child.metadata.ownerReferences, []);
});

// label()

Deno.test("label() adds labels and keeps the existing values unless forced", () => {
  const child = { metadata: { labels: { app: "mine", keep: "yes" } } };
  hierarchies.label(child, { app: "theirs", tier: "front" });
  deepEqual(child.metadata.labels, { app: "mine", keep: "yes", tier: "front" });
  hierarchies.label(child, { app: "theirs", tier: "back" }, { forced: true });
  deepEqual(child.metadata.labels, { app: "theirs", keep: "yes", tier: "back" });
});

Deno.test("label() creates the metadata and labels when absent, on each object of a list", () => {
  const children: Child[] = [{}, { metadata: { name: "b" } }];
  hierarchies.label(children, { app: "x" });
  deepEqual(children, [{ metadata: { labels: { app: "x" } } }, {
    metadata: { name: "b", labels: { app: "x" } },
  }]);
});

Deno.test("label() with no labels leaves the objects untouched", () => {
  const child = {};
  hierarchies.label(child, {}, { nested: "spec.template" });
  deepEqual(child, {});
});

Deno.test("label() labels the nested templates that exist and never creates them", () => {
  const deployment = {
    metadata: { name: "d" },
    spec: { template: { metadata: { labels: { app: "pod" } } } },
  };
  const pod = { metadata: { name: "p" } };
  hierarchies.label([deployment, pod], { app: "x", tier: "y" }, { nested: "spec.template" });
  deepEqual(deployment, {
    metadata: { name: "d", labels: { app: "x", tier: "y" } },
    spec: { template: { metadata: { labels: { app: "pod", tier: "y" } } } },
  });
  deepEqual(pod, { metadata: { name: "p", labels: { app: "x", tier: "y" } } });
});

Deno.test("label() takes a list of nested fields, as dotted strings or paths", () => {
  const cronjob = { spec: { jobTemplate: { spec: { template: {} } }, template: null } };
  hierarchies.label(cronjob, { app: "x" }, {
    forced: true,
    nested: ["spec.template", ["spec", "jobTemplate"], "spec.jobTemplate.spec.template"],
  });
  deepEqual(cronjob, {
    metadata: { labels: { app: "x" } },
    spec: {
      jobTemplate: {
        metadata: { labels: { app: "x" } },
        spec: { template: { metadata: { labels: { app: "x" } } } },
      },
      template: null,
    },
  });
});

Deno.test("label() rejects nested fields that hold something else than an object", () => {
  const pod = { kind: "Pod", metadata: { name: "p" } };
  const deployment = { kind: "Deployment", metadata: { name: "d" }, spec: { template: "x" } };
  throws(
    () => hierarchies.label([pod, deployment], { app: "x" }, { nested: [["spec", "template"]] }),
    {
      name: "TypeError",
      message: `Cannot change "Deployment/d": its spec.template is a string ("x")`,
    },
  );
  deepEqual([pod.metadata, deployment.metadata], [{ name: "p" }, { name: "d" }]);
});

Deno.test("label() reads a list of strings as several fields, not as one path, as Kopf does", () => {
  const deployment = { spec: { template: {} } };
  hierarchies.label(deployment, { app: "x" }, { nested: ["spec", "template"] });
  deepEqual(deployment, {
    metadata: { labels: { app: "x" } },
    spec: { template: {}, metadata: { labels: { app: "x" } } },
  });
});

Deno.test("label() rejects metadata or labels that are not objects", () => {
  throws(() => hierarchies.label({ kind: "Pod", metadata: "x" }, { app: "x" }), {
    name: "TypeError",
    message: `Cannot change "Pod/?": its metadata is a string ("x")`,
  });
  throws(
    () => hierarchies.label({ kind: "Pod", metadata: { name: "p", labels: [] } }, { app: "x" }),
    { message: `Cannot change "Pod/p": its labels is an array` },
  );
});

// harmonizeNaming()

Deno.test("harmonizeNaming() sets a generateName prefix on unnamed objects by default", () => {
  const children: Child[] = [{}, { metadata: { namespace: "ns" } }];
  hierarchies.harmonizeNaming(children, "owner");
  deepEqual(children, [{ metadata: { generateName: "owner-" } }, {
    metadata: { namespace: "ns", generateName: "owner-" },
  }]);
});

Deno.test("harmonizeNaming() in strict mode sets the exact name", () => {
  const child: Child = {};
  hierarchies.harmonizeNaming(child, "owner", { strict: true });
  deepEqual(child, { metadata: { name: "owner" } });
});

Deno.test("harmonizeNaming() keeps an existing name or generateName unless forced", () => {
  const named = { metadata: { name: "mine" } };
  const prefixed = { metadata: { generateName: "mine-" } };
  for (const strict of [false, true]) {
    hierarchies.harmonizeNaming([named, prefixed], "owner", { strict });
  }
  deepEqual(named, { metadata: { name: "mine" } });
  deepEqual(prefixed, { metadata: { generateName: "mine-" } });
});

Deno.test("harmonizeNaming() forced replaces the other naming field", () => {
  const named: Child = { metadata: { name: "mine" } };
  hierarchies.harmonizeNaming(named, "owner", { forced: true });
  deepEqual(named, { metadata: { generateName: "owner-" } });
  hierarchies.harmonizeNaming(named, "owner", { forced: true, strict: true });
  deepEqual(named, { metadata: { name: "owner" } });
});

Deno.test("harmonizeNaming() treats a null name as absent", () => {
  const child = { metadata: { name: null } };
  hierarchies.harmonizeNaming(child, "owner");
  deepEqual(child, { metadata: { generateName: "owner-" } });
});

Deno.test("harmonizeNaming() rejects an empty name", () => {
  throws(() => hierarchies.harmonizeNaming({}, ""), {
    message: `Cannot name the objects after "": the name is empty`,
  });
});

// adjustNamespace()

Deno.test("adjustNamespace() sets the namespace where there is none, or everywhere if forced", () => {
  const children: Child[] = [{}, { metadata: { namespace: "other" } }, {
    metadata: { namespace: null },
  }];
  hierarchies.adjustNamespace(children, "ns1");
  deepEqual(children.map((child) => child.metadata?.namespace), ["ns1", "other", "ns1"]);
  hierarchies.adjustNamespace(children, "ns2", { forced: true });
  deepEqual(children.map((child) => child.metadata?.namespace), ["ns2", "ns2", "ns2"]);
});

Deno.test("adjustNamespace() without a namespace keeps them, or removes them if forced", () => {
  const children: Child[] = [{}, { metadata: { namespace: "other" } }];
  hierarchies.adjustNamespace(children, undefined);
  deepEqual(children, [{}, { metadata: { namespace: "other" } }]);
  hierarchies.adjustNamespace(children, undefined, { forced: true });
  deepEqual(children, [{}, { metadata: {} }]);
});

// adopt()

Deno.test("adopt() owns, names, places and labels a child after an explicit owner", () => {
  const child = { apiVersion: "v1", kind: "Pod", spec: { containers: [] } };
  const adopted = hierarchies.adopt(child, OWNER);
  equal(adopted, child);
  deepEqual(child, {
    apiVersion: "v1",
    kind: "Pod",
    spec: { containers: [] },
    metadata: {
      ownerReferences: [REFERENCE],
      generateName: "kopf-example-1-",
      namespace: "ns1",
      labels: { app: "example", tier: "back" },
    },
  });
});

Deno.test("adopt() uses the object of the running handler when no owner is given", async () => {
  const child: Child = { kind: "Pod" };
  await hierarchies.currentOwner.run(OWNER, async () => {
    await new Promise((resolve) => setTimeout(resolve, 0));
    hierarchies.adopt(child, undefined, { strict: true });
  });
  deepEqual(child.metadata, {
    ownerReferences: [REFERENCE],
    name: "kopf-example-1",
    namespace: "ns1",
    labels: { app: "example", tier: "back" },
  });
});

Deno.test("adopt() prefers an explicit owner to the running handler's object", () => {
  const child: Child = {};
  hierarchies.currentOwner.run(OWNER, () => hierarchies.adopt(child, CLUSTER_OWNER));
  deepEqual(child.metadata?.ownerReferences, [{
    ...REFERENCE,
    kind: "KopfCluster",
    name: "cluster-1",
    uid: "uid-c",
  }]);
});

Deno.test("adopt() without an owner outside of a handler fails clearly", () => {
  throws(() => hierarchies.adopt({}), {
    message: "adopt() needs an owner: pass one, or call it inside a handler",
  });
});

Deno.test("adopt() keeps what the child has unless forced", () => {
  const existing = () => ({
    metadata: { name: "mine", namespace: "other", labels: { app: "mine" } },
  });
  const kept = hierarchies.adopt(existing(), OWNER);
  deepEqual(kept.metadata, {
    name: "mine",
    namespace: "other",
    labels: { app: "mine", tier: "back" },
    ownerReferences: [REFERENCE],
  });
  const forced = hierarchies.adopt(existing(), OWNER, { forced: true });
  deepEqual(forced.metadata, {
    generateName: "kopf-example-1-",
    namespace: "ns1",
    labels: { app: "example", tier: "back" },
    ownerReferences: [REFERENCE],
  });
});

Deno.test("adopt() labels the nested templates it is told about", () => {
  const deployment = { kind: "Deployment", spec: { template: { spec: {} } } };
  hierarchies.adopt(deployment, OWNER, { nested: "spec.template" });
  deepEqual(deployment.spec.template, {
    spec: {},
    metadata: { labels: { app: "example", tier: "back" } },
  });
});

Deno.test("adopt() adopts each object of a list, and twice is the same as once", () => {
  const children: Child[] = [{}, {}];
  hierarchies.adopt(children, OWNER);
  hierarchies.adopt(children, OWNER);
  for (const child of children) {
    deepEqual(child.metadata?.ownerReferences, [REFERENCE]);
    equal(child.metadata?.generateName, "kopf-example-1-");
  }
});

Deno.test("adopt() by a cluster-scoped owner leaves namespaces alone, or removes them if forced", () => {
  const children: Child[] = [{}, { metadata: { namespace: "ns1" } }];
  hierarchies.adopt(children, CLUSTER_OWNER);
  deepEqual(children.map((child) => child.metadata?.namespace), [undefined, "ns1"]);
  hierarchies.adopt(children, CLUSTER_OWNER, { forced: true });
  deepEqual(children.map((child) => Object.hasOwn(child.metadata ?? {}, "namespace")), [
    false,
    false,
  ]);
});

Deno.test("adopt() changes nothing when the owner cannot be referenced", () => {
  const child = { kind: "Pod" };
  throws(
    () => hierarchies.adopt(child, { kind: "Thing", metadata: { name: "t", namespace: "n" } }),
    /Cannot build an owner reference to "Thing\/t": it has no apiVersion, metadata.uid/,
  );
  deepEqual(child, { kind: "Pod" });
});

Deno.test("adopt() changes nothing when a nested field is not an object", () => {
  const children = [{ kind: "Pod" }, { kind: "Deployment", spec: { template: 42 } }];
  throws(
    () => hierarchies.adopt(children, OWNER, { nested: "spec.template" }),
    { message: `Cannot change "Deployment/?": its spec.template is a number (42)` },
  );
  deepEqual(children, [{ kind: "Pod" }, { kind: "Deployment", spec: { template: 42 } }]);
});

Deno.test("adopt() keeps the child's own type and adds the metadata it sets", () => {
  interface Deployment {
    apiVersion: "apps/v1";
    kind: "Deployment";
    metadata?: { name?: string; labels?: Record<string, string> };
    spec: { replicas: number };
  }
  const deployment: Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    spec: { replicas: 2 },
  };
  const adopted = hierarchies.adopt(deployment, OWNER);
  const same: Deployment = adopted;
  const replicas: number = adopted.spec.replicas;
  const namespace: string | undefined = adopted.metadata?.namespace;
  deepEqual([replicas, namespace, same.metadata?.name], [2, "ns1", undefined]);
  const [first] = hierarchies.adopt([{ kind: "Pod" }], OWNER);
  equal(first?.metadata?.generateName, "kopf-example-1-");
});
