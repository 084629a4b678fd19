// The RBAC of examples/deploy.yaml is enough for the operator as deployed there: run as a user
// bound to the manifest's ClusterRole and Role (their rules read from the file, so the file is
// what is tested), cluster-wide with the peering CRDs installed, it leads through its Lease (or
// keeps its ClusterKopfPeering entry in Kopf's mode), handles a KopfExample, posts an Event, and
// not one of its requests is refused with 403.

import { deepEqual, equal, ok } from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import * as leases from "../../lib/engines/leases.ts";
import * as posting from "../../lib/engines/posting.ts";
import * as api from "../../lib/k8s/api.ts";
import * as errors from "../../lib/k8s/errors.ts";
import * as registering from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import * as operatorSettings from "../../lib/settings/operator.ts";
import type * as references from "../../lib/structs/references.ts";
import * as controlPlanes from "../_fixtures/control_plane.ts";
import * as crdFixtures from "../_fixtures/crds.ts";
import * as e2e from "../_fixtures/e2e.ts";
import * as operators from "../_fixtures/operators.ts";
import * as peers from "../_fixtures/peers.ts";
import * as users from "../_fixtures/users.ts";

const DEPLOY_YAML = new URL("../../examples/deploy.yaml", import.meta.url).pathname;
const R = "kopfexamples.v1.kopf.dev";
/** The handlers select only this test's objects: the operator serves the whole cluster. */
const LABEL = "deploy-rbac";

const rbac = (plural: string, kind: string, namespaced: boolean): references.Resource => ({
  group: "rbac.authorization.k8s.io",
  version: "v1",
  plural,
  kind,
  namespaced,
});
const clusterRoles = rbac("clusterroles", "ClusterRole", false);
const clusterRoleBindings = rbac("clusterrolebindings", "ClusterRoleBinding", false);
const roles = rbac("roles", "Role", true);
const roleBindings = rbac("rolebindings", "RoleBinding", true);
const accessReviews: references.Resource = {
  group: "authorization.k8s.io",
  version: "v1",
  plural: "subjectaccessreviews",
  kind: "SubjectAccessReview",
  namespaced: false,
};
const events: references.Resource = {
  group: "",
  version: "v1",
  plural: "events",
  kind: "Event",
  namespaced: true,
};
const clusterPeerings: references.Resource = {
  group: "kopf.dev",
  version: "v1",
  plural: "clusterkopfpeerings",
  kind: "ClusterKopfPeering",
  namespaced: false,
};

type Rules = Record<string, unknown>[];

/** The rules of the ClusterRole and of the leader-election Role in examples/deploy.yaml. */
async function deployRules(): Promise<{ cluster: Rules; lease: Rules }> {
  const documents = parseAllDocuments(await Deno.readTextFile(DEPLOY_YAML)).map((d) =>
    d.toJS() as api.KubernetesObject & { rules?: Rules }
  );
  const rulesOf = (kind: string): Rules => {
    const found = documents.filter((d) => d.kind === kind);
    equal(found.length, 1, `examples/deploy.yaml has one ${kind}`);
    ok(found[0]!.rules?.length, `the ${kind} of examples/deploy.yaml has rules`);
    return found[0]!.rules!;
  };
  return { cluster: rulesOf("ClusterRole"), lease: rulesOf("Role") };
}

/** A user with exactly the RBAC of examples/deploy.yaml; disposal deletes the RBAC objects. */
interface DeployedUser extends AsyncDisposable {
  /** Its kubeconfig, with the world's namespace as the context's: the operator's namespace. */
  readonly kubeconfigPath: string;
}

/**
 * Binds a fresh user to the manifest's ClusterRole rules cluster-wide and to its Role rules in
 * the world's namespace. That namespace is the user's kubeconfig context namespace, which is
 * where the operator puts its Lease (as in the cluster, where the connection's namespace is the
 * service account's, the one the manifest's Role is in): `settings.peering.lease.namespace` is
 * left unset, so the default is what is tested.
 */
