// Webhook handlers as the user declares them: `on.validate` and `on.mutate` (admission, as Kopf)
// and `on.convert` (CRD version conversion, beyond Kopf), their options, contexts and the store
// each OperatorRegistry keeps them in. Called when operator modules load; the webhook engines
// read the store. Nothing runs or listens here; every mistake throws at registration.

import type * as contexts from "./contexts.ts";
import * as errors from "./errors.ts";
import type * as handlers from "./handlers.ts";
import * as opts from "./options.ts";
import * as selectors from "./selectors.ts";
import type * as diffs from "../structs/diffs.ts";

/** An API operation under admission, as the AdmissionReview names it. */
export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

/** Which configuration an admission handler belongs to (Kopf's `WebhookType`). */
export type WebhookKind = "validating" | "mutating";

/** Who sent the API request under admission (`request.userInfo` of the review). */
export interface UserInfo {
  readonly username?: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** An `on.validate` or `on.mutate` handler, as registered. */
export interface WebhookHandler extends handlers.ResourceHandler {
  readonly kind: WebhookKind;
  /** Operations the webhook is called for; undefined means all (`*`). */
  readonly operations: readonly Operation[] | undefined;
  /** The subresource the webhook is for (`status`, `scale`); undefined: the object itself. */
  readonly subresource: string | undefined;
  /** Keep the webhook in the managed configuration when the operator exits. */
  readonly persistent: boolean;
  /** The handler has side effects that it skips on dry runs (`sideEffects: NoneOnDryRun`). */
  readonly sideEffects: boolean;
  /** Let the API request through when the webhook fails (`failurePolicy: Ignore`). */
  readonly ignoreFailures: boolean;
}

/** An `on.convert` handler: turns objects of one version of a CRD into another version. */
export interface ConversionHandler extends handlers.BaseHandler {
  readonly kind: "conversion";
  /** The CRD's resource; its version, if given, is not used (conversions span versions). */
  readonly selector: handlers.ResourceSelector;
  /** The version objects come in, e.g. `v1`. */
  readonly from: string;
  /** The version objects go out in, e.g. `v2`. */
  readonly to: string;
}

/** What `on.validate` and `on.mutate` handlers receive. */
export interface AdmissionContext<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends contexts.ResourceContext<Spec, Status> {
  /** Which kind of webhook calls the handler. */
  readonly reason: WebhookKind;
  readonly operation: Operation;
  /** The subresource of the request (`status`), if any. */
  readonly subresource: string | undefined;
  /** The request is a dry run: change nothing outside the object. */
  readonly dryrun: boolean;
  /** Who sent the request. */
  readonly userInfo: UserInfo;
  /** Push messages here: they are returned to the client as `Warning:` headers. */
  readonly warnings: string[];
  /** The HTTP headers of the API server's call (not of the user's request). */
  readonly headers: Readonly<Record<string, string>>;
  /** The handler id in the called URL; undefined when the root path was called. */
  readonly webhook: string | undefined;
  /** The object before an update or deletion; undefined on creation. */
  readonly old: contexts.Body<Spec, Status> | undefined;
  /** The object as it is to be stored; undefined on deletion. */
  readonly new: contexts.Body<Spec, Status> | undefined;
  /** What the request changes (`old` → `new`). */
  readonly diff: diffs.Diff;
}

/** A validating or mutating handler's function; throw `AdmissionError` to reject. */
export type AdmissionFn<Spec = Record<string, unknown>, Status = Record<string, unknown>> =
  contexts.HandlerFnOf<AdmissionContext<Spec, Status>>;

/** What `on.convert` handlers receive: one object to convert. */
export interface ConversionContext {
  /** A copy of the object in the `from` version, free to change in place. */
  readonly body: Record<string, unknown> & { metadata?: contexts.Meta };
  readonly spec: Record<string, unknown>;
  readonly meta: contexts.Meta;
  readonly name: string;
  readonly namespace: string | undefined;
  /** The version the object comes in. */
  readonly from: string;
  /** The version to convert it to. */
  readonly to: string;
  readonly logger: contexts.ResourceContext["logger"];
  /** A shallow copy of the operator memo. */
  readonly memo: contexts.Memo;
  readonly param: unknown;
  readonly signal: AbortSignal;
  readonly id: handlers.HandlerId;
}

/**
 * A conversion function: returns the object in the `to` version, or nothing after changing
 * `body` in place. `apiVersion` is set by the framework; of the metadata, only labels and
 * annotations may change (the API server's rule).
 */
export type ConversionFn = contexts.HandlerFnOf<
  ConversionContext,
  Record<string, unknown> | void | Promise<Record<string, unknown> | void>
>;

/** Options of `on.validate` and `on.mutate`. */
export interface AdmissionOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends opts.HandlerOptions, opts.FilterOptions<AdmissionContext<Spec, Status>> {
  /** One operation to be called for (Kopf's deprecated form of `operations`). */
  operation?: Operation;
  /** Operations to be called for. @default {all} */
  operations?: readonly Operation[];
  /** A subresource to be called for, e.g. `"status"`; by default the object itself. */
  subresource?: string;
  /** Keep the webhook in the managed configuration after exit. @default {false} */
  persistent?: boolean;
  /** The handler has side effects, skipped on dry runs. @default {false} */
  sideEffects?: boolean;
  /** Let requests through when the webhook fails or cannot be reached. @default {false} */
  ignoreFailures?: boolean;
}

/** Options of `on.convert`: the two versions are required. */
export interface ConversionOptions extends opts.HandlerOptions {
  /** The version objects come in. */
  from: string;
  /** The version they go out in. */
  to: string;
}

const OPERATIONS: readonly string[] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];
const VERSION = /^v\d+((alpha|beta)\d+)?$/;

