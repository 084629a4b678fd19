// LogTape setup for the framework and the CLI: Kopf's `plain`, `full` and `json` formats, the
// `[namespace/name] ` prefix of object messages, and the per-object loggers handlers get.
// Called by the CLI and the runtime; it configures the "kopf" categories only (never the
// root, never the application's own loggers) and never sees tokens or keys.

import type { Logger, LogLevel, LogRecord, Sink, TextFormatter } from "@logtape/logtape";
import {
  compareLogLevel,
  configure,
  getConfig,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  reset,
} from "@logtape/logtape";
import type * as postingSettings from "../settings/posting.ts";
import * as references from "../structs/references.ts";

/** Kopf's `--log-format`: the message only, with time, logger and level, or JSON lines. */
export type LogFormat = "plain" | "full" | "json";

/** Kopf's `-d`/`-v` (debug), default (info), `-q` (warning), and errors only. */
export type LoggingLevel = "debug" | "info" | "warning" | "error";

/** How the framework's messages are formatted. */
export interface FormatOptions {
  /** @default {"full"} */
  format?: LogFormat;
  /** Put `[namespace/name] ` before object messages. @default {true, false for "json"} */
  prefix?: boolean;
  /** The JSON key of the object reference (Kopf's `--log-refkey`). @default {"object"} */
  refkey?: string;
}

/** How `configureLogging()` sets LogTape up. */
export interface LoggingOptions extends FormatOptions {
  /** The lowest level printed. @default {"info"} */
  level?: LoggingLevel;
  /** The posting settings: their `level` decides which object messages reach `postingSink`. */
  posting?: postingSettings.PostingSettings;
  /**
   * The sink that turns object messages into Events (`postingSink()` of `engines/posting.ts`);
   * attached only if `posting.enabled` and `posting.loggers` are on when this is called.
   */
  postingSink?: Sink;
  /** More sinks for every "kopf" message at `level`, by name. */
  sinks?: Record<string, Sink>;
  /** Where formatted lines go, without their line end. @default {one line to stderr} */
  output?: (line: string) => void;
}

// The property that carries the object's reference; `postingSink()` reads it too.
const OBJECT_PROPERTY = "k8s";

// Keys the JSON lines put first; properties of the same name are renamed so as not to hide them.
const JSON_RESERVED = ["@timestamp", "level", "message", "logger"];

let ourConfig: ReturnType<typeof getConfig> = null;

/**
 * Configures LogTape for the "kopf" categories: one line per message to stderr in the chosen
 * format, and the object messages at or above the posting level to the posting sink.
 * Calling it again replaces the previous setup. An application that configured LogTape
 * itself keeps its setup: then this refuses, and `makeFormatter()` builds the same output.
 *
 * @example Kopf's default output, then JSON lines for a log collector
 * ```ts
 * import { configureLogging, resetLogging } from "./logging.ts";
 *
 * await configureLogging({ level: "info", format: "full" });
 * await configureLogging({ level: "debug", format: "json", prefix: false });
 * await resetLogging();
 * ```
 */
export async function configureLogging(options: LoggingOptions = {}): Promise<void> {
  const current = getConfig();
  if (current !== null && current !== ourConfig) {
    throw new Error(
      "Cannot configure logging: LogTape is already configured by the application; " +
        'add the "kopf" category to that configuration, with makeFormatter() for the format',
    );
  }
  const level = options.level ?? "info";
  const formatter = makeFormatter(options);
  const output = options.output ?? ((line: string) => console.error(line));
  const extra = options.sinks ?? {};
  const sinks: Record<string, Sink> = {
    ...extra,
    "kopf-console": (record) => output(formatter(record).replace(/\r?\n$/, "")),
  };
  const loggers: {
    category: string[];
    sinks: string[];
    lowestLevel: LogLevel;
  }[] = [
    { category: ["kopf"], sinks: ["kopf-console", ...Object.keys(extra)], lowestLevel: level },
    // LogTape's own troubles (a failing sink); this also silences its greeting at info level.
    { category: ["logtape", "meta"], sinks: ["kopf-console"], lowestLevel: "warning" },
  ];
  const posting = options.posting;
  if (options.postingSink && posting?.enabled && posting.loggers) {
    sinks["kopf-posting"] = options.postingSink;
    // The parent's level still applies to the printed lines; this one only to the posting.
    loggers.push({
      category: ["kopf", "objects"],
      sinks: ["kopf-posting"],
      lowestLevel: compareLogLevel(posting.level, level) < 0 ? posting.level : level,
    });
  }
  const config = { sinks, loggers, reset: true };
  await configure(config);
  ourConfig = config as ReturnType<typeof getConfig>;
}

