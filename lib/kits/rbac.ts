// `kopf rbac`: the least RBAC an operator needs, derived from what it registered and the features
// it uses (handlers that write or only read, Events, CRD and namespace observation, peering or a
// Lease), as Kubernetes manifests. Used by the CLI only; it reads the registry, never serves.

import { Document, isScalar, visit } from "yaml";
import type * as api from "../k8s/api.ts";
import type * as registries from "../registry/registries.ts";
import * as selectors from "../registry/selectors.ts";
import type * as operatorSettings from "../settings/operator.ts";
import * as namespaces from "../structs/namespaces.ts";
import * as peers from "../structs/peers.ts";
import * as references from "../structs/references.ts";

/** One RBAC rule. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** What the RBAC is for. */
export interface RbacOptions {
  readonly registry: registries.OperatorRegistry;
  readonly settings: operatorSettings.OperatorSettings;
  /** The served resources as discovery describes them (for subresources and scopes). */
  readonly served: readonly references.Resource[];
  /** `-A`: all namespaces. */
  readonly clusterwide: boolean;
  /** `-n` patterns; only exact names can have Roles of their own. */
  readonly namespaces: readonly string[];
  /** The service account the operator runs as. */
  readonly serviceAccount: { readonly name: string; readonly namespace: string };
  /** The name of the roles and bindings. @default {the service account's name} */
  readonly name?: string;
}

/**
 * The manifests: a ServiceAccount; a ClusterRole and its binding for what is cluster-wide (all
 * rules when serving all namespaces or namespace globs); a Role and RoleBinding per namespace
 * served by exact name; and a Role for the Lease in the Lease mode.
 *
 * @example The RBAC of one create handler, cluster-wide
 * ```ts
 * import { OperatorRegistry } from "../registry/registries.ts";
 * import * as on from "../registry/registering.ts";
 * import { defaultSettings } from "../settings/operator.ts";
 * import { rbacManifests } from "./rbac.ts";
 * const registry = new OperatorRegistry();
 * on.create("kopfexamples.v1.kopf.dev", { registry }, function created() {});
 * const manifests = rbacManifests({
 *   registry, settings: defaultSettings(), clusterwide: true, namespaces: [],
 *   served: [{ group: "kopf.dev", version: "v1", plural: "kopfexamples", namespaced: true, subresources: ["status"] }],
 *   serviceAccount: { name: "my-operator", namespace: "operators" },
 * });
 * manifests.map((m) => m.kind); // ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"]
 * ```
 */
export function rbacManifests(options: RbacOptions): api.KubernetesObject[] {
  const { settings, serviceAccount } = options;
  const name = options.name ?? serviceAccount.name;
  const exact = !options.clusterwide && options.namespaces.length > 0 &&
    namespaces.parsePatterns(options.namespaces).every((p) =>
      p.globs.length === 1 && !p.globs[0]!.negated && !/[*?[\]]/.test(p.globs[0]!.text)
    );
  const clusterRules: PolicyRule[] = [];
  const namespacedRules: PolicyRule[] = [];
  // Namespaced rules go to Roles where the namespaces are known by name, else cluster-wide.
  const local = exact ? namespacedRules : clusterRules;

  for (const { resource, writes } of handledResources(options)) {
    const target = resource.namespaced ? local : clusterRules;
    const group = [resource.group];
    target.push({ apiGroups: group, resources: [resource.plural], verbs: verbsOf(writes) });
    if (writes && resource.subresources?.includes("status")) {
      target.push({ apiGroups: group, resources: [`${resource.plural}/status`], verbs: ["patch"] });
    }
  }
  // Served resources follow their CRDs; namespaces by name or pattern follow the namespaces.
  clusterRules.push({
    apiGroups: ["apiextensions.k8s.io"],
    resources: ["customresourcedefinitions"],
    verbs: ["list", "watch"],
  });
  if (!options.clusterwide) {
    clusterRules.push({ apiGroups: [""], resources: ["namespaces"], verbs: ["list", "watch"] });
  }
  if (settings.posting.enabled) {
    local.push({ apiGroups: [""], resources: ["events"], verbs: ["create"] });
  }
  const peering = settings.peering;
  if (!peering.standalone) {
    // Kopf's peering objects (also in the Lease mode: a developer's --dev pauses the leader).
    const clusterPeering = peering.clusterwide ?? options.clusterwide;
    const resource = peers.PEERING_RESOURCES.find((r) => r.namespaced === !clusterPeering)!;
    (clusterPeering ? clusterRules : local).push({
      apiGroups: [resource.group],
      resources: [resource.plural],
      verbs: ["list", "watch", "patch"],
    });
  }

  // Webhooks: the managed configurations, and the CRDs whose conversion points at the operator.
  const admission = options.registry.admission;
  if (settings.admission.managed !== undefined) {
    for (const kind of ["validating", "mutating"] as const) {
      if (admission.webhooks(kind).length === 0) continue;
      clusterRules.push({
        apiGroups: ["admissionregistration.k8s.io"],
        resources: [`${kind}webhookconfigurations`],
        verbs: ["create", "patch", "delete"],
      });
    }
  }
  if (settings.admission.manageConversion && admission.conversions().length > 0) {
    clusterRules.push({
      apiGroups: ["apiextensions.k8s.io"],
      resources: ["customresourcedefinitions"],
      verbs: ["patch"],
    });
  }

  const subject = {
    kind: "ServiceAccount",
    name: serviceAccount.name,
    namespace: serviceAccount.namespace,
  };
  const manifests: api.KubernetesObject[] = [{
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: serviceAccount.name, namespace: serviceAccount.namespace },
  }];
  manifests.push(...roleAndBinding("Cluster", name, undefined, merged(clusterRules), subject));
  if (exact && namespacedRules.length > 0) {
    for (const namespace of options.namespaces) {
      manifests.push(...roleAndBinding("", name, namespace, merged(namespacedRules), subject));
    }
  }
  if (!peering.standalone && peering.mode === "lease") {
    const namespace = peering.lease.namespace ?? serviceAccount.namespace;
    manifests.push(...roleAndBinding("", `${name}-leader-election`, namespace, [{
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      verbs: ["get", "create", "update"],
    }], subject));
  }
  return manifests;
}

