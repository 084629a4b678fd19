// Resource selectors: whether what a handler was registered for ("kopfexamples", a kind, a short
// name, `{ group, plural }`, `EVERYTHING`, a predicate) selects a discovered resource, and which
// resources a set of selectors serves. Called by the registry and the reactor. Never asks the
// cluster: discovery (in k8s/) supplies the resources.

import * as discovery from "../k8s/discovery.ts";
import type * as references from "../structs/references.ts";
import * as errors from "./errors.ts";
import * as handlers from "./handlers.ts";

/** A selector in one shape: every way of writing one, parsed and validated. */
export interface Selector {
  /** `undefined` selects any group; `""` is the core group. */
  readonly group: string | undefined;
  /** `undefined` selects the group's preferred version only (all versions for predicates). */
  readonly version: string | undefined;
  /** The kind, exactly: `KopfExample`. */
  readonly kind: string | undefined;
  /** The plural name, exactly: `kopfexamples`. */
  readonly plural: string | undefined;
  /** The singular name, exactly: `kopfexample`. */
  readonly singular: string | undefined;
  /** One of the short names: `kex`. */
  readonly shortcut: string | undefined;
  /** One of the categories: `all`. */
  readonly category: string | undefined;
  /** A name as written in a string: plural, singular, kind or short name. */
  readonly anyName: string | undefined;
  /** `EVERYTHING`: all resources except events. */
  readonly everything: boolean;
  /** A predicate over discovered resources (any version; never events). */
  readonly predicate: ((resource: references.Resource) => boolean) | undefined;
}

/** What a selector names when it can be used without discovery. */
export interface StaticReference {
  /** `""` for the core group. */
  readonly group: string;
  /** The version, e.g. `v1`. */
  readonly version: string;
  /** The name as written, taken to be the plural. */
  readonly plural: string;
}

/** Which resources a set of selectors serves, and what could not be served. */
export interface Served {
  /** The resources to serve, each once. */
  readonly resources: references.Resource[];
  /** Name-like selectors that select resources in two or more groups: none of them is served. */
  readonly ambiguous: { selector: handlers.ResourceSelector; resources: references.Resource[] }[];
  /** Selectors that select nothing (yet): a typo, or a CRD not created yet. */
  readonly unresolved: handlers.ResourceSelector[];
}

const NAME_KEYS = ["kind", "plural", "singular", "shortcut", "category"] as const;
const OBJECT_KEYS: readonly string[] = ["group", "version", ...NAME_KEYS];

/**
 * Parses and validates a selector as the user wrote it. Strings follow discovery's forms:
 * `plural`, `plural.group`, `plural.version.group`, `plural.version` (core group); the name
 * may also be a kind, singular or short name. Objects carry exactly one name.
 *
 * @throws {errors.RegistrationError} when the selector is empty, malformed or names two things.
 */
export function parse(selector: handlers.ResourceSelector): Selector {
  const base: Selector = {
    group: undefined,
    version: undefined,
    kind: undefined,
    plural: undefined,
    singular: undefined,
    shortcut: undefined,
    category: undefined,
    anyName: undefined,
    everything: false,
    predicate: undefined,
  };
  if (selector === handlers.EVERYTHING) return { ...base, everything: true };
  if (typeof selector === "function") return { ...base, predicate: selector };
  if (typeof selector === "string") {
    let spec: discovery.ResourceSpec;
    try {
      spec = discovery.parseResourceSpec(selector);
    } catch {
      throw new errors.RegistrationError(
        `Cannot select the resource "${selector}": use plural, plural.group, plural.version.group or plural.version`,
      );
    }
    return { ...base, group: spec.group, version: spec.version, anyName: spec.name };
  }
  if (typeof selector !== "object" || selector === null || Array.isArray(selector)) {
    throw new errors.RegistrationError(
      `Cannot select the resource ${
        String(selector)
      }: use a name, { group, version, plural }, EVERYTHING or a predicate`,
    );
  }
  const text = describe(selector);
  for (const [key, value] of Object.entries(selector)) {
    if (!OBJECT_KEYS.includes(key)) {
      throw new errors.RegistrationError(
        `Cannot select the resource ${text}: unknown key "${key}"; known keys are ${
          OBJECT_KEYS.join(", ")
        }`,
      );
    }
    // An empty group is the core group; an empty name would select everything by accident.
    if (typeof value !== "string" || (value === "" && key !== "group")) {
      throw new errors.RegistrationError(
        `Cannot select the resource ${text}: "${key}" must be a non-empty string`,
      );
    }
  }
  const names = NAME_KEYS.filter((key) => selector[key] !== undefined);
  if (names.length !== 1) {
    throw new errors.RegistrationError(
      names.length === 0
        ? `Cannot select the resource ${text}: name it by one of ${NAME_KEYS.join(", ")}`
        : `Cannot select the resource ${text}: it names ${
          names.join(" and ")
        }; keep exactly one of them`,
    );
  }
  return {
    ...base,
    group: selector.group,
    version: selector.version,
    kind: selector.kind,
    plural: selector.plural,
    singular: selector.singular,
    shortcut: selector.shortcut,
    category: selector.category,
  };
}

