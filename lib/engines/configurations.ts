// The cluster side of webhooks: the managed Validating/MutatingWebhookConfiguration objects (one
// webhook per handler, Kopf's conventions: `<id>.<name>`, rules per served resource, the labels
// filter as `objectSelector`) and the CRDs' `spec.conversion` for `on.convert`. Called by the
// webhook runner (reactor/webhooks.ts) at start, on changes and at exit. Never serves requests.

import { getLogger } from "@logtape/logtape";
import * as api from "../k8s/api.ts";
import * as k8sErrors from "../k8s/errors.ts";
import type * as transports from "../k8s/transport.ts";
import type * as admission from "../registry/admission.ts";
import * as handlers from "../registry/handlers.ts";
import * as selectors from "../registry/selectors.ts";
import type * as references from "../structs/references.ts";

const log = getLogger(["kopf", "admission"]);

/** How the API server reaches the webhook server: a URL or a Service, and the CA to trust. */
export interface ClientConfig {
  url?: string;
  service?: { namespace: string; name: string; port?: number; path?: string };
  /** Base64 of the PEM CA bundle; absent: the API server's own trust roots. */
  caBundle?: string;
}

/** The configuration objects' resources (cluster-scoped). */
export const CONFIGURATION_RESOURCES: Readonly<Record<admission.WebhookKind, references.Resource>> =
  {
    validating: {
      group: "admissionregistration.k8s.io",
      version: "v1",
      plural: "validatingwebhookconfigurations",
      kind: "ValidatingWebhookConfiguration",
      namespaced: false,
    },
    mutating: {
      group: "admissionregistration.k8s.io",
      version: "v1",
      plural: "mutatingwebhookconfigurations",
      kind: "MutatingWebhookConfiguration",
      namespaced: false,
    },
  };

/** The CRD resource, for `spec.conversion`. */
export const CRD_RESOURCE: references.Resource = {
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
};

/** How the webhooks of one configuration are built. */
export interface BuildOptions {
  /** The served resources the handlers' selectors are resolved against. */
  readonly resources: readonly references.Resource[];
  /** The configuration's name (`settings.admission.managed`): the suffix of webhook names. */
  readonly name: string;
  readonly clientConfig: ClientConfig;
  /** The API server's wait for an answer, 1–30 s. */
  readonly timeoutSeconds: number;
  /** Only the handlers with `persistent` (what stays after exit). @default {false} */
  readonly persistentOnly?: boolean;
}

/**
 * The `webhooks` of a configuration: one per handler, named `<id>.<name>` (lower case, `/` as
 * `.` and `_` as `-`), with rules for every resource its selector serves, its operations (all
 * by default) and subresource, `failurePolicy` from `ignoreFailures`, `sideEffects` from
 * `sideEffects`, the labels filter as `objectSelector` (predicates cannot be), and the client
 * config with the handler id appended to the URL or the Service path.
 *
 * @example
 * ```ts
 * import { OperatorRegistry } from "../registry/registries.ts";
 * import * as on from "../registry/admission.ts";
 * import { buildWebhooks } from "./configurations.ts";
 *
 * const registry = new OperatorRegistry();
 * on.validate("kopfexamples", { registry, labels: { app: "web" } }, function check() {});
 * const [webhook] = buildWebhooks(registry.admission.webhooks("validating"), {
 *   resources: [{ group: "kopf.dev", version: "v1", plural: "kopfexamples", namespaced: true }],
 *   name: "kopfexamples.kopf.dev",
 *   clientConfig: { url: "https://127.0.0.1:9443" },
 *   timeoutSeconds: 30,
 * });
 * webhook?.name; // "check.kopfexamples.kopf.dev"
 * webhook?.clientConfig; // { url: "https://127.0.0.1:9443/check" }
 * ```
 */
export function buildWebhooks(
  list: readonly admission.WebhookHandler[],
  options: BuildOptions,
): Record<string, unknown>[] {
  return list.filter((handler) => !options.persistentOnly || handler.persistent).map((handler) => {
    const served = handler.selector === undefined
      ? []
      : selectors.select(selectors.parse(handler.selector), options.resources);
    const selector = labelSelector(handler.labels);
    return {
      name: webhookName(handler.id, options.name),
      sideEffects: handler.sideEffects ? "NoneOnDryRun" : "None",
      failurePolicy: handler.ignoreFailures ? "Ignore" : "Fail",
      matchPolicy: "Equivalent",
      rules: served.map((resource) => ({
        apiGroups: [resource.group],
        apiVersions: [resource.version],
        resources: [
          handler.subresource === undefined
            ? resource.plural
            : `${resource.plural}/${handler.subresource}`,
        ],
        operations: [...handler.operations ?? ["*"]],
        scope: "*",
      })),
      ...(selector === undefined ? {} : { objectSelector: selector }),
      clientConfig: withHandlerId(options.clientConfig, handler.id),
      timeoutSeconds: options.timeoutSeconds,
      admissionReviewVersions: ["v1"],
    };
  });
}

/**
 * The `objectSelector` of a labels filter: exact values, `PRESENT` and `ABSENT` become match
 * expressions; predicates are left to the handler's own filtering. Undefined when nothing is left.
 *
 * @example
 * ```ts
 * import { PRESENT } from "../registry/handlers.ts";
 * import { labelSelector } from "./configurations.ts";
 * labelSelector({ app: "web", tier: PRESENT });
 * // { matchExpressions: [{ key: "app", operator: "In", values: ["web"] }, { key: "tier", operator: "Exists" }] }
 * ```
 */
