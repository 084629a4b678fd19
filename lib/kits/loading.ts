// Imports the handler modules that `kopf run` is given, in order: files relative to the working
// directory, URLs, and module specifiers. Deno's import errors span several lines with colours
// and code frames; a failure here becomes one line naming the module, the cause and the place.

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** A module that could not be imported; the message is one line that names it. */
export class LoadError extends Error {
  /** Always `"LoadError"`. */
  override name = "LoadError";
}

/** Options of `loadModules()`. */
export interface LoadOptions {
  /** Where relative paths are resolved. @default {Deno.cwd()} */
  cwd?: string;
  /**
   * Import files under a fresh URL (a unique query), so that a file imported before runs again
   * and registers its handlers again, into the current default registry.
   * @default {false}
   */
  fresh?: boolean;
}

let imports = 0;

/**
 * Imports the paths (files or URLs: `file:`, `https:`, `jsr:`, `npm:`), then the modules
 * (specifiers: import-map names, `jsr:`, `npm:`; `./x.ts` is a path), each in order, and
 * stops at the first that fails. Returns how many were imported.
 *
 * @throws {LoadError} `Cannot load "broken.ts": SyntaxError: Expression expected (at file:///…/broken.ts:2:23)`
 *
 * @example
 * ```ts ignore
 * import { loadModules } from "./loading.ts";
 * await loadModules(["handlers.ts"], ["jsr:@acme/more-handlers"]);
 * ```
 */
export async function loadModules(
  paths: readonly string[],
  modules: readonly string[],
  options: LoadOptions = {},
): Promise<number> {
  const cwd = options.cwd ?? Deno.cwd();
  const specs = [
    ...paths.map((spec) => ({ spec, url: pathUrl(spec, cwd) })),
    ...modules.map((spec) => ({ spec, url: /^\.{0,2}\//.test(spec) ? pathUrl(spec, cwd) : spec })),
  ];
  for (const { spec, url } of specs) {
    const query = options.fresh && url.startsWith("file:") ? `?kopf-run=${++imports}` : "";
    try {
      await import(url + query);
    } catch (error) {
      const cause = describe(error);
      throw new LoadError(
        `Cannot load "${spec}": ${query ? cause.replaceAll(query, "") : cause}`,
        { cause: error },
      );
    }
  }
  return specs.length;
}

/** A URL as given (file:, https:, jsr:, npm:, …), or a path relative to `cwd`. */
function pathUrl(spec: string, cwd: string): string {
  // Two letters at least, so that a Windows drive (C:\…) is a path.
  if (/^[a-z][a-z0-9+.-]+:/i.test(spec)) return spec;
  return pathToFileURL(resolve(cwd, spec)).href;
}

/** One line from an import failure: the cause and, when known, where in the module. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return `it threw ${String(error)}`;
  // deno-lint-ignore no-control-regex
  const plain = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "");
  const lines = plain(error.message).split("\n").map((line) => line.trim()).filter(Boolean);
  let text = (lines[0] ?? error.name).replace(/\.$/, "");
  // Deno reports missing modules and syntax errors as ERR_MODULE_NOT_FOUND with the place in
  // the message; a module that throws has its own error, with the place in its stack.
  const loading = (error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND";
  if (!loading && !/^\w*Error\b/.test(text)) text = `${error.name}: ${text}`;
  const where = lines.find((line) => line.startsWith("at ")) ??
    (loading ? undefined : plain(error.stack ?? "").split("\n").map((line) => line.trim())
      .find((line) => line.startsWith("at ")));
  return where ? `${text} (${where})` : text;
}
