// The arguments and options of handler registration: their types, and the checks that turn
// every mistake into a one-line error naming the handler and the fix. Called by registering.ts
// only. Builds the shared part of a handler declaration; never registers or runs anything.

import * as bodies from "../structs/bodies.ts";
import type * as contexts from "./contexts.ts";
import * as errors from "./errors.ts";
import * as handlers from "./handlers.ts";
import * as ids from "./ids.ts";
import * as registries from "./registries.ts";
import * as selectors from "./selectors.ts";

/**
 * Labels or annotations a handler requires, per key: an exact value, `PRESENT`, `ABSENT`, or
 * a predicate given the value (undefined when missing) and the handler's context.
 */
export type MetaFilter<Context> = Readonly<
  Record<
    string,
    string | handlers.Marker | ((value: string | undefined, context: Context) => boolean)
  >
>;

/** Options every handler has. */
export interface HandlerOptions {
  /** The persistent id; defaults to the function's name (plus `/<field>` for field handlers). */
  id?: string;
  /** Any value, passed to the handler as `param` (to tell registrations of one function apart). */
  param?: unknown;
  /** The registry to add the handler to. @default {defaultRegistry()} */
  registry?: registries.OperatorRegistry;
}

/** How failures of a changing handler are retried. Durations in seconds. */
export interface RetryOptions {
  /** How errors other than `TemporaryError`/`PermanentError` count. @default {"temporary"} */
  errors?: handlers.ErrorsMode;
  /** Give up after this many seconds since the first attempt (checked between attempts). */
  timeout?: number;
  /** Give up after this many attempts. */
  retries?: number;
  /** Seconds to wait after an arbitrary error. @default {settings' default backoff} */
  backoff?: number;
}

/** Which objects a handler is for. Predicates receive the handler's context. */
export interface FilterOptions<Context> {
  /** Labels the object must have: `{ app: "web", tier: PRESENT, legacy: ABSENT }`. */
  labels?: MetaFilter<Context>;
  /** Annotations the object must have, as for labels. */
  annotations?: MetaFilter<Context>;
  /** A whole-object predicate. */
  when?: (context: Context) => boolean;
  /** A field (`"spec.size"` or `["metadata", "labels", "app"]`) the filters look at. */
  field?: bodies.FieldSpec;
  /**
   * The field's value: an exact (deep-equal) value, `PRESENT`, `ABSENT` or a predicate. For
   * changing causes, the current or the last handled value may satisfy it. `undefined` means
   * no filter; to require a missing field, use `ABSENT`.
   */
  value?: unknown;
}

/** Transition filters of update and field handlers: the field's value before and after. */
export interface TransitionOptions {
  /** The last handled value: exact, `PRESENT`, `ABSENT` or a predicate. Excludes `value`. */
  old?: unknown;
  /** The current value: exact, `PRESENT`, `ABSENT` or a predicate. Excludes `value`. */
  new?: unknown;
}

/** Options of `on.create`. */
export interface CreateOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends HandlerOptions, RetryOptions, FilterOptions<contexts.ChangingContext<Spec, Status>> {}

/** Options of `on.update`. */
export interface UpdateOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends CreateOptions<Spec, Status>, TransitionOptions {}

/** Options of `on.delete`. */
export interface DeleteOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends CreateOptions<Spec, Status> {
  /** Do not block deletion with the finalizer for this handler. @default {false} */
  optional?: boolean;
}

/** Options of `on.resume`. */
export interface ResumeOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends CreateOptions<Spec, Status> {
  /** Also resume objects that are being deleted. @default {false} */
  deleted?: boolean;
}

/** Options of `on.field`: the field is required. */
export interface FieldOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends UpdateOptions<Spec, Status> {
  /** The field to watch: `"spec.replicas"` or `["metadata", "labels", "app"]`. */
  field: bodies.FieldSpec;
}

/** Options of `on.event`: no retries, as event handlers run once per event. */
export interface EventOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends HandlerOptions, FilterOptions<contexts.EventContext<Spec, Status>> {}

/**
 * Options of `on.index`: filters (an object that stops matching loses its values), and the
 * retry options, with errors ignored by default (the previous values stay).
 */