/** The manifests as one YAML stream (`---` between documents), lists of names inline. */
export function toYaml(manifests: readonly api.KubernetesObject[]): string {
  return manifests.map((manifest) => {
    const document = new Document(manifest, { aliasDuplicateObjects: false });
    visit(document, {
      Seq(_, node) {
        if (node.items.every((item) => isScalar(item))) node.flow = true;
      },
    });
    return document.toString({ lineWidth: 0, flowCollectionPadding: false }).trimEnd();
  }).join("\n---\n") + "\n";
}

/** Every served resource some handler selects, and whether any of them writes to its objects. */
function handledResources(
  options: RbacOptions,
): { resource: references.Resource; writes: boolean }[] {
  const { registry, served } = options;
  // Handlers that write (state, results, finalizers): changing ones, daemons and timers. On-event
  // handlers and index functions only read.
  const writers = [...registry.allChangingHandlers(), ...registry.allSpawningHandlers()];
  const readers = [...registry.allWatchingHandlers(), ...registry.allIndexingHandlers()];
  const byName = new Map<string, { resource: references.Resource; writes: boolean }>();
  const add = (selector: Parameters<typeof selectors.parse>[0], writes: boolean) => {
    for (const resource of selectors.select(selectors.parse(selector), served)) {
      const key = references.fullName(resource);
      const known = byName.get(key);
      byName.set(key, { resource, writes: writes || (known?.writes ?? false) });
    }
  };
  for (const handler of writers) if (handler.selector !== undefined) add(handler.selector, true);
  for (const handler of readers) if (handler.selector !== undefined) add(handler.selector, false);
  return [...byName.values()].sort((a, b) =>
    references.fullName(a.resource).localeCompare(references.fullName(b.resource))
  );
}

function verbsOf(writes: boolean): string[] {
  return writes ? ["list", "watch", "patch"] : ["list", "watch"];
}

/** Rules of one API group and verbs folded into one rule, in a stable order. */
function merged(rules: readonly PolicyRule[]): PolicyRule[] {
  const byKey = new Map<string, PolicyRule>();
  for (const rule of rules) {
    const key = `${rule.apiGroups.join(",")} ${rule.verbs.join(",")}`;
    const known = byKey.get(key);
    if (known) {
      for (const r of rule.resources) if (!known.resources.includes(r)) known.resources.push(r);
    } else {
      byKey.set(key, { ...rule, resources: [...rule.resources] });
    }
  }
  return [...byKey.values()];
}

function roleAndBinding(
  scope: "Cluster" | "",
  name: string,
  namespace: string | undefined,
  rules: PolicyRule[],
  subject: Record<string, string>,
): api.KubernetesObject[] {
  const metadata = namespace ? { name, namespace } : { name };
  return [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: `${scope}Role`, metadata, rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: `${scope}RoleBinding`,
      metadata,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: `${scope}Role`, name },
      subjects: [subject],
    },
  ] as api.KubernetesObject[];
}
