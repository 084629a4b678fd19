// `kopf rbac` on the real control plane: examples/deploy.yaml holds exactly what it generates for
// the deployed example, and an operator serving namespaces by name with exactly the generated
// Roles and ClusterRole (bound to a user of its own) handles, posts and peers with no 403.

import { deepEqual, equal } from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import * as cli from "../../cli.ts";
import * as posting from "../../lib/engines/posting.ts";
import * as api from "../../lib/k8s/api.ts";
import * as registering from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import type * as references from "../../lib/structs/references.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as operators from "../_fixtures/operators.ts";
import * as peers from "../_fixtures/peers.ts";
import * as users from "../_fixtures/users.ts";

const RBAC_KINDS = ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"];
const rbacResource = (plural: string, kind: string, namespaced: boolean): references.Resource => ({
  group: "rbac.authorization.k8s.io",
  version: "v1",
  plural,
  kind,
  namespaced,
});
const RESOURCES: Record<string, references.Resource> = {
  ClusterRole: rbacResource("clusterroles", "ClusterRole", false),
  ClusterRoleBinding: rbacResource("clusterrolebindings", "ClusterRoleBinding", false),
  Role: rbacResource("roles", "Role", true),
  RoleBinding: rbacResource("rolebindings", "RoleBinding", true),
};
const configmaps: references.Resource = {
  group: "",
  version: "v1",
  plural: "configmaps",
  kind: "ConfigMap",
  namespaced: true,
};

function documents(text: string): api.KubernetesObject[] {
  return parseAllDocuments(text).map((d) => d.toJS() as api.KubernetesObject).filter(Boolean);
}

async function kopfRbac(
  kubeconfigPath: string,
  argv: string[],
  registry = new registries.OperatorRegistry(),
): Promise<api.KubernetesObject[]> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cli.main(["rbac", ...argv], {
    kubeconfig: kubeconfigPath,
    registry,
    freshImports: true,
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
  });
  equal(code, 0, err.join("\n"));
  return documents(out.join("\n"));
}

Deno.test({
  name: "kopf rbac: examples/deploy.yaml holds exactly the RBAC it generates for the example",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("rbac-cmd");
    const generated = await kopfRbac(w.kubeconfigPath, [
      "examples/01-minimal/handlers.ts",
      "-A",
      "--peering",
      "lease",
      "--service-account",
      "kopf-example",
      "--service-account-namespace",
      "kopf-example",
      "--name",
      "kopf-example",
    ]);
    const deployed = documents(
      await Deno.readTextFile(new URL("../../examples/deploy.yaml", import.meta.url)),
    ).filter((d) => RBAC_KINDS.includes(d.kind ?? ""));
    deepEqual(deployed, generated);
  },
});

Deno.test({
  name: "kopf rbac -n: an operator with exactly the generated RBAC handles, peers, posts: no 403",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("rbac-gen");
    await peers.installPeeringCrds(w.transport);
    await peers.createPeering(w.transport, w.namespace);
    const registry = new registries.OperatorRegistry();
    const seen: string[] = [];
    registering.create("kopfexamples.v1.kopf.dev", { registry }, function provision({ body }) {
      posting.info(body, { reason: "Provisioned", message: "under the generated RBAC" });
      return { provisioned: body.metadata.name };
    });
    registering.event("configmaps.v1", { registry }, function watched({ name }) {
      seen.push(name);
    });
    const id = crypto.randomUUID().slice(0, 8);
    const user = `rbac-gen-${id}`;
    const manifests = await kopfRbac(w.kubeconfigPath, [
      "-n",
      w.namespace,
      "--service-account",
      user,
      "--service-account-namespace",
      w.namespace,
    ], registry);
    deepEqual(manifests.map((m) => `${m.kind} ${m.metadata?.namespace ?? ""}`), [
      `ServiceAccount ${w.namespace}`,
      "ClusterRole ",
      "ClusterRoleBinding ",
      `Role ${w.namespace}`,
      `RoleBinding ${w.namespace}`,
    ]);
    // The rules as generated; the subject is a user with a client certificate instead of the
    // service account (the control plane issues no service account tokens to tests).
    const created: [references.Resource, string | undefined][] = [];
    const dir = await Deno.makeTempDir({ prefix: "kopf-rbac-gen-" });
    let op: operators.RunningOperator | undefined;
    try {
      for (const manifest of manifests) {
        const resource = RESOURCES[manifest.kind ?? ""];
        if (!resource) continue;
        const body = manifest.kind?.endsWith("Binding")
          ? {
            ...manifest,
            subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: user }],
          }
          : manifest;
        await api.createObject(w.transport, resource, body, {
          namespace: manifest.metadata?.namespace,
        });
        created.push([resource, manifest.metadata?.namespace]);
      }
      await crdFixtures.eventually(async () => {
        const review = await api.createObject<{ status?: { allowed?: boolean } }>(w.transport, {
          group: "authorization.k8s.io",
          version: "v1",
          plural: "subjectaccessreviews",
          kind: "SubjectAccessReview",
          namespaced: false,
        }, {
          spec: {
            user,
            resourceAttributes: {
              verb: "watch",
              group: "kopf.dev",
              resource: "kopfexamples",
              namespace: w.namespace,
            },
          },
        } as api.KubernetesObject);
        return review.status?.allowed === true;
      }, "the generated bindings to be in force");
      op = await operators.startOperator({
        kubeconfigPath: await users.userKubeconfig(w.kubeconfigPath, user, dir, {
          namespace: w.namespace,
        }),
        registry,
        namespace: w.namespace,
      });
      await api.createObject(w.transport, w.resource, { metadata: { name: "x" }, spec: {} }, {
        namespace: w.namespace,
      });
      await api.createObject(w.transport, configmaps, { metadata: { name: "cm" } }, {
        namespace: w.namespace,
      });
      await crdFixtures.eventually(
        async () => {
          const x = await api.getObject(w.transport, w.resource, "x", { namespace: w.namespace });
          return (x.status as Record<string, unknown> | undefined)?.provision !== undefined &&
            seen.includes("cm");
        },
        "the object to be handled and the ConfigMap seen",
        30_000,
      );
      const status = await peers.peeringStatus(w.transport, w.namespace);
      equal(Object.keys(status).length, 1, "the operator keeps its peering entry");
      await crdFixtures.eventually(
        () => op!.requests.some((r) => r.verb.startsWith("create") && r.path.endsWith("/events")),
        "the Event to be posted",
      );
      deepEqual(op.requests.filter((r) => r.status === 403), [], "nothing was refused");
    } finally {
      await op?.stop();
      for (const [resource, namespace] of created.reverse()) {
        const name = manifests.find((m) => RESOURCES[m.kind ?? ""] === resource)?.metadata?.name;
        if (name) {
          await api.deleteObject(w.transport, resource, name, { namespace }).catch(() => {});
        }
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