export interface IndexOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends HandlerOptions, RetryOptions, FilterOptions<contexts.IndexingContext<Spec, Status>> {
  /**
   * How errors other than `TemporaryError`/`PermanentError` count: `"ignored"` keeps the
   * object's previous values; `"permanent"` removes them and excludes the object; `"temporary"`
   * removes them until a retry after `backoff` succeeds. @default {"ignored"}
   */
  errors?: handlers.ErrorsMode;
}

/** Options of `subhandler`: like `on.update`, without a registry (the parent's is used). */
export interface SubhandlerOptions<Spec = Record<string, unknown>, Status = Record<string, unknown>>
  extends
    Omit<HandlerOptions, "registry">,
    RetryOptions,
    FilterOptions<contexts.ChangingContext<Spec, Status>>,
    TransitionOptions {}

/**
 * Options of `on.startup`, `on.cleanup`, `on.login` and `on.probe`: no filters, as they run
 * for the operator; retried until they succeed, as Kopf does, within these limits.
 */
export interface ActivityOptions extends HandlerOptions, RetryOptions {}

const FILTERS = ["labels", "annotations", "when", "field", "value"];
const RETRIES = ["errors", "timeout", "retries", "backoff"];
const ACTIVITY = ["id", "param", "registry", ...RETRIES];
const ADMISSION = [
  "operation",
  "operations",
  "subresource",
  "persistent",
  "sideEffects",
  "ignoreFailures",
];
const ALLOWED: Record<ids.HandlerKind, readonly string[]> = {
  startup: ACTIVITY,
  cleanup: ACTIVITY,
  login: ACTIVITY,
  probe: ACTIVITY,
  create: ["id", "param", "registry", ...RETRIES, ...FILTERS],
  update: ["id", "param", "registry", ...RETRIES, ...FILTERS, "old", "new"],
  delete: ["id", "param", "registry", ...RETRIES, ...FILTERS, "optional"],
  resume: ["id", "param", "registry", ...RETRIES, ...FILTERS, "deleted"],
  field: ["id", "param", "registry", ...RETRIES, ...FILTERS, "old", "new"],
  event: ["id", "param", "registry", ...FILTERS],
  index: ["id", "param", "registry", ...RETRIES, ...FILTERS],
  daemon: [
    "id",
    "param",
    "registry",
    ...RETRIES,
    ...FILTERS,
    "initialDelay",
    "cancellationBackoff",
    "cancellationTimeout",
    "cancellationPolling",
  ],
  timer: [
    "id",
    "param",
    "registry",
    ...RETRIES,
    ...FILTERS,
    "initialDelay",
    "interval",
    "idle",
    "sharp",
  ],
  sub: ["id", "param", ...RETRIES, ...FILTERS, "old", "new"],
  // Admission and conversion handlers answer the API server once: no retries (registry/admission.ts).
  validate: ["id", "param", "registry", ...FILTERS, ...ADMISSION],
  mutate: ["id", "param", "registry", ...FILTERS, ...ADMISSION],
  convert: ["id", "param", "registry", "from", "to"],
};
const ERRORS_MODES: readonly string[] = ["temporary", "permanent", "ignored"];
const ACTIVITY_KINDS: readonly string[] = ["startup", "cleanup", "login", "probe"];

/** The arguments of `on.*`, taken apart. */
export interface Split {
  /** What the handler is for. */
  resource: handlers.ResourceSelector;
  /** The options as given (`{}` when none). */
  options: Record<string, unknown>;
  /** The handler function. */
  fn: handlers.HandlerFn;
}

/** Takes `(resource, fn)` or `(resource, options, fn)` apart, checking each piece's type. */
export function splitArguments(kind: ids.HandlerKind, args: unknown[]): Split {
  const [resource, second, third] = args;
  const fn = args.length === 2 ? second : third;
  const options = args.length === 2 ? {} : second;
  const check: Checker = new Checker(kind, resource as handlers.ResourceSelector, fn);
  if (args.length < 2 || args.length > 3) {
    check.fail(`pass (resource, fn) or (resource, options, fn); got ${args.length} arguments`);
  }
  if (typeof fn !== "function") {
    check.fail(`the handler must be a function, got ${typeName(fn)}`);
  }
  return {
    resource: resource as handlers.ResourceSelector,
    options: check.options(options),
    fn: fn as handlers.HandlerFn,
  };
}

