// Registries: every handler an operator declared, the handlers of one resource, and those of
// one activity. Filled by registering.ts (`on.*`, `subhandler`); read by the reactor (which
// resources to watch, which activities to run) and by processing/handling (which handlers to
// run). Holds declarations; never runs a handler.

import type * as causes from "../causes/causes.ts";
import * as bodies from "../structs/bodies.ts";
import * as references from "../structs/references.ts";
import * as admission from "./admission.ts";
import * as errors from "./errors.ts";
import * as filters from "./filters.ts";
import type * as handlers from "./handlers.ts";
import * as ids from "./ids.ts";
import * as selectors from "./selectors.ts";

interface ResourceHandlers {
  readonly changing: readonly handlers.ChangingHandler[];
  readonly watching: readonly handlers.WatchingHandler[];
  readonly indexing: readonly handlers.IndexingHandler[];
  /** The same, each function+id once (computed once: asked for on every event). */
  readonly uniqueChanging: readonly handlers.ChangingHandler[];
  readonly uniqueWatching: readonly handlers.WatchingHandler[];
  readonly uniqueIndexing: readonly handlers.IndexingHandler[];
  /** Daemons and timers; each function+id once. */
  readonly spawning: readonly handlers.AnySpawningHandler[];
  readonly uniqueSpawning: readonly handlers.AnySpawningHandler[];
}

/**
 * The handlers of an operator. `on.*` fill the default registry unless given `{ registry }`;
 * several operators in one process each get their own.
 *
 * A function registered twice under one id (say, for create and for resume) is kept twice but
 * runs once per cycle. Two different functions with one id for the same resource are an error:
 * ids name progress records, which would clash. Registration catches it when the selectors are
 * the same; `changingHandlers()`/`watchingHandlers()` catch it when two selectors turn out to
 * name the same resource (`"kopfexamples"` and `"kex"`).
 *
 * @example An operator's own registry
 * ```ts
 * import { OperatorRegistry } from "./registries.ts";
 * import * as on from "./registering.ts";
 *
 * const registry = new OperatorRegistry();
 * on.create("kopfexamples.v1.kopf.dev", { registry }, function created() {});
 * registry.selectors(); // ["kopfexamples.v1.kopf.dev"]
 * ```
 */
export class OperatorRegistry {
  readonly #changing: handlers.ChangingHandler[] = [];
  readonly #watching: handlers.WatchingHandler[] = [];
  readonly #indexing: handlers.IndexingHandler[] = [];
  readonly #spawning: handlers.AnySpawningHandler[] = [];
  readonly #activities: handlers.ActivityHandler[] = [];
  /** The webhook handlers: `on.validate`, `on.mutate`, `on.convert` (registry/admission.ts). */
  readonly admission: admission.AdmissionRegistry = new admission.AdmissionRegistry();
  readonly #cache = new Map<string, ResourceHandlers>();
  // Resource objects are long-lived (one per watcher): looking them up by identity saves
  // building the key string several times per event. Replaced whenever handlers change.
  #byObject = new WeakMap<references.Resource, ResourceHandlers>();

