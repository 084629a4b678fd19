// The user-facing registration: `on.create/update/delete/resume/field/event/index`, the
// activities `on.startup/cleanup/login/probe`, and `subhandler`. Operator code calls them when
// its module loads (sub-handlers: inside a running handler).
// Every option is checked (options.ts), so mistakes throw at registration; nothing runs here.

import { AsyncLocalStorage } from "node:async_hooks";
import type * as contexts from "./contexts.ts";
import * as errors from "./errors.ts";
import type * as handlers from "./handlers.ts";
import type * as ids from "./ids.ts";
import * as opts from "./options.ts";
import type * as registries from "./registries.ts";
import * as spawning from "./spawning.ts";
import * as admission from "./admission.ts";

export { SubRegistry } from "./registries.ts";
export { daemon, timer } from "./spawning.ts";
export type { DaemonOptions, SpawningOptions, TimerOptions } from "./spawning.ts";
export type {
  ActivityOptions,
  CreateOptions,
  DeleteOptions,
  EventOptions,
  FieldOptions,
  FilterOptions,
  HandlerOptions,
  IndexOptions,
  MetaFilter,
  ResumeOptions,
  RetryOptions,
  SubhandlerOptions,
  TransitionOptions,
  UpdateOptions,
} from "./options.ts";

/** The changing handler being run, and where its sub-handlers go. */
export interface CurrentHandler {
  /** The running parent: sub-handlers get its id as a prefix. */
  readonly handler: handlers.ChangingHandler;
  /** Where `subhandler` puts what the parent declares. */
  readonly subregistry: registries.SubRegistry;
}

/**
 * The changing handler running in this async context. The handling layer runs each changing
 * handler inside `currentHandler.run({ handler, subregistry }, ...)`, then reads the
 * sub-handlers it declared from `subregistry`.
 *
 * @example
 * ```ts
 * import { currentHandler } from "./registering.ts";
 * currentHandler.getStore(); // undefined outside of a changing handler
 * ```
 */
export const currentHandler: AsyncLocalStorage<CurrentHandler> = new AsyncLocalStorage();

/**
 * Registers a creation handler: it runs once for each new object (one without a stored
 * diff-base), retried until it succeeds or fails permanently.
 *
 * @example
 * ```ts
 * import * as on from "./registering.ts";
 * interface KopfExampleSpec { field?: string }
 * on.create<KopfExampleSpec>("kopfexamples", ({ spec, logger }) => {
 *   logger.info(`Creating with ${spec.field}`);
 *   return { message: "created" };
 * });
 * ```
 */
export function create<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  fn: contexts.ChangingFn<Spec, Status>,
): contexts.ChangingFn<Spec, Status>;
/** `on.create(resource, options, fn)`: the same, with options (filters, id, retries, …). */
export function create<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: opts.CreateOptions<Spec, Status>,
  fn: contexts.ChangingFn<Spec, Status>,
): contexts.ChangingFn<Spec, Status>;
export function create(...args: unknown[]): unknown {
  return registerChanging("create", args);
}

/**
 * Registers an update handler: it runs when the object's essence changed since it was last
 * handled; with a `field`, only when that field changed (`old`/`new` filter the transition).
 *
 * @example
 * ```ts
 * import * as on from "./registering.ts";
 * on.update("kopfexamples", { field: "spec.field", new: "ready" }, function ready({ old, new: value }) {
 *   console.log(`spec.field: ${old} -> ${value}`);
 * });
 * ```
 */
export function update<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  fn: contexts.ChangingFn<Spec, Status>,
): contexts.ChangingFn<Spec, Status>;
/** `on.update(resource, options, fn)`: the same, with options (filters, id, retries, …). */
export function update<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: opts.UpdateOptions<Spec, Status>,
  fn: contexts.ChangingFn<Spec, Status>,
): contexts.ChangingFn<Spec, Status>;
export function update(...args: unknown[]): unknown {
  return registerChanging("update", args);
}

