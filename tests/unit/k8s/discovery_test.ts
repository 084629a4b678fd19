import { deepEqual, throws } from "node:assert/strict";
import * as discovery from "../../../lib/k8s/discovery.ts";

Deno.test("parseResourceSpec() reads plural, plural.group, plural.version.group and plural.version", () => {
  deepEqual(discovery.parseResourceSpec("kopfexamples"), { name: "kopfexamples" });
  deepEqual(discovery.parseResourceSpec("deployments.apps"), {
    name: "deployments",
    group: "apps",
  });
  deepEqual(discovery.parseResourceSpec("kopfexamples.kopf.dev"), {
    name: "kopfexamples",
    group: "kopf.dev",
  });
  deepEqual(discovery.parseResourceSpec("kopfexamples.v1.kopf.dev"), {
    name: "kopfexamples",
    version: "v1",
    group: "kopf.dev",
  });
  deepEqual(discovery.parseResourceSpec("leases.v1beta1.coordination.k8s.io"), {
    name: "leases",
    version: "v1beta1",
    group: "coordination.k8s.io",
  });
  deepEqual(discovery.parseResourceSpec("configmaps.v1"), {
    name: "configmaps",
    version: "v1",
    group: "",
  });
});

Deno.test("parseResourceSpec() rejects empty segments with a message that shows the accepted forms", () => {
  throws(
    () => discovery.parseResourceSpec("kopfexamples..dev"),
    /Cannot parse the resource "kopfexamples\.\.dev": use plural, plural\.group or plural\.version\.group/,
  );
});