/**
 * Undoes `configureLogging()` (for tests); leaves an application's own setup alone.
 *
 * @example In a test
 * ```ts
 * import { configureLogging, resetLogging } from "./logging.ts";
 *
 * const lines: string[] = [];
 * await configureLogging({ format: "plain", output: (line) => lines.push(line) });
 * try {
 *   // … code under test logs …
 * } finally {
 *   await resetLogging();
 * }
 * ```
 */
export async function resetLogging(): Promise<void> {
  if (ourConfig !== null && getConfig() === ourConfig) await reset();
  ourConfig = null;
}

/**
 * The logger for messages about one object: category `["kopf", "objects"]`, carrying the
 * object's identity (apiVersion, kind, name, namespace, uid) for the prefix, the JSON
 * reference, and the Events. The identity is copied: later changes of the body do not show.
 *
 * @example A handler's logger
 * ```ts
 * import { objectLogger } from "./logging.ts";
 *
 * const resource = { group: "kopf.dev", version: "v1", plural: "kopfexamples", kind: "KopfExample" };
 * const body = { metadata: { name: "kopf-example-1", namespace: "default", uid: "1a2b" } };
 * const logger = objectLogger(resource, body);
 * // Printed as "[default/kopf-example-1] Creating the database" once logging is configured.
 * logger.info("Creating the database");
 * ```
 */
export function objectLogger(
  resource: Pick<references.Resource, "group" | "version" | "kind">,
  body: {
    readonly apiVersion?: string;
    readonly kind?: string;
    readonly metadata?: {
      readonly name?: string;
      readonly namespace?: string;
      readonly uid?: string;
    };
  },
): Logger {
  return getLogger(["kopf", "objects"]).with({ [OBJECT_PROPERTY]: identityOf(resource, body) });
}

function identityOf(
  resource: Parameters<typeof objectLogger>[0],
  body: Parameters<typeof objectLogger>[1],
): Record<string, string> {
  const identity: Record<string, string> = {};
  const fields: [string, unknown][] = [
    ["apiVersion", body.apiVersion || references.apiVersion(resource)],
    ["kind", body.kind || resource.kind],
    ["name", body.metadata?.name],
    ["namespace", body.metadata?.namespace],
    ["uid", body.metadata?.uid],
  ];
  for (const [key, value] of fields) {
    if (typeof value === "string" && value) identity[key] = value;
  }
  return identity;
}

/**
 * The logger of index functions for one object: printed with the object's prefix as
 * `objectLogger()`'s, but in the category `["kopf", "indexing"]`, whose messages never become
 * Events (Kopf's terse logger): indexing writes nothing to the API, not even its errors.
 *
 * @example
 * ```ts
 * import { indexingLogger } from "./logging.ts";
 * const resource = { group: "", version: "v1", kind: "Pod" };
 * indexingLogger(resource, { metadata: { name: "web-1", namespace: "default" } }).debug("Indexed");
 * ```
 */
export function indexingLogger(
  resource: Parameters<typeof objectLogger>[0],
  body: Parameters<typeof objectLogger>[1],
): Logger {
  return getLogger(["kopf", "indexing"]).with({ [OBJECT_PROPERTY]: identityOf(resource, body) });
}

/**
 * The logger of admission and conversion handlers for one object: printed with the object's
 * prefix, in the category `["kopf", "admission"]`, whose messages never become Events (the
 * object may not exist yet, as Kopf's local object logger).
 *
 * @example
 * ```ts
 * import { admissionLogger } from "./logging.ts";
 * const resource = { group: "kopf.dev", version: "v1", kind: "KopfExample" };
 * admissionLogger(resource, { metadata: { name: "kex-1", namespace: "default" } }).info("Checked");
 * ```
 */
export function admissionLogger(
  resource: Parameters<typeof objectLogger>[0],
  body: Parameters<typeof objectLogger>[1],
): Logger {
  return getLogger(["kopf", "admission"]).with({ [OBJECT_PROPERTY]: identityOf(resource, body) });
}