/**
 * The webhook handlers of one operator: every `OperatorRegistry` has one as `admission`.
 * Admission ids name URL paths (`/<id>`), so they are unique among admission handlers; each
 * pair of versions of a resource has one converter.
 *
 * @example
 * ```ts
 * import { AdmissionRegistry } from "./admission.ts";
 * const store = new AdmissionRegistry();
 * store.webhooks(); // []
 * ```
 */
export class AdmissionRegistry {
  readonly #webhooks: WebhookHandler[] = [];
  readonly #conversions: ConversionHandler[] = [];

  /**
   * Adds a handler.
   *
   * @throws {errors.RegistrationError} when an admission handler has the id already, or a
   * converter exists for the same resource and versions.
   */
  register(handler: WebhookHandler | ConversionHandler): void {
    if (handler.kind === "conversion") {
      const clash = this.#conversions.find((other) =>
        selectors.same(other.selector, handler.selector) && other.from === handler.from &&
        other.to === handler.to && other.fn !== handler.fn
      );
      if (clash !== undefined) {
        throw new errors.RegistrationError(
          `Cannot register ${describe(handler)}: ${describe(clash)} converts ` +
            `${handler.from} to ${handler.to} already; one function per pair of versions`,
        );
      }
      if (!this.#conversions.some((o) => o.fn === handler.fn && o.id === handler.id)) {
        this.#conversions.push(handler);
      }
      return;
    }
    const clash = this.#webhooks.find((other) => other.id === handler.id);
    if (clash !== undefined) {
      throw new errors.RegistrationError(
        `Cannot register ${describe(handler)}: the id "${handler.id}" names the webhook ` +
          `${describe(clash)} already (ids are URL paths); give one of them a different { id }`,
      );
    }
    this.#webhooks.push(handler);
  }

  /** The validating and mutating handlers, in registration order. */
  webhooks(kind?: WebhookKind): readonly WebhookHandler[] {
    return kind === undefined ? [...this.#webhooks] : this.#webhooks.filter((h) => h.kind === kind);
  }

  /** The conversion handlers, in registration order. */
  conversions(): readonly ConversionHandler[] {
    return [...this.#conversions];
  }

  /** Whether any webhook handler (admission or conversion) is registered: a server is needed. */
  get any(): boolean {
    return this.#webhooks.length > 0 || this.#conversions.length > 0;
  }
}

/** How a webhook handler is named in messages: `the validate handler "check" for "kex"`. */
export function describe(handler: WebhookHandler | ConversionHandler): string {
  const label = handler.kind === "conversion"
    ? "convert"
    : handler.kind === "validating"
    ? "validate"
    : "mutate";
  const where = handler.selector === undefined
    ? ""
    : ` for ${selectors.describe(handler.selector)}`;
  const name = handler.fn.name.replace(/^(?:bound )+/, "");
  return name ? `the ${label} handler "${name}"${where}` : `an anonymous ${label} handler${where}`;
}

/**
 * Registers a validating admission handler: the API server asks it before storing an object;
 * throwing `AdmissionError` (or `PermanentError`) rejects the request with its message, pushing
 * to `warnings` warns the client. With `settings.admission.managed`, its webhook is configured
 * in the cluster (the `labels` filter becomes the webhook's `objectSelector`).
 *
 * @example Rejecting objects without a size
 * ```ts
 * import * as admission from "./admission.ts";
 * import { AdmissionError } from "../engines/admission.ts";
 * admission.validate<{ size?: number }>("kopfexamples", function check_size({ spec, warnings }) {
 *   if (spec.size === undefined) throw new AdmissionError("spec.size is required", { code: 422 });
 *   if (spec.size > 10) warnings.push("spec.size above 10 is slow");
 * });
 * ```
 */
export function validate<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  fn: AdmissionFn<Spec, Status>,
): AdmissionFn<Spec, Status>;
/** `on.validate(resource, options, fn)`: the same, with options (operations, filters, id, …). */
export function validate<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: AdmissionOptions<Spec, Status>,
  fn: AdmissionFn<Spec, Status>,
): AdmissionFn<Spec, Status>;
export function validate(...args: unknown[]): unknown {
  return registerAdmission("validate", args);
}