/** The arguments of `on.startup` etc., taken apart. */
export interface ActivitySplit {
  /** The options as given (`{}` when none). */
  options: Record<string, unknown>;
  /** The handler function. */
  fn: handlers.HandlerFn;
}

/** Takes `(fn)` or `(options, fn)` of an activity handler apart, checking each piece's type. */
export function splitActivityArguments(kind: ids.ActivityKind, args: unknown[]): ActivitySplit {
  const [first, second] = args;
  const fn = args.length === 1 ? first : second;
  const options = args.length === 1 ? {} : first;
  const check: Checker = new Checker(kind, undefined, fn);
  if (args.length < 1 || args.length > 2) {
    check.fail(`pass (fn) or (options, fn); got ${args.length} arguments`);
  }
  if (args.length >= 2 && (typeof first === "string" || typeof first === "symbol")) {
    check.fail(`activities are not for resources: pass (fn) or (options, fn)`);
  }
  if (typeof fn !== "function") {
    check.fail(`the handler must be a function, got ${typeName(fn)}`);
  }
  return { options: check.options(options), fn: fn as handlers.HandlerFn };
}

/** Checks one registration; every failure names the handler and the fix. */
export class Checker {
  readonly #kind: ids.HandlerKind;
  readonly #resource: handlers.ResourceSelector | undefined;
  readonly #fn: unknown;
  readonly #parent: handlers.HandlerId | undefined;

  constructor(
    kind: ids.HandlerKind,
    resource: handlers.ResourceSelector | undefined,
    fn: unknown,
    parent?: handlers.HandlerId,
  ) {
    this.#kind = kind;
    this.#resource = resource;
    this.#fn = fn;
    this.#parent = parent;
  }

  fail(detail: string): never {
    throw new errors.RegistrationError(`Cannot register ${this.#describe()}: ${detail}`);
  }