/**
 * A LogTape text formatter with Kopf's formats, for applications that configure LogTape
 * themselves: `plain` is the message, `full` is `[time] logger [LEVEL] message` (UTC), `json`
 * is one JSON object per line with the properties flattened and the object under `refkey`.
 * An `error` property that is an `Error` adds its stack to error lines of the text formats.
 *
 * @example An application's own LogTape setup, with Kopf's lines in Kopf's full format
 * ```ts
 * import { configure, getConsoleSink, reset } from "@logtape/logtape";
 * import { makeFormatter } from "./logging.ts";
 *
 * // [2026-05-01 10:00:00.000] kopf.objects         [INFO    ] [default/example] Created
 * const kopfConsole = getConsoleSink({ formatter: makeFormatter({ format: "full" }) });
 * await configure({
 *   sinks: { kopf: kopfConsole, app: getConsoleSink() },
 *   loggers: [
 *     { category: ["kopf"], sinks: ["kopf"], lowestLevel: "info" },
 *     { category: ["my-app"], sinks: ["app"], lowestLevel: "debug" },
 *     { category: ["logtape", "meta"], sinks: ["app"], lowestLevel: "warning" },
 *   ],
 * });
 * await reset();
 * ```
 */
export function makeFormatter(options: FormatOptions = {}): TextFormatter {
  const format = options.format ?? "full";
  const prefix = options.prefix ?? format !== "json";
  const refkey = options.refkey ?? "object";
  if (format === "json") {
    const json = getJsonLinesFormatter({ properties: "flatten" });
    return (record) => json(jsonRecord(prepare(record, prefix), refkey));
  }
  const text = getTextFormatter({
    timestamp: "date-time",
    level: "FULL",
    category: ".",
    value: "bare",
    format: format === "plain"
      ? ({ message, record }) => `${message}${stackOf(record)}`
      : ({ timestamp, category, level, message, record }) =>
        `[${timestamp}] ${fit(category, 20)} [${fit(level, 8)}] ${message}${stackOf(record)}`,
  });
  return (record) => text(prepare(record, prefix));
}

/** The record with its message fixed up for output: literal braces kept, prefix added. */
function prepare(record: LogRecord, prefix: boolean): LogRecord {
  let message: readonly unknown[] = record.message;
  // LogTape reads "{…}" as placeholders even in pre-formatted messages (error texts, JSON);
  // when none of them was filled, the message was not a template: show it as written.
  if (
    typeof record.rawMessage === "string" && message.length > 1 &&
    message.every((part, i) => i % 2 === 0 || part === undefined)
  ) {
    message = [record.rawMessage];
  }
  // An error in the message reads as "TypeError: boom"; its stack goes after error lines.
  if (message.some((part, i) => i % 2 === 1 && part instanceof Error)) {
    message = message.map((part, i) => i % 2 === 1 && part instanceof Error ? String(part) : part);
  }
  const ref = record.properties[OBJECT_PROPERTY];
  if (prefix && isRecord(ref)) {
    const [first, ...rest] = message;
    message = [`${prefixOf(ref)}${first ?? ""}`, ...rest];
  }
  return { ...record, message };
}

/** `[namespace/name] `, or `[name] ` for cluster-scoped objects, as Kopf prefixes. */
function prefixOf(ref: Record<string, unknown>): string {
  const name = typeof ref.name === "string" ? ref.name : "";
  const namespace = typeof ref.namespace === "string" ? ref.namespace : "";
  return namespace ? `[${namespace}/${name}] ` : `[${name}] `;
}

/** The record for JSON lines: the message as one string (values bare, as text shows them). */
function jsonRecord(record: LogRecord, refkey: string): LogRecord {
  const text = record.message.map((part, i) => i % 2 === 0 ? String(part) : bare(part)).join("");
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.properties)) {
    const target = key === OBJECT_PROPERTY ? refkey : key;
    properties[JSON_RESERVED.includes(target) ? `_${target}` : target] = value;
  }
  return { ...record, message: [text], properties };
}

function bare(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value); // cycles, bigints
  }
}

/** The stack of the `error` property, for error lines only (as Kopf's `logger.exception()`). */
function stackOf(record: LogRecord): string {
  if (compareLogLevel(record.level, "error") < 0) return "";
  const error = record.properties.error;
  return error instanceof Error && error.stack ? `\n${error.stack}` : "";
}

/** Pads or cuts to exactly `width` characters, as Python's `%-20.20s`. */
function fit(text: string, width: number): string {
  return text.slice(0, width).padEnd(width);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