/**
 * Registers a mutating admission handler: it changes the object before it is stored by writing
 * to `patch` (`patch.metadata.labels.x = "y"`, `patch.spec.size = 1`, `patch.fns`); the
 * framework answers with the JSON patch between the object and the patched one. It may reject
 * and warn as validating handlers do. Not called for deletions unless `operations` is exactly
 * `["DELETE"]` (as Kopf).
 *
 * @example Labelling every new object
 * ```ts
 * import * as admission from "./admission.ts";
 * admission.mutate("kopfexamples", { operations: ["CREATE"] }, function add_label({ patch }) {
 *   patch.metadata.labels["kopf.dev/mutated"] = "yes";
 * });
 * ```
 */
export function mutate<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  fn: AdmissionFn<Spec, Status>,
): AdmissionFn<Spec, Status>;
/** `on.mutate(resource, options, fn)`: the same, with options (operations, filters, id, …). */
export function mutate<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: AdmissionOptions<Spec, Status>,
  fn: AdmissionFn<Spec, Status>,
): AdmissionFn<Spec, Status>;
export function mutate(...args: unknown[]): unknown {
  return registerAdmission("mutate", args);
}

/**
 * Registers a conversion function between two versions of a CRD (beyond Kopf, which has none):
 * the API server calls the operator's conversion webhook to read or store objects in a version
 * other than the one they are stored in. Conversions chain (`v1`→`v2`→`v3`). With
 * `settings.admission.manageConversion` (the default), the CRD's `spec.conversion` is pointed
 * at the operator's server at start.
 *
 * @example v1's `spec.size` is v2's `spec.replicas`
 * ```ts
 * import * as admission from "./admission.ts";
 * admission.convert("kopfexamples.kopf.dev", { from: "v1", to: "v2" }, function v1_to_v2({ body }) {
 *   const spec = body.spec as Record<string, unknown>;
 *   spec.replicas = spec.size;
 *   delete spec.size;
 * });
 * ```
 */
export function convert(
  resource: handlers.ResourceSelector,
  options: ConversionOptions,
  fn: ConversionFn,
): ConversionFn {
  const { options: given } = opts.splitArguments("convert", [resource, options, fn]);
  const check: opts.Checker = new opts.Checker("convert", resource, fn);
  const common = check.common(given);
  const from = version(check, given, "from");
  const to = version(check, given, "to");
  if (from === to) {
    check.fail(`"from" and "to" are both "${from}"; a conversion needs two versions`);
  }
  const handler: ConversionHandler = Object.freeze({
    kind: "conversion" as const,
    id: common.id,
    fn: common.fn,
    param: common.param,
    errors: undefined,
    timeout: undefined,
    retries: undefined,
    backoff: undefined,
    selector: resource,
    from,
    to,
  });
  check.registry(given).admission.register(handler);
  return fn;
}

function registerAdmission(kind: "validate" | "mutate", args: unknown[]): unknown {
  const { resource, options, fn } = opts.splitArguments(kind, args);
  const check: opts.Checker = new opts.Checker(kind, resource, fn);
  const common = check.common(options);
  const handler: WebhookHandler = Object.freeze({
    ...common,
    kind: kind === "validate" ? "validating" as const : "mutating" as const,
    operations: operations(check, options),
    subresource: subresource(check, options.subresource),
    persistent: flag(check, options, "persistent"),
    sideEffects: flag(check, options, "sideEffects"),
    ignoreFailures: flag(check, options, "ignoreFailures"),
  });
  check.registry(options).admission.register(handler);
  return fn;
}

function operations(
  check: opts.Checker,
  options: Record<string, unknown>,
): readonly Operation[] | undefined {
  const { operation, operations } = options;
  if (operation !== undefined && operations !== undefined) {
    check.fail(`use either "operation" or "operations", not both`);
  }
  const list = operation !== undefined ? [operation] : operations;
  if (list === undefined) return undefined;
  if (!Array.isArray(list) || list.length === 0) {
    check.fail(`"operations" must be a non-empty list of ${OPERATIONS.join(", ")}`);
  }
  for (const item of list) {
    if (typeof item !== "string" || !OPERATIONS.includes(item)) {
      check.fail(
        `the operation ${JSON.stringify(item)} is not one of ${OPERATIONS.join(", ")} ` +
          `(upper case, as in the AdmissionReview)`,
      );
    }
  }
  return Object.freeze([...new Set(list as Operation[])]);
}

function subresource(check: opts.Checker, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^[a-z][a-z0-9-]*$/.test(value)) {
    check.fail(`"subresource" must be a subresource name such as "status", got ${String(value)}`);
  }
  return value;
}

function flag(
  check: opts.Checker,
  options: Record<string, unknown>,
  key: "persistent" | "sideEffects" | "ignoreFailures",
): boolean {
  const value = options[key];
  if (value === undefined) return false;
  if (typeof value !== "boolean") check.fail(`"${key}" must be true or false, got ${typeof value}`);
  return value;
}

function version(
  check: opts.Checker,
  options: Record<string, unknown>,
  key: "from" | "to",
): string {
  const value = options[key];
  if (value === undefined) {
    check.fail(`"${key}" is required: on.convert(resource, { from: "v1", to: "v2" }, fn)`);
  }
  if (typeof value !== "string" || !VERSION.test(value)) {
    check.fail(
      `"${key}" must be a version such as "v1" or "v2beta1", got ${JSON.stringify(value)}`,
    );
  }
  return value;
}