async function deployedUser(w: e2e.World, id: string): Promise<DeployedUser> {
  const rules = await deployRules();
  const name = `deploy-rbac-${id}`;
  const namespace = w.namespace;
  const roleRef = (kind: string) => ({ apiGroup: "rbac.authorization.k8s.io", kind, name });
  const subjects = [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name }];
  const cleanup = new AsyncDisposableStack();
  try {
    const dir = await Deno.makeTempDir({ prefix: "kopf-deploy-rbac-" });
    cleanup.defer(() => Deno.remove(dir, { recursive: true }));
    const created = async (resource: references.Resource, body: api.KubernetesObject) => {
      await api.createObject(w.transport, resource, body, { namespace });
      cleanup.defer(() =>
        api.deleteObject(w.transport, resource, name, { namespace }).then(() => {}, () => {})
      );
    };
    await created(clusterRoles, { metadata: { name }, rules: rules.cluster });
    await created(clusterRoleBindings, {
      metadata: { name },
      roleRef: roleRef("ClusterRole"),
      subjects,
    });
    await created(roles, { metadata: { name, namespace }, rules: rules.lease });
    await created(roleBindings, {
      metadata: { name, namespace },
      roleRef: roleRef("Role"),
      subjects,
    });
    // The authorizer learns of bindings from its informers: start only once both are in force,
    // lest a 403 of the first requests be the cache's, not the manifest's.
    await crdFixtures.eventually(
      async () =>
        await allowed(w, name, { verb: "watch", group: "kopf.dev", resource: "kopfexamples" }) &&
        await allowed(w, name, {
          verb: "create",
          group: "coordination.k8s.io",
          resource: "leases",
          namespace,
        }),
      `the bindings of ${name} to be in force`,
    );
    const kubeconfigPath = await users.userKubeconfig(w.kubeconfigPath, name, dir, { namespace });
    const stack = cleanup.move();
    return { kubeconfigPath, [Symbol.asyncDispose]: () => stack.disposeAsync() };
  } catch (error) {
    await cleanup.disposeAsync();
    throw error;
  }
}

/** Whether the API server's authorizer allows `user` this access now (SubjectAccessReview). */
async function allowed(
  w: e2e.World,
  user: string,
  resourceAttributes: { verb: string; group: string; resource: string; namespace?: string },
): Promise<boolean> {
  const review = await api.createObject<{ status?: { allowed?: boolean } }>(
    w.transport,
    accessReviews,
    { spec: { user, resourceAttributes } } as api.KubernetesObject,
  );
  return review.status?.allowed === true;
}

/** A create handler for this test's KopfExamples: posts an Event, returns a result to status. */
function deployedRegistry(id: string): registries.OperatorRegistry {
  const registry = new registries.OperatorRegistry();
  registering.create(R, { registry, labels: { [LABEL]: id } }, function provision({ body }) {
    posting.info(body, { reason: "Provisioned", message: "Provisioned under deploy.yaml's RBAC" });
    return { provisioned: true };
  });
  return registry;
}

/** The settings of the deployed operator, and a finalizer of this test's own. */
function deployedSettings(id: string): operatorSettings.OperatorSettings {
  const settings = operatorSettings.defaultSettings();
  // Serving the whole cluster, the operator removes its finalizer from every object that none
  // of its handlers needs it on: with the default one, other tests' objects would lose theirs.
  settings.persistence.finalizer = `kopf.dev/deploy-rbac-${id}`;
  return settings;
}

/** Creates a KopfExample; waits for the handler's result in its status and for its Event. */
async function handledWithEvent(w: e2e.World, id: string, name: string): Promise<void> {
  await api.createObject(w.transport, w.resource, {
    metadata: { name, labels: { [LABEL]: id } },
    spec: {},
  }, { namespace: w.namespace });
  await crdFixtures.eventually(async () => {
    const object = await api.getObject<{ status?: { provision?: unknown } }>(
      w.transport,
      w.resource,
      name,
      { namespace: w.namespace },
    );
    return JSON.stringify(object.status?.provision) === JSON.stringify({ provisioned: true });
  }, `the result of ${name}'s handler in its status`);
  await crdFixtures.eventually(async () => {
    const { items } = await api.listObjects(w.transport, events, {
      namespace: w.namespace,
      fieldSelector: `involvedObject.name=${name},reason=Provisioned`,
    });
    return items.length === 1;
  }, `the Event about ${name}`);
}

/** Every refused request, as `<verb> <path>`. */
function forbidden(op: operators.RunningOperator): string[] {
  return op.requests.filter((r) => r.status === 403).map((r) => `${r.verb} ${r.path}`);
}

