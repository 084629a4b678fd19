/**
 * Kopf for Deno: write Kubernetes operators as a few typed handler functions.
 *
 * Register handlers with `on.create`, `on.update`, `on.delete`, `on.resume`, `on.field` and
 * `on.event`, background work per object with `on.daemon` and `on.timer` (also `daemon` and
 * `timer`), and operator-wide activities with `on.startup`, `on.cleanup`, `on.login` and
 * `on.probe`, admission and conversion webhooks with `on.validate`, `on.mutate` and
 * `on.convert`; throw `TemporaryError` to retry later or `PermanentError` to give up; start it
 * with `run()` (or `operator()` to embed it). Progress, the last handled state and the
 * finalizer are kept on the objects in Kopf 1.44's format. `on.index` (or `index`) keeps
 * in-memory indexes of objects that every handler gets as context fields.
 *
 * @example A minimal operator's handlers
 * ```ts
 * import * as kopf from "./mod.ts";
 *
 * interface KopfExampleSpec { field?: string }
 *
 * kopf.on.create<KopfExampleSpec>("kopfexamples.v1.kopf.dev", function create_fn({ spec, name, logger }) {
 *   logger.info(`Creating ${name} with ${spec.field}`);
 *   return { message: "hello" }; // merged into status.create_fn
 * });
 * ```
 *
 * @module
 */

export { execute, on, subhandler } from "./lib/registry/registering.ts";
// `kopf.index(...)`, as Kopf spells it besides `kopf.on.index`.
export { index } from "./lib/registry/registering.ts";
// `kopf.daemon(...)` and `kopf.timer(...)`, as Kopf spells them besides `kopf.on.daemon/timer`.
export { daemon, timer } from "./lib/registry/spawning.ts";
export type { DaemonOptions, SpawningOptions, TimerOptions } from "./lib/registry/spawning.ts";
export { eventSink, operator, OperatorStopped, run } from "./lib/reactor/running.ts";
export type { OperatorHealth, OperatorOptions, RunOptions } from "./lib/reactor/running.ts";
export { event, exception, info, warn } from "./lib/engines/posting.ts";
export type {
  EventPostOptions,
  ExceptionPostOptions,
  InfoPostOptions,
  ObjectBodies,
} from "./lib/engines/posting.ts";
export { configureLogging } from "./lib/engines/logging.ts";
export type { LogFormat, LoggingLevel, LoggingOptions } from "./lib/engines/logging.ts";
export {
  adjustNamespace,
  adopt,
  appendOwnerReference,
  buildOwnerReference,
  harmonizeNaming,
  label,
  removeOwnerReference,
} from "./lib/kits/hierarchies.ts";
export type { OwnerReference } from "./lib/kits/hierarchies.ts";
export type {
  ActivityOptions,
  CreateOptions,
  DeleteOptions,
  EventOptions,
  FieldOptions,
  IndexOptions,
  On,
  ResumeOptions,
  SubhandlerOptions,
  UpdateOptions,
} from "./lib/registry/registering.ts";
export { ABSENT, EVERYTHING, PRESENT } from "./lib/registry/handlers.ts";
export type {
  Activity,
  ErrorsMode,
  HandlerId,
  Reason,
  ResourceSelector,
} from "./lib/registry/handlers.ts";
export type {
  ActivityContext,
  ActivityFn,
  Body,
  ChangingContext,
  ChangingFn,
  ConnectionInfo,
  DaemonContext,
  DaemonFn,
  DaemonStopped,
  EventContext,
  EventFn,
  HandlerFnOf,
  IndexFn,
  IndexingContext,
  LoginFn,
  LoginResult,
  Memo,
  Meta,
  ProbeFn,
  RawEvent,
  ResourceContext,
  SpawningContext,
  StoppingReason,
  TimerContext,
  TimerFn,
} from "./lib/registry/contexts.ts";
export { ActivityError } from "./lib/handling/activities.ts";
export { AdmissionError } from "./lib/engines/admission.ts";
export type {
  AdmissionContext,
  AdmissionFn,
  AdmissionOptions,
  ConversionContext,
  ConversionFn,
  ConversionOptions,
  Operation,
  UserInfo,
  WebhookKind,
} from "./lib/registry/admission.ts";
export { crdConversionPatch } from "./lib/engines/configurations.ts";
export type { ClientConfig } from "./lib/engines/configurations.ts";
export { loginWithKubeconfig, loginWithServiceAccount } from "./lib/handling/logins.ts";
export type {
  Authenticator,
  ClientCertificate,
  Connection,
  Credentials,
} from "./lib/k8s/connections.ts";
export type { KubeconfigOptions } from "./lib/k8s/kubeconfig.ts";
export type { InClusterOptions } from "./lib/k8s/incluster.ts";
export {
  defaultRegistry,
  OperatorRegistry,
  setDefaultRegistry,
} from "./lib/registry/registries.ts";
export { RegistrationError } from "./lib/registry/errors.ts";
export {
  HandlerRetriesError,
  HandlerTimeoutError,
  PermanentError,
  TemporaryError,
} from "./lib/handling/errors.ts";
export { Patch } from "./lib/structs/patches.ts";
export type { Index, Indexes, Store } from "./lib/structs/indexes.ts";
export { OperatorIndexes } from "./lib/engines/indexing.ts";
export type { PatchFn } from "./lib/structs/patches.ts";
export type { Diff, DiffItem, DiffOperation } from "./lib/structs/diffs.ts";
export type { Resource } from "./lib/structs/references.ts";
export { defaultSettings } from "./lib/settings/operator.ts";
export type {
  ExecutionSettings,
  OperatorSettings,
  PersistenceSettings,
  QueueingSettings,
} from "./lib/settings/operator.ts";
export type { PostingSettings } from "./lib/settings/posting.ts";
export type { BackgroundSettings } from "./lib/settings/background.ts";
export type { AdmissionSettings, WebhookService } from "./lib/settings/admission.ts";
export type { NetworkingSettings, WatchingSettings } from "./lib/settings/networking.ts";
export type { LeaseSettings, PeeringMode, PeeringSettings } from "./lib/settings/peering.ts";
export { newReport as newPeeringReport } from "./lib/reactor/coordinating.ts";
export type { PeeringReport } from "./lib/reactor/coordinating.ts";
export type { PeeringStatus } from "./lib/engines/peering.ts";
export { OperatorMetrics } from "./lib/structs/metrics.ts";
export type { LeaseStatus } from "./lib/engines/leases.ts";
export {
  AnnotationsProgressStorage,
  MultiProgressStorage,
  SmartProgressStorage,
  StatusProgressStorage,
} from "./lib/persistence/progress.ts";
export type { ProgressRecord, ProgressStorage } from "./lib/persistence/progress.ts";
export {
  AnnotationsDiffBaseStorage,
  MultiDiffBaseStorage,
  StatusDiffBaseStorage,
} from "./lib/persistence/diffbase.ts";
export type { DiffBaseStorage, Essence } from "./lib/persistence/diffbase.ts";
export {
  ApiClientError,
  ApiConflictError,
  ApiError,
  ApiForbiddenError,
  ApiGoneError,
  ApiInvalidError,
  ApiNotFoundError,
  ApiServerError,
  ApiTooManyRequestsError,
  ApiUnauthorizedError,
  ConfigError,
  CredentialsError,
  KubernetesError,
  TransportError,
} from "./lib/k8s/errors.ts";
export type { Status, StatusCause, StatusDetails } from "./lib/k8s/errors.ts";

/**
 * The version of this package.
 *
 * @example
 * ```ts
 * import { VERSION } from "./mod.ts";
 * console.log(`kopf ${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";
