// Runs an operator in-process against a cluster for e2e tests: records every API request (by
// verb) and every processed event, waits for conditions without sleeping, and stops cleanly.

import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";
import * as transports from "../../lib/k8s/transport.ts";
import * as running from "../../lib/reactor/running.ts";
import type * as serving from "../../lib/reactor/serving.ts";
import type * as registries from "../../lib/registry/registries.ts";
import type * as operatorSettings from "../../lib/settings/operator.ts";

/** A request as the operator sent it, classified like the API server's audit log. */
export interface Request {
  readonly verb: string;
  readonly path: string;
  readonly status: number;
}

/** An operator running in this process. */
export interface RunningOperator {
  readonly requests: Request[];
  readonly processed: serving.ProcessedReport[];
  /** The watchers' health, as the liveness endpoint reads it. */
  readonly health: running.OperatorHealth;
  /** Writes only: create, update, patch, delete (watches and lists excluded). */
  writes(filter?: (r: Request) => boolean): string[];
  /** Resolves once `condition` holds after some processed event; fails after `ms`. */
  until(condition: () => boolean, what: string, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts an operator with this registry, serving one namespace. */
export async function startOperator(options: {
  kubeconfigPath: string;
  registry: registries.OperatorRegistry;
  namespace?: string;
  clusterwide?: boolean;
  settings?: operatorSettings.OperatorSettings;
}): Promise<RunningOperator> {
  const connection = await kubeconfig.loadKubeconfig({ kubeconfig: options.kubeconfigPath });
  const requests: Request[] = [];
  const processed: serving.ProcessedReport[] = [];
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
  };
  const stop = new AbortController();
  const health: running.OperatorHealth = new Map();
  const done = running.operator({
    health,
    registry: options.registry,
    connection,
    ...(options.clusterwide
      ? { clusterwide: true }
      : { namespaces: [options.namespace ?? "default"] }),
    ...(options.settings ? { settings: options.settings } : {}),
    signal: stop.signal,
    onResponse: (exchange: transports.Exchange) => {
      requests.push(classify(exchange));
      wake();
    },
    onProcessed: (report) => {
      processed.push(report);
      wake();
    },
  });
  let failure: unknown;
  done.catch((error) => {
    failure = error;
    wake();
  });
  return {
    requests,
    processed,
    health,
    writes: (filter = () => true) =>
      requests.filter((r) =>
        ["create", "update", "patch", "delete"].includes(r.verb.split(" ")[0]!)
      )
        .filter(filter).map((r) => r.verb),
    async until(condition, what, ms = 30_000) {
      const deadline = Date.now() + ms;
      while (!condition()) {
        if (failure) throw new Error(`The operator failed while waiting for ${what}: ${failure}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(finish, Math.min(left, 200));
          function finish() {
            clearTimeout(timer);
            waiters.delete(finish);
            resolve();
          }
          waiters.add(finish);
        });
      }
    },
    async stop() {
      stop.abort();
      await done;
    },
  };
}

/** The request with its audit-log verb (`patch merge`, `list`, `watch`, …). */
function classify(exchange: transports.Exchange): Request {
  return {
    verb: transports.verbOf(exchange),
    path: new URL(exchange.url).pathname,
    status: exchange.status,
  };
}