/**
 * Registers a deletion handler (exported as `delete`): it runs when the object is marked for
 * deletion. Unless `optional`, the finalizer blocks the deletion until it succeeds.
 *
 * @example
 * ```ts
 * import * as on from "./registering.ts";
 * on.delete("kopfexamples", async function cleanup({ name }) {
 *   console.log(`Releasing what ${name} held`);
 * });
 * ```
 */
function remove<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  fn: contexts.ChangingFn<Spec, Status>,
): contexts.ChangingFn<Spec, Status>;
/** `on.delete(resource, options, fn)`: the same, with options (filters, id, retries, …). */
function remove<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: opts.DeleteOptions<Spec, Status>,
  fn: contexts.ChangingFn<Spec, Status>,
): contexts.ChangingFn<Spec, Status>;
function remove(...args: unknown[]): unknown {
  return registerChanging("delete", args);
}
export { remove as delete };

/**
 * Registers a resume handler: it runs once per operator process for each object of the
 * initial listing, mixed into that object's update or deletion, or on its own when nothing
 * changed. Not for new objects (creation handlers run) nor, unless `deleted`, for objects
 * being deleted.
 *
 * @example
 * ```ts
 * import * as on from "./registering.ts";
 * on.resume("kopfexamples", function reattach({ name }) {
 *   console.log(`Watching ${name} again after a restart`);
 * });
 * ```
 */
export function resume<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  fn: contexts.ChangingFn<Spec, Status>,
): contexts.ChangingFn<Spec, Status>;
/** `on.resume(resource, options, fn)`: the same, with options (filters, id, retries, …). */
export function resume<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: opts.ResumeOptions<Spec, Status>,
  fn: contexts.ChangingFn<Spec, Status>,
): contexts.ChangingFn<Spec, Status>;
export function resume(...args: unknown[]): unknown {
  return registerChanging("resume", args);
}

/**
 * Registers a field handler: it runs whenever the field changes, on creation, update or
 * deletion alike, and receives the field's own `old`, `new` and `diff`. Its id is
 * `<name>/<field>`.
 *
 * @example
 * ```ts
 * import * as on from "./registering.ts";
 * on.field("kopfexamples", { field: "spec.replicas" }, function scale({ old, new: value }) {
 *   console.log(`Scaling from ${old} to ${value}`); // id: "scale/spec.replicas"
 * });
 * ```
 */
export function field<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: opts.FieldOptions<Spec, Status>,
  fn: contexts.ChangingFn<Spec, Status>,
): contexts.ChangingFn<Spec, Status> {
  return registerChanging("field", [resource, options, fn]) as contexts.ChangingFn<Spec, Status>;
}

/**
 * Registers an event handler: it runs for every watch event of matching objects, including
 * those of the initial listing (`type` undefined), once, with errors logged and ignored.
 *
 * @example
 * ```ts
 * import * as on from "./registering.ts";
 * on.event("pods", { labels: { app: "web" } }, function seen({ type, name }) {
 *   console.log(`${type ?? "LISTED"} ${name}`);
 * });
 * ```
 */
export function event<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  fn: contexts.EventFn<Spec, Status>,
): contexts.EventFn<Spec, Status>;
/** `on.event(resource, options, fn)`: the same, with options (filters, id, param). */
export function event<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: opts.EventOptions<Spec, Status>,
  fn: contexts.EventFn<Spec, Status>,
): contexts.EventFn<Spec, Status>;
export function event(...args: unknown[]): unknown {
  const { resource, options, fn } = opts.splitArguments("event", args);
  const check: opts.Checker = new opts.Checker("event", resource, fn);
  const common = check.common(options);
  const handler: handlers.WatchingHandler = Object.freeze({ kind: "watching" as const, ...common });
  check.registry(options).register(handler);
  return fn;
}