  /** Checks the options every handler kind shares and builds that part of the handler. */
  common(options: Record<string, unknown>): handlers.ResourceHandler {
    if (typeof this.#fn !== "function") {
      this.fail(`the handler must be a function, got ${typeName(this.#fn)}`);
    }
    this.#knownKeys(options);
    const fn = this.#fn as handlers.HandlerFn;
    const selector = this.#selector();
    const id = this.#id(options.id);
    const field = this.#field(options.field);
    const value = options.value;
    if (value !== undefined && field === undefined) {
      this.fail(`"value" filters a field: add { field: "spec.x" }`);
    }
    return {
      id: ids.handlerId(fn, this.#kind, { id, field, parent: this.#parent }),
      fn,
      param: options.param,
      errors: this.#errors(options.errors),
      timeout: this.#seconds(options, "timeout"),
      retries: this.#retries(options.retries),
      backoff: this.#seconds(options, "backoff"),
      selector,
      labels: this.#meta(options, "labels"),
      annotations: this.#meta(options, "annotations"),
      when: this.#when(options.when),
      field,
      value,
      hasValue: value !== undefined,
    };
  }

  /** Checks the options of an activity handler and builds it. */
  activity(
    options: Record<string, unknown>,
    activity: handlers.Activity,
  ): handlers.ActivityHandler {
    if (typeof this.#fn !== "function") {
      this.fail(`the handler must be a function, got ${typeName(this.#fn)}`);
    }
    this.#knownKeys(options);
    const fn = this.#fn as handlers.HandlerFn;
    return Object.freeze({
      kind: "activity" as const,
      activity,
      id: ids.handlerId(fn, this.#kind, { id: this.#id(options.id) }),
      fn,
      param: options.param,
      errors: this.#errors(options.errors),
      timeout: this.#seconds(options, "timeout"),
      retries: this.#retries(options.retries),
      backoff: this.#seconds(options, "backoff"),
    });
  }

  /** Checks `old`/`new` (already known to be allowed for this kind). */
  transition(
    options: Record<string, unknown>,
    field: bodies.FieldPath | undefined,
  ): Pick<handlers.ChangingHandler, "old" | "hasOld" | "new" | "hasNew"> {
    const hasOld = options.old !== undefined;
    const hasNew = options.new !== undefined;
    if ((hasOld || hasNew) && field === undefined) {
      this.fail(`"old" and "new" filter a field: add { field: "spec.x" }`);
    }
    if ((hasOld || hasNew) && options.value !== undefined) {
      this.fail(`use either "value" or "old"/"new", not both`);
    }
    return { old: options.old, hasOld, new: options.new, hasNew };
  }

  /** A boolean option (`optional`, `deleted`); false when not given. */
  flag(options: Record<string, unknown>, key: "optional" | "deleted"): boolean {
    const value = options[key];
    if (value === undefined) return false;
    if (typeof value !== "boolean") {
      this.fail(`"${key}" must be true or false, got ${typeName(value)}`);
    }
    return value;
  }

  /** An index is a context field named by its id: an anonymous function gives no usable name. */
  named(options: Record<string, unknown>): void {
    const id = typeof options.id === "string" ? options.id : undefined;
    if (ids.isAnonymous(this.#fn as handlers.HandlerFn, { id })) {
      this.fail(
        `handlers get the index as a context field named by its id; use a named function or give { id: "podsByLabel" }`,
      );
    }
  }

  /** The options, if they are an object. */
  options(options: unknown): Record<string, unknown> {
    if (!bodies.isObject(options)) {
      this.fail(`the options must be an object, got ${typeName(options)}`);
    }
    return options;
  }

  /** The registry in `options.registry`, or the default one. */
  registry(options: Record<string, unknown>): registries.OperatorRegistry {
    const registry = options.registry;
    if (registry === undefined) return registries.defaultRegistry();
    if (registry instanceof registries.OperatorRegistry) return registry;
    return this.fail(`"registry" must be an OperatorRegistry, got ${typeName(registry)}`);
  }

  #describe(): string {
    const label = this.#kind === "sub" ? "sub-handler" : `${this.#kind} handler`;
    const where = this.#parent !== undefined
      ? ` of "${this.#parent}"`
      : this.#resource === undefined
      ? ""
      : ` for ${selectors.describe(this.#resource)}`;
    if (typeof this.#fn !== "function") {
      return `${/^[aeiou]/.test(label) ? "an" : "a"} ${label}${where}`;
    }
    const name = ids.functionName(this.#fn as handlers.HandlerFn);
    return name ? `the ${label} "${name}"${where}` : `an anonymous ${label}${where}`;
  }

  #knownKeys(options: Record<string, unknown>): void {
    const allowed = ALLOWED[this.#kind];
    for (const key of Object.keys(options)) {
      if (allowed.includes(key)) continue;
      if (
        ACTIVITY_KINDS.includes(this.#kind) &&
        [...FILTERS, "old", "new", "optional", "deleted"].includes(key)
      ) {
        this.fail(`"${key}" does not apply to ${this.#kind} handlers: they run for the operator`);
      }
      if (key === "old" || key === "new") {
        this.fail(`"${key}" filters are only for update and field handlers; use "value"`);
      }
      if (key === "optional") this.fail(`"optional" is only for delete handlers`);
      const resourceKind = !ACTIVITY_KINDS.includes(this.#kind);
      if (resourceKind && ["interval", "idle", "sharp"].includes(key)) {
        this.fail(`"${key}" is only for timers: on.timer(resource, { ${key}: … }, fn)`);
      }
      if (resourceKind && key.startsWith("cancellation")) {
        this.fail(`"${key}" is only for daemons: timers stop between their calls`);
      }
      if (resourceKind && key === "initialDelay") {
        this.fail(`"initialDelay" is only for daemons and timers`);
      }
      if (key === "deleted") this.fail(`"deleted" is only for resume handlers`);
      if (["validate", "mutate", "convert"].includes(this.#kind) && RETRIES.includes(key)) {
        this.fail(`"${key}" does not apply to webhook handlers: they answer once, no retries`);
      }
      if (this.#kind === "event" && RETRIES.includes(key)) {
        this.fail(`"${key}" does not apply to event handlers: they run once per event, no retries`);
      }
      if (this.#kind === "sub" && key === "registry") {
        this.fail(`"registry" does not apply to sub-handlers: they belong to their parent`);
      }
      this.fail(`unknown option "${key}"; the options are ${allowed.join(", ")}`);
    }
  }

  #selector(): handlers.ResourceSelector | undefined {
    if (this.#kind === "sub" || ACTIVITY_KINDS.includes(this.#kind)) return undefined;
    const resource = this.#resource as handlers.ResourceSelector;
    try {
      selectors.parse(resource);
    } catch (error) {
      if (!(error instanceof errors.RegistrationError)) throw error;
      this.fail(error.message.replace(/^Cannot/, "cannot"));
    }
    return resource;
  }

  #id(id: unknown): string | undefined {
    if (id === undefined) return undefined;
    if (typeof id !== "string" || id === "") {
      this.fail(`"id" must be a non-empty string, got ${typeName(id)}`);
    }
    return id;
  }

  #field(field: unknown): bodies.FieldPath | undefined {
    if (field === undefined) return undefined;
    const shown = typeof field === "string" ? `"${field}"` : safeJson(field);
    const hint = `write it as "spec.x" or ["spec", "x"]`;
    if (typeof field !== "string" && !Array.isArray(field)) {
      this.fail(`the field ${shown} must be a string or an array of strings; ${hint}`);
    }
    const parts: unknown[] = typeof field === "string" ? field.split(".") : field;
    if (parts.length === 0) this.fail(`the field ${shown} is empty; ${hint}`);
    if (parts.some((part) => typeof part !== "string")) {
      this.fail(`the field ${shown} has a segment that is not a string; ${hint}`);
    }
    if (parts.some((part) => part === "")) {
      this.fail(`the field ${shown} has an empty segment; ${hint}`);
    }
    return bodies.parseField(field as bodies.FieldSpec);
  }

  #errors(mode: unknown): handlers.ErrorsMode | undefined {
    if (mode === undefined) return undefined;
    if (typeof mode !== "string" || !ERRORS_MODES.includes(mode)) {
      this.fail(`"errors" must be one of ${ERRORS_MODES.map((m) => `"${m}"`).join(", ")}`);
    }
    return mode as handlers.ErrorsMode;
  }

  #seconds(options: Record<string, unknown>, key: "timeout" | "backoff"): number | undefined {
    const value = options[key];
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      this.fail(`"${key}" must be a non-negative number of seconds, got ${safeJson(value)}`);
    }
    return value;
  }

  #retries(value: unknown): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      this.fail(`"retries" must be a non-negative integer, got ${safeJson(value)}`);
    }
    return value;
  }

  #meta(
    options: Record<string, unknown>,
    key: "labels" | "annotations",
  ): handlers.MetaFilter | undefined {
    const filter = options[key];
    if (filter === undefined) return undefined;
    if (!bodies.isObject(filter)) {
      this.fail(`"${key}" must be an object of names to values, got ${typeName(filter)}`);
    }
    const noun = key === "labels" ? "label" : "annotation";
    for (const [name, value] of Object.entries(filter)) {
      if (value === undefined || value === null) {
        this.fail(`the ${noun} "${name}" is ${value}; use PRESENT or ABSENT`);
      }
      const ok = typeof value === "string" || typeof value === "function" ||
        value === handlers.PRESENT || value === handlers.ABSENT;
      if (!ok) {
        this.fail(
          `the ${noun} "${name}" must be a string, PRESENT, ABSENT or a predicate, got ${
            safeJson(value)
          }`,
        );
      }
    }
    return Object.freeze({ ...filter }) as handlers.MetaFilter;
  }

  #when(when: unknown): handlers.WhenFilter | undefined {
    if (when === undefined) return undefined;
    if (typeof when !== "function") this.fail(`"when" must be a function, got ${typeName(when)}`);
    return when as handlers.WhenFilter;
  }
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}

function safeJson(value: unknown): string {
  if (typeof value === "symbol") return value.toString();
  if (typeof value === "function") return "a function";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
