// OperatorSettings: every tunable of the framework with its default, as one object passed
// down from `operator()`. Plain data and storages; no I/O. Durations carry their unit in the
// name. Defaults keep Kopf 1.44's persisted state (annotations, finalizer) for migrations.

import * as diffbase from "../persistence/diffbase.ts";
import * as progress from "../persistence/progress.ts";
import * as admission from "./admission.ts";
import * as background from "./background.ts";
import type * as networkingModule from "./networking.ts";
import * as networking from "./networking.ts";
import * as peering from "./peering.ts";
import * as posting from "./posting.ts";

/** Where the framework keeps its state on the objects. */
export interface PersistenceSettings {
  /** The finalizer that blocks deletion until delete handlers are done. */
  finalizer: string;
  /** Where handlers' progress records live. */
  progressStorage: progress.ProgressStorage;
  /** Where the last handled state (the diff-base) lives. */
  diffbaseStorage: diffbase.DiffBaseStorage;
  /**
   * After our own write, how long to wait for the watch to deliver the written version before
   * acting on what the watch shows (stale states would re-run handlers).
   */
  consistencyTimeoutSeconds: number;
}

/** How handlers run. */
export interface ExecutionSettings {
  /** Delay before retrying a handler that threw an arbitrary error, unless it sets `backoff`. */
  defaultBackoffSeconds: number;
  /**
   * Which ready handlers run per cycle: `all_at_once` (ours: one cycle, one write), or Kopf's
   * `asap` (its default: one handler per cycle), `one_by_one`, `randomized`, `shuffled`.
   */
  lifecycle: "all_at_once" | "one_by_one" | "asap" | "randomized" | "shuffled";
}

/** How objects are queued and processed. */
export interface QueueingSettings {
  /**
   * Objects processed at the same time, per watched resource and namespace; each object
   * serially. High, as Kopf's is unlimited: each object waits mostly for the API server, and a
   * burst of creations is handled as fast as the server answers (its flow control protects it).
   */
  workerLimit: number;
  /** Delays after unexpected framework errors of one object (the last one repeats). */
  errorDelaysSeconds: number[];
  /** On stop, how long running handlers may finish before they are cancelled. */
  exitTimeoutSeconds: number;
}

/** Every tunable of the operator. */
export interface OperatorSettings {
  persistence: PersistenceSettings;
  execution: ExecutionSettings;
  queueing: QueueingSettings;
  networking: networkingModule.NetworkingSettings;
  watching: networkingModule.WatchingSettings;
  /** Kubernetes Events: explicit `kopf.info()`/`warn()`/…, and object log lines at a level. */
  posting: posting.PostingSettings;
  /** Which of several instances is active: Kopf's peering objects or a Lease. */
  peering: peering.PeeringSettings;
  /** How daemons and timers are stopped (Kopf's `settings.background`). */
  background: background.BackgroundSettings;
  /** The webhook server of `on.validate`/`on.mutate`/`on.convert` (Kopf's `settings.admission`). */
  admission: admission.AdmissionSettings;
}

/**
 * The defaults: Kopf-compatible persistence (annotations under `kopf.zalando.org`, its
 * finalizer), all handlers of a cycle at once, client-go-like networking.
 *
 * @example Switching to Kopf's one-handler-per-cycle lifecycle
 * ```ts
 * import { defaultSettings } from "./operator.ts";
 * const settings = defaultSettings();
 * settings.execution.lifecycle = "asap";
 * ```
 */
export function defaultSettings(): OperatorSettings {
  return {
    persistence: {
      finalizer: "kopf.zalando.org/KopfFinalizerMarker",
      progressStorage: new progress.SmartProgressStorage(),
      diffbaseStorage: new diffbase.AnnotationsDiffBaseStorage(),
      consistencyTimeoutSeconds: 5,
    },
    execution: {
      defaultBackoffSeconds: 60,
      lifecycle: "all_at_once",
    },
    queueing: {
      workerLimit: 1000,
      errorDelaysSeconds: [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610],
      exitTimeoutSeconds: 10,
    },
    networking: networking.defaultNetworking(),
    watching: networking.defaultWatching(),
    posting: posting.defaultPosting(),
    peering: peering.defaultPeering(),
    background: background.defaultBackground(),
    admission: admission.defaultAdmission(),
  };
}