/**
 * Registers an index function: it runs for every watch event of matching objects (the initial
 * listing too), before the other handlers of that event, and what it returns is kept in memory
 * in the index named by its id, which every handler gets as a context field of that name. A
 * plain object or a `Map` merges under its keys, any other value goes under the key `null`, and
 * `undefined`/`null` index nothing (keeping the previous values). An object's values go when it
 * is deleted or stops matching the filters. Resource handlers do not run until every index has
 * its resources' initial listings. Errors are ignored by default (the previous values stay).
 *
 * @example Pods by their `app` label, read by a handler of another resource
 * ```ts
 * import * as on from "./registering.ts";
 * import type { ChangingContext } from "./contexts.ts";
 * import { PRESENT } from "./handlers.ts";
 * import type { Index } from "../structs/indexes.ts";
 *
 * on.index("pods", { labels: { app: PRESENT } }, function podsByApp({ labels, name }) {
 *   return { [labels.app!]: name };
 * });
 * on.create("kopfexamples", (ctx: ChangingContext & { podsByApp: Index<string, string> }) => {
 *   return { pods: [...ctx.podsByApp.get("web") ?? []] };
 * });
 * ```
 */
export function index<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  fn: contexts.IndexFn<Spec, Status>,
): contexts.IndexFn<Spec, Status>;
/** `on.index(resource, options, fn)`: the same, with options (filters, id, errors, …). */
export function index<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  resource: handlers.ResourceSelector,
  options: opts.IndexOptions<Spec, Status>,
  fn: contexts.IndexFn<Spec, Status>,
): contexts.IndexFn<Spec, Status>;
export function index(...args: unknown[]): unknown {
  const { resource, options, fn } = opts.splitArguments("index", args);
  const check: opts.Checker = new opts.Checker("index", resource, fn);
  const common = check.common(options);
  check.named(options);
  const handler: handlers.IndexingHandler = Object.freeze({ kind: "indexing" as const, ...common });
  check.registry(options).register(handler);
  return fn;
}

/**
 * Registers a startup handler: it runs once when the operator starts, before it connects to
 * the cluster and starts watching, with the operator-wide `memo` and the `settings`, which it
 * may change for the whole run. Every startup handler must succeed: errors are retried as for
 * other handlers (`errors`, `retries`, `timeout`, `backoff`); a `PermanentError` or a limit
 * reached stops the operator before it serves anything.
 *
 * @example Preparing the operator: settings and a shared client
 * ```ts
 * import * as on from "./registering.ts";
 * on.startup(function configure({ settings, memo, logger }) {
 *   settings.execution.defaultBackoffSeconds = 10;
 *   memo.startedAt = new Date().toISOString();
 *   logger.info("Ready to serve");
 * });
 * ```
 */
export function startup(fn: contexts.ActivityFn): contexts.ActivityFn;
/** `on.startup(options, fn)`: the same, with options (id, retries, timeout, …). */
export function startup(
  options: opts.ActivityOptions,
  fn: contexts.ActivityFn,
): contexts.ActivityFn;
export function startup(...args: unknown[]): unknown {
  return registerActivity("startup", "startup", args);
}

/**
 * Registers a cleanup handler: it runs once when the operator stops, after the watchers and
 * the resource handlers have stopped, before `operator()` returns. Failures are retried as for
 * startup handlers, then logged; they never change how the operator ends. Not run when the
 * startup failed, nor when the process is killed.
 *
 * @example Releasing what the startup took
 * ```ts
 * import * as on from "./registering.ts";
 * on.cleanup(async function disconnect({ memo, logger }) {
 *   await (memo.db as { close(): Promise<void> } | undefined)?.close();
 *   logger.info("Disconnected");
 * });
 * ```
 */
export function cleanup(fn: contexts.ActivityFn): contexts.ActivityFn;
/** `on.cleanup(options, fn)`: the same, with options (id, retries, timeout, …). */
export function cleanup(
  options: opts.ActivityOptions,
  fn: contexts.ActivityFn,
): contexts.ActivityFn;
export function cleanup(...args: unknown[]): unknown {
  return registerActivity("cleanup", "cleanup", args);
}