export function labelSelector(
  labels: handlers.MetaFilter | undefined,
): { matchExpressions: Record<string, unknown>[] } | undefined {
  const expressions: Record<string, unknown>[] = [];
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (value === handlers.PRESENT) expressions.push({ key, operator: "Exists" });
    else if (value === handlers.ABSENT) expressions.push({ key, operator: "DoesNotExist" });
    else if (typeof value === "string") expressions.push({ key, operator: "In", values: [value] });
  }
  return expressions.length > 0 ? { matchExpressions: expressions } : undefined;
}

/**
 * A webhook's name from a handler id, as Kubernetes accepts it (a lower-case DNS subdomain):
 * `/` becomes `.`, `_` becomes `-`, other characters their hex code.
 *
 * @example
 * ```ts
 * import { webhookName } from "./configurations.ts";
 * webhookName("checkSize/spec.size", "kopfexamples.kopf.dev"); // "checksize.spec.size.kopfexamples.kopf.dev"
 * ```
 */
export function webhookName(id: string, suffix: string): string {
  const name = id.toLowerCase().replaceAll("/", ".").replaceAll("_", "-")
    .replace(/[^a-z0-9.-]/g, (c) => [...new TextEncoder().encode(c)].map(hex).join(""))
    .replace(/^[.-]+|[.-]+$/g, "") || "webhook";
  return suffix ? `${name}.${suffix}` : name;
}

/**
 * Creates the configuration with these webhooks, or replaces the webhooks of the existing one
 * (they are all ours: Kopf's rule).
 *
 * @example
 * ```ts ignore
 * await applyConfiguration(transport, "validating", "kopfexamples.kopf.dev", webhooks);
 * ```
 */
export async function applyConfiguration(
  transport: transports.Transport,
  kind: admission.WebhookKind,
  name: string,
  webhooks: readonly Record<string, unknown>[],
): Promise<void> {
  const resource = CONFIGURATION_RESOURCES[kind];
  try {
    await api.createObject(transport, resource, { metadata: { name }, webhooks });
    log.info(`Created the ${resource.kind} "${name}" with ${webhooks.length} webhook(s)`);
  } catch (error) {
    if (!(error instanceof k8sErrors.ApiConflictError)) throw error;
    await api.patchObject(transport, resource, name, { webhooks });
    log.info(`Updated the ${resource.kind} "${name}" with ${webhooks.length} webhook(s)`);
  }
}

/**
 * At exit: deletes the configuration, or keeps only the `persistent` webhooks in it.
 *
 * @example
 * ```ts ignore
 * await releaseConfiguration(transport, "mutating", "kopfexamples.kopf.dev", []);
 * ```
 */
export async function releaseConfiguration(
  transport: transports.Transport,
  kind: admission.WebhookKind,
  name: string,
  persistent: readonly Record<string, unknown>[],
): Promise<void> {
  const resource = CONFIGURATION_RESOURCES[kind];
  if (persistent.length > 0) {
    await api.patchObject(transport, resource, name, { webhooks: persistent });
    log.info(`Kept ${persistent.length} persistent webhook(s) in the ${resource.kind} "${name}"`);
    return;
  }
  try {
    await api.deleteObject(transport, resource, name);
    log.info(`Deleted the ${resource.kind} "${name}"`);
  } catch (error) {
    if (!(error instanceof k8sErrors.ApiNotFoundError)) throw error;
  }
}

/**
 * The merge patch that points a CRD's conversion at the webhook server: strategy `Webhook`, the
 * client config with `/convert/<crd>` appended, ConversionReview `v1`.
 *
 * @example
 * ```ts
 * import { crdConversionPatch } from "./configurations.ts";
 * crdConversionPatch("kopfexamples.kopf.dev", { url: "https://127.0.0.1:9443", caBundle: "LS0t" });
 * // { spec: { conversion: { strategy: "Webhook", webhook: { conversionReviewVersions: ["v1"],
 * //   clientConfig: { url: "https://127.0.0.1:9443/convert/kopfexamples.kopf.dev", service: null, caBundle: "LS0t" } } } } }
 * ```
 */
export function crdConversionPatch(
  crd: string,
  clientConfig: ClientConfig,
): Record<string, unknown> {
  const config = withHandlerId(clientConfig, `convert/${crd}`);
  // A merge patch merges objects: the other way of reaching the server must be removed.
  const reach = config.url !== undefined
    ? { url: config.url, service: null }
    : { service: config.service, url: null };
  return {
    spec: {
      conversion: {
        strategy: "Webhook",
        webhook: {
          conversionReviewVersions: ["v1"],
          clientConfig: { ...reach, caBundle: config.caBundle ?? null },
        },
      },
    },
  };
}

/**
 * Points a CRD's conversion at the webhook server (see `crdConversionPatch`). It stays so after
 * exit: without its webhook, reads in other versions fail rather than lose fields.
 *
 * @example
 * ```ts ignore
 * await applyCrdConversion(transport, "kopfexamples.kopf.dev", clientConfig);
 * ```
 */
export async function applyCrdConversion(
  transport: transports.Transport,
  crd: string,
  clientConfig: ClientConfig,
): Promise<void> {
  await api.patchObject(transport, CRD_RESOURCE, crd, crdConversionPatch(crd, clientConfig));
  log.info(`Pointed the conversion of the CRD "${crd}" at this operator`);
}

/** The client config for one handler: its id (URL-encoded) after the URL or the Service path. */
function withHandlerId(config: ClientConfig, id: string): ClientConfig {
  const segment = id.split("/").map(encodeURIComponent).join("/");
  const result: ClientConfig = {};
  if (config.url !== undefined) result.url = `${config.url.replace(/\/+$/, "")}/${segment}`;
  if (config.service !== undefined) {
    result.service = {
      ...config.service,
      path: `${(config.service.path ?? "").replace(/\/+$/, "")}/${segment}`,
    };
  }
  if (config.caBundle !== undefined) result.caBundle = config.caBundle;
  return result;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}