/**
 * Whether the selector selects the resource. Without a version, only the preferred version is
 * selected (predicates see every version). `EVERYTHING` and predicates never select core v1
 * `events` nor `events.k8s.io` events: handling produces events, which would loop.
 */
export function check(selector: Selector, resource: references.Resource): boolean {
  const s = selector;
  const r = resource;
  const preferred = r.preferred ?? true;
  return (s.group === undefined || s.group === r.group) &&
    (s.version === undefined ? preferred || s.predicate !== undefined : s.version === r.version) &&
    (s.kind === undefined || s.kind === r.kind) &&
    (s.plural === undefined || s.plural === r.plural) &&
    (s.singular === undefined || s.singular === r.singular) &&
    (s.category === undefined || (r.categories ?? []).includes(s.category)) &&
    (s.shortcut === undefined || (r.shortNames ?? []).includes(s.shortcut)) &&
    (s.anyName === undefined || s.anyName === r.kind || s.anyName === r.plural ||
      s.anyName === r.singular || (r.shortNames ?? []).includes(s.anyName)) &&
    (!s.everything || !isEvents(r)) &&
    (s.predicate === undefined || (s.predicate(r) && !isEvents(r)));
}

/**
 * The resources a selector selects. For names (not categories, `EVERYTHING` or predicates),
 * the core group wins when it is among them, as in kubectl: `"pods"` is `pods.v1`, not
 * `pods.v1beta1.metrics.k8s.io`.
 */
export function select(
  selector: Selector,
  resources: Iterable<references.Resource>,
): references.Resource[] {
  const found = [...resources].filter((r) => check(selector, r));
  if (!isSpecific(selector)) return found;
  const core = found.filter((r) => r.group === "");
  return core.length > 0 ? core : found;
}

/** Whether the selector names one kind of resource (so two groups matching it is ambiguous). */
export function isSpecific(selector: Selector): boolean {
  return selector.kind !== undefined || selector.plural !== undefined ||
    selector.singular !== undefined || selector.shortcut !== undefined ||
    selector.anyName !== undefined;
}

/**
 * Which resources a set of selectors serves. A name-like selector that selects resources in
 * two or more groups serves none of them (name one group to fix it), as Kopf does.
 */
export function served(
  selectors: Iterable<handlers.ResourceSelector>,
  resources: Iterable<references.Resource>,
): Served {
  const all = [...resources];
  const parsed: { raw: handlers.ResourceSelector; selector: Selector }[] = [];
  for (const raw of selectors) parsed.push({ raw, selector: parse(raw) });
  const chosen = new Set<references.Resource>();
  for (const { selector } of parsed) for (const r of select(selector, all)) chosen.add(r);
  const ambiguous: Served["ambiguous"] = [];
  for (const { raw, selector } of parsed) {
    const selected = select(selector, chosen);
    if (isSpecific(selector) && selected.length > 1) {
      ambiguous.push({ selector: raw, resources: selected });
      for (const r of selected) chosen.delete(r);
    }
  }
  const unresolved = parsed
    .filter(({ raw, selector }) =>
      !ambiguous.some((a) => a.selector === raw) && select(selector, chosen).length === 0
    )
    .map(({ raw }) => raw);
  return { resources: [...chosen], ambiguous, unresolved };
}

/**
 * The group, version and plural a selector names when it can be used without discovery:
 * `"plural.version.group"`, `"plural.version"` (core) or `{ group, version, plural }`. For the
 * string forms, the name is taken to be the plural. Anything else needs discovery.
 */
export function staticReference(selector: handlers.ResourceSelector): StaticReference | undefined {
  const s = parse(selector);
  const plural = s.plural ?? s.anyName;
  if (s.group === undefined || s.version === undefined || plural === undefined) return undefined;
  return { group: s.group, version: s.version, plural };
}

/** Whether two selectors select the same resources, as far as can be told without discovery. */
export function same(a: handlers.ResourceSelector, b: handlers.ResourceSelector): boolean {
  if (a === b) return true;
  const x = parse(a);
  const y = parse(b);
  return x.group === y.group && x.version === y.version && x.kind === y.kind &&
    x.plural === y.plural && x.singular === y.singular && x.shortcut === y.shortcut &&
    x.category === y.category && x.anyName === y.anyName && x.everything === y.everything &&
    x.predicate === y.predicate;
}

/** The selector as a user would recognise it in a message: `"kopfexamples"`, `EVERYTHING`. */
export function describe(selector: handlers.ResourceSelector): string {
  if (selector === handlers.EVERYTHING) return "EVERYTHING";
  if (typeof selector === "string") return `"${selector}"`;
  if (typeof selector === "function") {
    return selector.name ? `the predicate "${selector.name}"` : "a predicate";
  }
  if (typeof selector === "object" && selector !== null) {
    try {
      return JSON.stringify(selector);
    } catch {
      return "an object";
    }
  }
  return String(selector);
}

function isEvents(resource: references.Resource): boolean {
  return resource.plural === "events" &&
    ((resource.group === "" && resource.version === "v1") || resource.group === "events.k8s.io");
}