/** Whether the operator sent `verb` to a path ending with `/<tail>`, answered with `status`. */
function sent(op: operators.RunningOperator, verb: string, tail: string, status: number): boolean {
  return op.requests.some((r) =>
    r.verb === verb && r.status === status && r.path.endsWith(`/${tail}`)
  );
}

Deno.test({
  name:
    "deploy.yaml's RBAC suffices for -A --peering=lease: the leader handles, posts an Event, is never refused",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("deploy-rbac");
    await peers.installPeeringCrds(w.transport);
    const id = crypto.randomUUID().slice(0, 8);
    await using user = await deployedUser(w, id);
    const settings = deployedSettings(id);
    settings.peering.mode = "lease";
    const leaseName = `deploy-rbac-${id}`;
    settings.peering.lease.name = leaseName;
    const op = await operators.startOperator({
      kubeconfigPath: user.kubeconfigPath,
      registry: deployedRegistry(id),
      clusterwide: true,
      settings,
    });
    try {
      const holder = await crdFixtures.eventually(async () => {
        const lease = await api.getObject<leases.Lease>(w.transport, leases.LEASES, leaseName, {
          namespace: w.namespace,
        });
        return lease.spec?.holderIdentity || undefined;
      }, "the operator to hold its Lease in its namespace");
      await handledWithEvent(w, id, "led");
      const lease = await api.getObject<leases.Lease>(w.transport, leases.LEASES, leaseName, {
        namespace: w.namespace,
      });
      equal(lease.spec?.holderIdentity, holder, "the operator still leads");
    } finally {
      await op.stop();
    }
    // A graceful stop releases the Lease: an update that the Role must allow too.
    const released = await api.getObject<leases.Lease>(w.transport, leases.LEASES, leaseName, {
      namespace: w.namespace,
    });
    equal(released.spec?.holderIdentity, "", "the Lease is released on stop");
    deepEqual(forbidden(op), [], "no request of the operator is forbidden");
    ok(sent(op, "create", "leases", 201), "the Lease was created");
    ok(sent(op, "create", "events", 201), "the Event was posted");
    ok(sent(op, "watch", "clusterkopfpeerings", 200), "ClusterKopfPeering is watched");
  },
});

Deno.test({
  name:
    "deploy.yaml's RBAC suffices for -A in Kopf's peering mode: it keeps its entry, handles, is never refused",
  ignore: !controlPlanes.e2eEnabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using w = await e2e.world("deploy-rbac");
    await peers.installPeeringCrds(w.transport);
    const id = crypto.randomUUID().slice(0, 8);
    await using user = await deployedUser(w, id);
    // Other cluster-wide tests peer through this object too: it lives only as long as this test.
    let owned = true;
    await api.createObject(w.transport, clusterPeerings, { metadata: { name: "default" } })
      .catch((error) => {
        if (!(error instanceof errors.ApiConflictError)) throw error;
        owned = false;
      });
    try {
      const entries = async () =>
        Object.keys(
          (await api.getObject<{ status?: Record<string, unknown> }>(
            w.transport,
            clusterPeerings,
            "default",
          )).status ?? {},
        );
      const before = new Set(await entries());
      const op = await operators.startOperator({
        kubeconfigPath: user.kubeconfigPath,
        registry: deployedRegistry(id),
        clusterwide: true,
        settings: deployedSettings(id),
      });
      let identity: string;
      try {
        identity = await crdFixtures.eventually(
          async () => (await entries()).find((key) => !before.has(key)),
          "the operator's entry in the ClusterKopfPeering default",
        );
        await handledWithEvent(w, id, "peered");
        ok((await entries()).includes(identity), "the operator keeps its peering entry");
      } finally {
        await op.stop();
      }
      // A graceful stop leaves the peering: a patch that the ClusterRole must allow too.
      ok(!(await entries()).includes(identity), "the entry is removed on stop");
      deepEqual(forbidden(op), [], "no request of the operator is forbidden");
      ok(
        sent(op, "patch merge", "clusterkopfpeerings/default", 200),
        "the peering entry was patched",
      );
    } finally {
      if (owned) await api.deleteObject(w.transport, clusterPeerings, "default").catch(() => {});
    }
  },
});