/**
 * Registers a login handler: when any is registered, the operator connects with what they
 * return (a `ConnectionInfo` or a `Connection`) instead of the kubeconfig or the pod's service
 * account. It runs after the startup handlers, and again when the API server answers 401 to
 * credentials that cannot refresh themselves (then only the credentials are renewed: the server
 * and CA stay). With several, the result of the highest `priority` wins (the first registered
 * among equals); none returning anything stops the operator.
 *
 * @example A token from a secret store
 * ```ts
 * import * as on from "./registering.ts";
 * on.login(function login_fn() {
 *   return { server: "https://127.0.0.1:6443", token: "…", caData: "-----BEGIN CERTIFICATE-----…" };
 * });
 * ```
 */
export function login(fn: contexts.LoginFn): contexts.LoginFn;
/** `on.login(options, fn)`: the same, with options (id, retries, timeout, …). */
export function login(options: opts.ActivityOptions, fn: contexts.LoginFn): contexts.LoginFn;
export function login(...args: unknown[]): unknown {
  return registerActivity("login", "authentication", args);
}

/**
 * Registers a probe handler: it runs when the liveness endpoint (`kopf run --liveness URL`) is
 * requested, at most every 10 seconds (results are reused in between), and its JSON result
 * appears in the report as `probes.<id>`. A probe that fails makes the endpoint answer 503 with
 * the error in `probeErrors.<id>`; it is not retried within a request (the next request is the
 * retry), but `timeout` bounds how long it may take.
 *
 * @example Reporting a number from the memo
 * ```ts
 * import * as on from "./registering.ts";
 * on.probe({ timeout: 5 }, function queued({ memo }) {
 *   return (memo.queue as unknown[] | undefined)?.length ?? 0;
 * });
 * ```
 */
export function probe(fn: contexts.ProbeFn): contexts.ProbeFn;
/** `on.probe(options, fn)`: the same, with options (id, timeout, errors, …). */
export function probe(options: opts.ActivityOptions, fn: contexts.ProbeFn): contexts.ProbeFn;
export function probe(...args: unknown[]): unknown {
  return registerActivity("probe", "probe", args);
}

function registerActivity(
  kind: ids.ActivityKind,
  activity: handlers.Activity,
  args: unknown[],
): unknown {
  const { options, fn } = opts.splitActivityArguments(kind, args);
  const check: opts.Checker = new opts.Checker(kind, undefined, fn);
  check.registry(options).register(check.activity(options, activity));
  return fn;
}

/** The registration functions, as `on.create(...)` etc. */
export interface On {
  /** Creation handlers: see `create`. */
  readonly create: typeof create;
  /** Update handlers: see `update`. */
  readonly update: typeof update;
  /** Deletion handlers: see `delete`. */
  readonly delete: typeof remove;
  /** Resume handlers: see `resume`. */
  readonly resume: typeof resume;
  /** Field handlers: see `field`. */
  readonly field: typeof field;
  /** Event handlers: see `event`. */
  readonly event: typeof event;
  /** Index functions: see `index`. */
  readonly index: typeof index;
  /** Startup handlers: see `startup`. */
  readonly startup: typeof startup;
  /** Cleanup handlers: see `cleanup`. */
  readonly cleanup: typeof cleanup;
  /** Login handlers: see `login`. */
  readonly login: typeof login;
  /** Probe handlers: see `probe`. */
  readonly probe: typeof probe;
  /** Daemons: see `daemon`. */
  readonly daemon: typeof spawning.daemon;
  /** Timers: see `timer`. */
  readonly timer: typeof spawning.timer;
  /** Validating admission handlers: see `validate` in admission.ts. */
  readonly validate: typeof admission.validate;
  /** Mutating admission handlers: see `mutate` in admission.ts. */
  readonly mutate: typeof admission.mutate;
  /** CRD conversion functions: see `convert` in admission.ts. */
  readonly convert: typeof admission.convert;
}

/**
 * The registration functions in one object, as Kopf's `kopf.on`.
 *
 * @example
 * ```ts
 * import { on } from "./registering.ts";
 * on.create("kopfexamples", function created() {});
 * on.delete("kopfexamples", { optional: true }, function deleted() {});
 * on.startup(function prepare({ memo }) {
 *   memo.ready = true;
 * });
 * ```
 */
