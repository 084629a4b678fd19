// Typed, validating access to the mappings of a kubeconfig, and the one-line `ConfigError`s
// that name the file and the field. Private to k8s/: used by kubeconfig.ts, credentials.ts
// and exec_plugins.ts; never puts a field's value into a message unless it is a name or a path.

import * as path from "node:path";
import * as errors from "./errors.ts";

/** Where a value sits: the kubeconfig file and the field path in it (`users[0].user.token`). */
export interface Origin {
  readonly file: string;
  readonly field: string;
}

/** A one-line `ConfigError` about a kubeconfig file: `Cannot use kubeconfig "<file>": <problem>`. */
export function kubeconfigError(
  file: string,
  field: string | undefined,
  problem: string,
  cause?: unknown,
): errors.ConfigError {
  return new errors.ConfigError(`Cannot use kubeconfig "${file}": ${oneLine(problem)}`, {
    file,
    ...(field === undefined ? {} : { field }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A `ConfigError` whose problem is about the field itself: `<field> <problem>`. */
export function fieldError(origin: Origin, problem: string, cause?: unknown): errors.ConfigError {
  return kubeconfigError(origin.file, origin.field, `${origin.field} ${problem}`, cause);
}

/**
 * Typed, validating access to one mapping of a kubeconfig (a cluster, a user, an exec block).
 * Empty strings count as unset, as in client-go; a value of the wrong type is a `ConfigError`.
 */
export class Section {
  readonly file: string;
  readonly field: string;
  readonly body: Readonly<Record<string, unknown>>;

  constructor(file: string, field: string, body: Readonly<Record<string, unknown>>) {
    this.file = file;
    this.field = field;
    this.body = body;
  }

  /** The origin of one key of this section. */
  at(key: string): Origin {
    return { file: this.file, field: this.field ? `${this.field}.${key}` : key };
  }

  /** True when the key holds anything but null, an empty string, list or mapping. */
  has(key: string): boolean {
    const value = this.body[key];
    if (value === undefined || value === null || value === "") return false;
    if (Array.isArray(value)) return value.length > 0;
    return typeof value !== "object" || Object.keys(value).length > 0;
  }

  /** A string value, or undefined when unset or empty. */
  string(key: string): string | undefined {
    const value = this.body[key];
    if (value === undefined || value === null || value === "") return undefined;
    if (typeof value !== "string") throw fieldError(this.at(key), `is not a string`);
    return value;
  }

  /** A boolean value, or undefined when unset. */
  boolean(key: string): boolean | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "boolean") throw fieldError(this.at(key), `is not true or false`);
    return value;
  }

  /** A nested mapping as a section, or undefined when unset. */
  section(key: string): Section | undefined {
    const value = this.body[key];
    if (value === undefined || value === null) return undefined;
    if (!isMapping(value)) throw fieldError(this.at(key), `is not a mapping`);
    return new Section(this.file, this.at(key).field, value);
  }

  /** A list value, or an empty list when unset. */
  list(key: string): readonly unknown[] {
    const value = this.body[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw fieldError(this.at(key), `is not a list`);
    return value;
  }
}

/** True for a plain mapping (a YAML map), false for lists, scalars and null. */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Why a file could not be read, in words that hold no file content. */
export function describeReadError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "the file does not exist";
  if (error instanceof Deno.errors.NotCapable) return "Deno has no --allow-read permission for it";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  return error instanceof Error ? oneLine(error.message) : oneLine(String(error));
}

/** PEM from `<key>-data` (base64, wins) or from the file `<key>` (relative to the kubeconfig). */
export async function readPem(section: Section, key: string): Promise<string | undefined> {
  const data = section.string(`${key}-data`);
  if (data !== undefined) {
    let text: string;
    try {
      const binary = atob(data);
      text = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(binary, (c) => c.charCodeAt(0)),
      );
    } catch {
      throw fieldError(section.at(`${key}-data`), "is not valid base64");
    }
    if (!text.includes("-----BEGIN ")) {
      throw fieldError(section.at(`${key}-data`), "is not base64 of PEM");
    }
    return text;
  }
  const name = section.string(key);
  if (name === undefined) return undefined;
  const file = path.resolve(path.dirname(section.file), name);
  const text = await readFile(section.at(key), file);
  if (!text.includes("-----BEGIN ")) {
    throw fieldError(section.at(key), `"${file}" is not a PEM file`);
  }
  return text;
}

/** The text of a file a kubeconfig field names; a `ConfigError` about that field if unreadable. */
export async function readFile(origin: Origin, file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    const problem = `"${file}" cannot be read: ${describeReadError(error)}`;
    throw fieldError(origin, problem, error);
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}