  /**
   * Adds a handler.
   *
   * @throws {errors.RegistrationError} when another function has the same id for the same
   * selector, or for the same activity.
   */
  register(handler: handlers.AnyHandler): void {
    if (handler.kind === "activity") {
      const clash = this.#activities.find((other) =>
        other.id === handler.id && other.fn !== handler.fn && other.activity === handler.activity
      );
      if (clash !== undefined) throw new errors.RegistrationError(clashMessage(handler));
      this.#activities.push(handler);
      return;
    }
    const list: handlers.AnyResourceHandler[] = handler.kind === "changing"
      ? this.#changing
      : handler.kind === "indexing"
      ? this.#indexing
      : handler.kind === "daemon" || handler.kind === "timer"
      ? this.#spawning
      : this.#watching;
    const clash = list.find((other) =>
      other.id === handler.id && other.fn !== handler.fn &&
      other.selector !== undefined && handler.selector !== undefined &&
      selectors.same(other.selector, handler.selector)
    );
    if (clash !== undefined) throw new errors.RegistrationError(clashMessage(handler));
    if (handler.kind === "changing") this.#changing.push(handler);
    else if (handler.kind === "indexing") this.#indexing.push(handler);
    else if (handler.kind === "daemon" || handler.kind === "timer") this.#spawning.push(handler);
    else this.#watching.push(handler);
    this.#cache.clear();
    this.#byObject = new WeakMap();
  }

  /** Every changing handler, in registration order. */
  allChangingHandlers(): readonly handlers.ChangingHandler[] {
    return [...this.#changing];
  }

  /** Every `on.event` handler, in registration order. */
  allWatchingHandlers(): readonly handlers.WatchingHandler[] {
    return [...this.#watching];
  }

  /**
   * Every index function (`on.index`), in registration order. Their ids name the indexes, one
   * per id operator-wide: functions of one id for different resources feed one index.
   */
  allIndexingHandlers(): readonly handlers.IndexingHandler[] {
    return [...this.#indexing];
  }

  /** Every activity handler (`on.startup`, `on.cleanup`, `on.login`, `on.probe`), in order. */
  allActivityHandlers(): readonly handlers.ActivityHandler[] {
    return [...this.#activities];
  }

  /** The handlers of one activity, each function+id once, in registration order. */
  activityHandlers(activity: handlers.Activity): readonly handlers.ActivityHandler[] {
    return filters.deduplicated(this.#activities.filter((h) => h.activity === activity));
  }

  /** The distinct selectors of all handlers: what discovery must resolve and the reactor watch. */
  selectors(): handlers.ResourceSelector[] {
    const result: handlers.ResourceSelector[] = [];
    const all = [...this.#changing, ...this.#watching, ...this.#indexing, ...this.#spawning];
    for (const handler of all) {
      const selector = handler.selector;
      if (selector === undefined) continue;
      if (!result.some((known) => selectors.same(known, selector))) result.push(selector);
    }
    return result;
  }

  /**
   * Whether any handler but an index function serves the resource: whether its events need
   * processing after indexing (see `indexingHandlers` for the index functions).
   */
  hasHandlers(resource: references.Resource): boolean {
    const found = this.#forResource(resource);
    return found.changing.length > 0 || found.watching.length > 0 ||
      found.spawning.length > 0;
  }

  /** Every daemon and timer (`on.daemon`, `on.timer`), in registration order. */
  allSpawningHandlers(): readonly handlers.AnySpawningHandler[] {
    return [...this.#spawning];
  }

  /**
   * The daemons and timers of a resource, each function+id once.
   *
   * @throws {errors.RegistrationError} when two functions have one id for this resource.
   */
  spawningHandlers(resource: references.Resource): readonly handlers.AnySpawningHandler[] {
    return this.#forResource(resource).uniqueSpawning;
  }

  /**
   * The daemons and timers whose filters match an object of this resource as it is now (the
   * field filters read the body), each function+id once, except those in `excluded`.
   */
  selectSpawning(
    resource: references.Resource,
    subject: filters.EventSubject,
    context: unknown,
    excluded?: ReadonlySet<handlers.HandlerId>,
  ): handlers.AnySpawningHandler[] {
    return filters.deduplicated(
      this.#forResource(resource).spawning.filter((h) =>
        !excluded?.has(h.id) && filters.matches(h, subject, context)
      ),
    );
  }

  /**
   * The changing handlers of a resource, each function+id once: the handlers that own
   * progress records on its objects.
   *
   * @throws {errors.RegistrationError} when two functions have one id for this resource.
   */
  changingHandlers(resource: references.Resource): readonly handlers.ChangingHandler[] {
    return this.#forResource(resource).uniqueChanging;
  }

  /**
   * The `on.event` handlers of a resource, each function+id once.
   *
   * @throws {errors.RegistrationError} when two functions have one id for this resource.
   */
  watchingHandlers(resource: references.Resource): readonly handlers.WatchingHandler[] {
    return this.#forResource(resource).uniqueWatching;
  }

  /**
   * The index functions of a resource, each function+id once.
   *
   * @throws {errors.RegistrationError} when two functions have one id for this resource.
   */
  indexingHandlers(resource: references.Resource): readonly handlers.IndexingHandler[] {
    return this.#forResource(resource).uniqueIndexing;
  }

  /** The index functions whose filters match an object of this resource as it is now. */
  selectIndexing(
    resource: references.Resource,
    subject: filters.EventSubject,
    context: unknown,
  ): handlers.IndexingHandler[] {
    return filters.deduplicated(
      this.#forResource(resource).indexing.filter((h) => filters.matches(h, subject, context)),
    );
  }

  /** The changing handlers a cause of this resource runs (see `filters.selectChanging`). */
  selectChanging(
    resource: references.Resource,
    cause: causes.ChangingCause,
    context: unknown,
  ): handlers.ChangingHandler[] {
    return filters.selectChanging(this.#forResource(resource).changing, cause, context);
  }

  /** The `on.event` handlers an event of this resource runs. */
  selectWatching(
    resource: references.Resource,
    subject: filters.EventSubject,
    context: unknown,
  ): handlers.WatchingHandler[] {
    return filters.selectWatching(this.#forResource(resource).watching, subject, context);
  }

  /** Whether an object of this resource needs the finalizer for its changing handlers. */
  requiresFinalizer(
    resource: references.Resource,
    cause: causes.ChangingCause,
    context: unknown,
  ): boolean {
    return filters.requiresFinalizer(this.#forResource(resource).changing, cause, context);
  }

  /** Whether any changing handler of this resource is interested in the object at all. */
  prematches(
    resource: references.Resource,
    cause: causes.ChangingCause,
    context: unknown,
  ): boolean {
    return filters.anyPrematches(this.#forResource(resource).changing, cause, context);
  }

  /**
   * The fields the handlers of a resource filter on: they join the essence (so that e.g. a
   * `status.x` field handler sees changes of `status.x`).
   */
  extraFields(resource: references.Resource): bodies.FieldPath[] {
    const found = this.#forResource(resource);
    const result: bodies.FieldPath[] = [];
    for (const handler of [...found.changing, ...found.watching, ...found.spawning]) {
      const field = handler.field;
      if (field === undefined) continue;
      if (!result.some((known) => bodies.deepEqual(known, field))) result.push(field);
    }
    return result;
  }

  #forResource(resource: references.Resource): ResourceHandlers {
    const known = this.#byObject.get(resource);
    if (known !== undefined) return known;
    const key = `${references.fullName(resource)}:${resource.preferred ?? true}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#byObject.set(resource, cached);
      return cached;
    }
    const serves = (handler: handlers.AnyResourceHandler) =>
      handler.selector !== undefined &&
      selectors.check(selectors.parse(handler.selector), resource);
    const changing = this.#changing.filter(serves);
    const watching = this.#watching.filter(serves);
    const indexing = this.#indexing.filter(serves);
    const spawning = this.#spawning.filter(serves);
    verifyUnique(changing, resource);
    verifyUnique(watching, resource);
    verifyUnique(indexing, resource);
    verifyUnique(spawning, resource);
    const found: ResourceHandlers = {
      changing,
      watching,
      indexing,
      uniqueChanging: filters.deduplicated(changing),
      uniqueWatching: filters.deduplicated(watching),
      uniqueIndexing: filters.deduplicated(indexing),
      spawning,
      uniqueSpawning: filters.deduplicated(spawning),
    };
    this.#cache.set(key, found);
    this.#byObject.set(resource, found);
    return found;
  }
}

/**
 * The sub-handlers a running changing handler declared (with `subhandler`). The handling layer
 * creates one per parent invocation, runs the parent inside `currentHandler.run(...)`, then
 * reads what was declared.
 *
 * @example
 * ```ts
 * import { SubRegistry } from "./registries.ts";
 * const subregistry = new SubRegistry();
 * subregistry.handlers(); // []
 * ```
 */
export class SubRegistry {
  readonly #handlers: handlers.ChangingHandler[] = [];

  /**
   * Adds a sub-handler.
   *
   * @throws {errors.RegistrationError} when another function already has the same id.
   */
  register(handler: handlers.ChangingHandler): void {
    if (this.#handlers.some((other) => other.id === handler.id && other.fn !== handler.fn)) {
      throw new errors.RegistrationError(clashMessage(handler));
    }
    this.#handlers.push(handler);
  }

  /** The declared sub-handlers, each function+id once, in declaration order. */
  handlers(): readonly handlers.ChangingHandler[] {
    return filters.deduplicated(this.#handlers);
  }

  /** The sub-handlers the parent's cause runs (see `filters.selectChanging`). */
  selectChanging(cause: causes.ChangingCause, context: unknown): handlers.ChangingHandler[] {
    return filters.selectChanging(this.#handlers, cause, context);
  }
}

let current: OperatorRegistry | undefined;

/**
 * The registry `on.*` use unless given `{ registry }`, and the operator serves by default.
 *
 * @example
 * ```ts
 * import { defaultRegistry } from "./registries.ts";
 * defaultRegistry().selectors();
 * ```
 */
export function defaultRegistry(): OperatorRegistry {
  current ??= new OperatorRegistry();
  return current;
}

/**
 * Replaces the default registry (e.g. one per test).
 *
 * @example
 * ```ts
 * import { OperatorRegistry, setDefaultRegistry } from "./registries.ts";
 * setDefaultRegistry(new OperatorRegistry());
 * ```
 */
export function setDefaultRegistry(registry: OperatorRegistry): void {
  current = registry;
}

/** How a handler is named in messages: `the create handler "fn" for "kopfexamples"`. */
export function describeHandler(handler: handlers.AnyHandler): string {
  const label = handlerLabel(handler);
  const name = ids.functionName(handler.fn);
  const where = handler.kind === "changing" && handler.parent !== undefined
    ? ` of "${handler.parent}"`
    : handler.kind === "activity" || handler.selector === undefined
    ? ""
    : ` for ${selectors.describe(handler.selector)}`;
  return name ? `the ${label} "${name}"${where}` : `an anonymous ${label}${where}`;
}

function handlerLabel(handler: handlers.AnyHandler): string {
  if (handler.kind === "activity") {
    return `${handler.activity === "authentication" ? "login" : handler.activity} handler`;
  }
  if (handler.kind === "watching") return "event handler";
  if (handler.kind === "indexing") return "index handler";
  if (handler.kind === "daemon" || handler.kind === "timer") return `${handler.kind} handler`;
  if (handler.parent !== undefined) return "sub-handler";
  if (handler.initial) return "resume handler";
  return `${handler.reason ?? "field"} handler`;
}

function clashMessage(handler: handlers.AnyHandler): string {
  if (ids.functionName(handler.fn) === "") {
    return `Cannot register ${describeHandler(handler)}: another handler already has the id ` +
      `"${handler.id}"; give one of them an explicit { id } or use a named function`;
  }
  return `Cannot register ${describeHandler(handler)}: the id "${handler.id}" is taken by ` +
    `another function; give one of them a different explicit { id }`;
}

function verifyUnique(
  list: readonly handlers.AnyResourceHandler[],
  resource: references.Resource,
): void {
  for (const [index, handler] of list.entries()) {
    const other = list.slice(0, index).find((h) => h.id === handler.id && h.fn !== handler.fn);
    if (other === undefined) continue;
    throw new errors.RegistrationError(
      `Cannot serve "${references.fullName(resource)}": ${describeHandler(other)} and ` +
        `${describeHandler(handler)} share the id "${handler.id}"; give one of them an ` +
        `explicit { id } or use a named function`,
    );
  }
}
