// Observes what to serve while the operator runs: which resources the handlers select (CRDs
// appearing and disappearing trigger a rescan of discovery), and which namespaces match the
// operator's patterns (namespaces appearing and disappearing). Reports sets; starts nothing.

import { getLogger } from "@logtape/logtape";
import type * as clocks from "../async/clock.ts";
import * as signals from "../async/signals.ts";
import type * as api from "../k8s/api.ts";
import type * as discovery from "../k8s/discovery.ts";
import * as errors from "../k8s/errors.ts";
import type * as transports from "../k8s/transport.ts";
import * as watching from "../k8s/watching.ts";
import * as selectors from "../registry/selectors.ts";
import type * as registries from "../registry/registries.ts";
import type * as settingsModule from "../settings/networking.ts";
import * as namespaces from "../structs/namespaces.ts";
import * as references from "../structs/references.ts";

const log = getLogger(["kopf", "reactor"]);

const CRDS: references.Resource = {
  group: "apiextensions.k8s.io",
  version: "v1",
  plural: "customresourcedefinitions",
  kind: "CustomResourceDefinition",
  namespaced: false,
};

const NAMESPACES: references.Resource = {
  group: "",
  version: "v1",
  plural: "namespaces",
  kind: "Namespace",
  namespaced: false,
};

/**
 * The resources the registry's handlers select among the served ones. Warns about ambiguous and
 * not-yet-served selectors once each: `warned` remembers them across rescans.
 */
export async function servedResources(
  finder: discovery.Discovery,
  registry: registries.OperatorRegistry,
  signal?: AbortSignal,
  warned: Set<string> = new Set(),
): Promise<references.Resource[]> {
  const all = await finder.resources(signal);
  const found = selectors.served(registry.selectors(), all);
  const now = new Set<string>();
  const warn = (key: string, message: string) => {
    now.add(key);
    if (!warned.has(key)) log.warning(message);
  };
  for (const { selector, resources } of found.ambiguous) {
    warn(
      `ambiguous ${selectors.describe(selector)}`,
      `Cannot serve ${selectors.describe(selector)}: it is ambiguous between ${
        resources.map(references.fullName).join(", ")
      }; name the group`,
    );
  }
  for (const selector of found.unresolved) {
    warn(
      `unresolved ${selectors.describe(selector)}`,
      `Cannot serve ${
        selectors.describe(selector)
      } yet: the cluster does not serve it; waiting for its CRD`,
    );
  }
  warned.clear();
  for (const key of now) warned.add(key);
  return found.resources;
}

/**
 * Calls `onChange` whenever a CustomResourceDefinition appears, changes or goes (after the
 * initial listing), so the caller rescans discovery. Without RBAC to watch CRDs it logs once
 * and keeps the initial set.
 */
export async function observeCrds(
  transport: transports.Transport,
  onChange: () => void,
  options: { signal: AbortSignal; settings: settingsModule.WatchingSettings },
): Promise<void> {
  let synced = false;
  for await (
    const batch of watching.watchBatches(transport, CRDS, {
      signal: options.signal,
      settings: options.settings,
    })
  ) {
    let changed = false;
    for (const event of batch) {
      if (event.type === "SYNCED") synced = true;
      else if (event.type === "ERROR") {
        if (event.error instanceof errors.ApiForbiddenError) {
          log.warning(
            "Cannot watch CustomResourceDefinitions (forbidden): resources appearing later are not served",
          );
          return;
        }
      } else if (synced) changed = true;
    }
    if (changed) onChange();
  }
}

/**
 * Keeps the set of namespaces that match the patterns and calls `onChange` with it whenever it
 * changes. Without RBAC to list namespaces, it falls back to the exact names among the
 * patterns (globs cannot be served then) and returns.
 */
export async function observeNamespaces(
  transport: transports.Transport,
  patterns: readonly namespaces.NamespacePattern[],
  onChange: (names: ReadonlySet<string>) => void,
  options: { signal: AbortSignal; settings: settingsModule.WatchingSettings },
): Promise<void> {
  const current = new Set<string>();
  let synced = false;
  for await (
    const batch of watching.watchBatches<api.KubernetesObject>(transport, NAMESPACES, {
      signal: options.signal,
      settings: options.settings,
    })
  ) {
    let changed = false;
    for (const event of batch) {
      if (event.type === "SYNCED") {
        synced = true;
        changed = true;
        continue;
      }
      if (event.type === "ERROR") {
        if (event.error instanceof errors.ApiForbiddenError && !synced) {
          const exact = namespaces.exactNames(patterns);
          log.warning(
            `Cannot list namespaces (forbidden): serving only the exact names ${
              exact.length ? exact.map((n) => `"${n}"`).join(", ") : "(none)"
            }`,
          );
          onChange(new Set(exact));
          return;
        }
        continue;
      }
      const name = event.object.metadata?.name ?? "";
      // A terminating namespace stays served: its objects may wait for our finalizers.
      const gone = event.type === "DELETED";
      const matches = !gone && patterns.some((p) => namespaces.matchNamespace(name, p));
      if (matches && !current.has(name)) {
        current.add(name);
        changed = true;
      } else if (!matches && current.delete(name)) {
        changed = true;
      }
    }
    if (changed && synced) onChange(new Set(current));
  }
}

/**
 * Runs `scan` after each CRD change, one scan at a time, and again a few times afterwards:
 * the API server's discovery lags its CRDs (both when they appear and when they go), so the
 * scan made right at the event may still see the old set, and no later event may come to fix
 * it. A scan never overlaps another, so an older result cannot overwrite a newer one.
 */
export function settlingRescans(
  scan: () => Promise<void>,
  options: { clock: clocks.Clock; signal: AbortSignal; settleMs?: readonly number[] },
): () => void {
  const settleMs = options.settleMs ?? [1_000, 3_000, 10_000];
  let pending = false;
  let running: Promise<void> | undefined;
  let series: AbortController | undefined;

  const drain = async () => {
    while (pending && !options.signal.aborted) {
      pending = false;
      try {
        await scan();
      } catch (error) {
        if (!options.signal.aborted) {
          log.warning(`Rescanning the served resources failed: ${error}`);
        }
      }
    }
    running = undefined;
  };
  const request = () => {
    pending = true;
    running ??= drain();
  };
  return () => {
    series?.abort();
    const current = new AbortController();
    series = current;
    const linked = signals.linkedSignal([options.signal, current.signal]);
    request();
    (async () => {
      let slept = 0;
      for (const at of settleMs) {
        await options.clock.sleep(at - slept, linked.signal);
        slept = at;
        request();
      }
    })().catch(() => {}).finally(() => linked.dispose()); // ended, or aborted by a change or stop
  };
}