export const on: On = {
  create,
  update,
  delete: remove,
  resume,
  field,
  event,
  index,
  startup,
  cleanup,
  login,
  probe,
  daemon: spawning.daemon,
  timer: spawning.timer,
  validate: admission.validate,
  mutate: admission.mutate,
  convert: admission.convert,
};

/**
 * Declares a sub-handler from inside a running changing handler. Its id is
 * `<parent id>/<id or name>`; the parent counts as done only when its sub-handlers are, and
 * is called again on each cycle until then, so declare the same sub-handlers every time.
 *
 * @example
 * ```ts
 * import * as on from "./registering.ts";
 * import { subhandler } from "./registering.ts";
 * on.create<{ tasks?: string[] }>("kopfexamples", function create_tasks({ spec }) {
 *   for (const task of spec.tasks ?? []) {
 *     subhandler(() => console.log(`Running ${task}`), { id: `task_${task}` });
 *   }
 * });
 * ```
 */
export function subhandler<Spec = Record<string, unknown>, Status = Record<string, unknown>>(
  fn: contexts.ChangingFn<Spec, Status>,
  options: opts.SubhandlerOptions<Spec, Status> = {},
): contexts.ChangingFn<Spec, Status> {
  const current = currentHandler.getStore();
  if (current === undefined || current.handler?.kind !== "changing") {
    throw new errors.RegistrationError(
      "Sub-handlers can only be declared inside a changing handler",
    );
  }
  const parent = current.handler;
  const check: opts.Checker = new opts.Checker("sub", undefined, fn, parent.id);
  const given = check.options(options);
  const common = check.common(given);
  const transition = check.transition(given, common.field);
  const isUpdate = parent.reason === "update" || (parent.reason === undefined && !parent.initial);
  if ((transition.hasOld || transition.hasNew) && !isUpdate) {
    check.fail(`"old" and "new" need an update or field parent; use "value"`);
  }
  const handler: handlers.ChangingHandler = Object.freeze({
    kind: "changing" as const,
    ...common,
    ...transition,
    reason: undefined,
    initial: false,
    deleted: false,
    requiresFinalizer: false,
    fieldNeedsChange: parent.fieldNeedsChange,
    parent: parent.id,
  });
  current.subregistry.register(handler);
  return fn;
}

function registerChanging(
  kind: "create" | "update" | "delete" | "resume" | "field",
  args: unknown[],
): unknown {
  const { resource, options, fn } = opts.splitArguments(kind, args);
  const check: opts.Checker = new opts.Checker(kind, resource, fn);
  const common = check.common(options);
  if (kind === "field" && common.field === undefined) {
    check.fail(`field handlers need a field: on.field(resource, { field: "spec.x" }, fn)`);
  }
  const transition = check.transition(options, common.field);
  const optional = check.flag(options, "optional");
  const deleted = check.flag(options, "deleted");
  const handler: handlers.ChangingHandler = Object.freeze({
    kind: "changing" as const,
    ...common,
    ...transition,
    reason: kind === "field" ? undefined : kind,
    initial: kind === "resume",
    deleted,
    requiresFinalizer: kind === "delete" && !optional,
    fieldNeedsChange: kind === "update" || kind === "field",
    parent: undefined,
  });
  check.registry(options).register(handler);
  return fn;
}

/**
 * Declares sub-handlers imperatively from inside a running changing handler: one per entry of
 * `fns`, with its key as the id (`<parent id>/<key>`). They run after the parent returns, in
 * the same cycle, with persisted progress; the parent is done only when they all are.
 *
 * @example
 * ```ts
 * import * as on from "./registering.ts";
 * import { execute } from "./registering.ts";
 * on.create("kopfexamples", async function create_fn() {
 *   await execute({ fns: { first: () => {}, second: () => ({ done: true }) } });
 * });
 * ```
 */
export function execute(
  options: { readonly fns: Readonly<Record<string, contexts.ChangingFn>> },
): Promise<void> {
  for (const [id, fn] of Object.entries(options.fns)) subhandler(fn, { id });
  return Promise.resolve();
}
