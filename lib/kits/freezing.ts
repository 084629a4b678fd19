// `kopf freeze` and `kopf resume`, as Kopf has them: write an entry of a manual peer (a person,
// not an operator) with a priority and a lifetime into peering objects, so that operators of a
// lower priority pause until it expires or `kopf resume` removes it. Used by the CLI only.

import { parseArgs } from "node:util";
import * as api from "../k8s/api.ts";
import * as discovery from "../k8s/discovery.ts";
import * as errors from "../k8s/errors.ts";
import type * as transports from "../k8s/transport.ts";
import * as peering from "../engines/peering.ts";
import * as peers from "../structs/peers.ts";
import * as references from "../structs/references.ts";
import { UsageError } from "./arguments.ts";

/** What `kopf freeze` or `kopf resume` was asked to do. */
export interface FreezeArguments {
  readonly command: "freeze" | "resume";
  /** Namespaces by name; empty with `clusterwide`. */
  readonly namespaces: string[];
  readonly clusterwide: boolean;
  /** `-i ID`: the identity of the manual peer; `user@host` by default. */
  readonly id: string | undefined;
  /** `-P NAME`: the peering object. */
  readonly peering: string;
  /** `-p N` (default 100), or 666 with `--dev`. */
  readonly priority: number;
  /** `-t SECONDS`: how long the freeze lasts (freeze only). */
  readonly lifetime: number | undefined;
  /** `-m TEXT`: why, stored in the entry (Kopf's peers ignore unknown fields). */
  readonly message: string | undefined;
  readonly context: string | undefined;
  readonly help: boolean;
}

/** The help of `kopf freeze` and `kopf resume`. */
export function freezeHelp(command: "freeze" | "resume"): string {
  const what = command === "freeze"
    ? "Pauses the operators of a lower priority that peer through NAME, for SECONDS or until\n" +
      "`kopf resume`, by writing an entry of a manual peer into the peering objects."
    : "Removes the entry that `kopf freeze` wrote, so the paused operators resume.";
  const freezeOnly = command === "freeze"
    ? `
  -t, --lifetime SECONDS   How long the freeze lasts (required)
  -p, --priority N         The freeze's priority (default 100)
      --dev                Priority 666, as kopf run --dev
  -m, --message TEXT       Why, kept in the entry`
    : "";
  return `Usage: kopf ${command} -P NAME [-n NAMESPACE... | -A] [options]

${what}

  -P, --peering NAME       The peering object (required)
  -n, --namespace NAME     A namespace whose KopfPeering NAME to use (repeatable)
  -A, --all-namespaces     Use the ClusterKopfPeering NAME instead${freezeOnly}
  -i, --id ID              The manual peer's identity (default user@host)
      --context NAME       The kubeconfig context to use
  -h, --help               Show this help`;
}

/**
 * Parses the arguments of `kopf freeze` or `kopf resume` (after the command word).
 *
 * @throws {UsageError} naming the missing or wrong option
 *
 * @example
 * ```ts
 * import { parseFreezeArgs } from "./freezing.ts";
 * const args = parseFreezeArgs("freeze", ["-P", "default", "-n", "team-a", "-t", "600"]);
 * args.priority; // 100
 * ```
 */
export function parseFreezeArgs(
  command: "freeze" | "resume",
  argv: readonly string[],
): FreezeArguments {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        peering: { type: "string", short: "P" },
        namespace: { type: "string", short: "n", multiple: true },
        "all-namespaces": { type: "boolean", short: "A" },
        id: { type: "string", short: "i" },
        context: { type: "string" },
        help: { type: "boolean", short: "h" },
        ...(command === "freeze"
          ? {
            lifetime: { type: "string", short: "t" },
            priority: { type: "string", short: "p" },
            dev: { type: "boolean" },
            message: { type: "string", short: "m" },
          }
          : {}),
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.split("\n")[0]! : String(error));
  }
  const v = values as Record<string, string | string[] | boolean | undefined>;
  const help = v.help === true;
  const namespaces = (v.namespace as string[] | undefined) ?? [];
  const clusterwide = v["all-namespaces"] === true;
  const result = {
    command,
    namespaces,
    clusterwide,
    id: v.id as string | undefined,
    peering: (v.peering as string | undefined) ?? "",
    priority: 100,
    lifetime: undefined as number | undefined,
    message: v.message as string | undefined,
    context: v.context as string | undefined,
    help,
  };
  if (help) return result;
  if (!result.peering) throw new UsageError("The peering object is required: give -P NAME");
  if (clusterwide && namespaces.length) {
    throw new UsageError("Either -n/--namespace or -A/--all-namespaces can be used, not both");
  }
  if (!clusterwide && namespaces.length === 0) {
    throw new UsageError("Say where: -n NAMESPACE (repeatable) or -A for the cluster-wide peering");
  }
  if (command === "freeze") {
    const priority = v.priority as string | undefined;
    if (priority !== undefined && !/^-?\d+$/.test(priority)) {
      throw new UsageError(`The priority must be an integer, not "${priority}"`);
    }
    result.priority = v.dev === true ? 666 : priority !== undefined ? Number(priority) : 100;
    const lifetime = v.lifetime as string | undefined;
    if (lifetime === undefined) {
      throw new UsageError("How long to freeze is required: give -t SECONDS");
    }
    if (!/^\d+$/.test(lifetime) || Number(lifetime) <= 0) {
      throw new UsageError(`The lifetime must be a positive number of seconds, not "${lifetime}"`);
    }
    result.lifetime = Number(lifetime);
  }
  return result;
}

/** A failure of freeze or resume that ends the command with exit code 1. */
export class FreezeError extends Error {
  override name = "FreezeError";
}

/**
 * Writes (freeze) or removes (resume) the manual peer's entry in every addressed peering object;
 * returns one line per object saying what was done.
 *
 * @throws {FreezeError} when the peering resource is not served or an object does not exist
 *
 * @example
 * ```ts ignore
 * const lines = await freeze(parseFreezeArgs("freeze", ["-P", "default", "-A", "-t", "600"]), transport);
 * ```
 */
export async function freeze(
  args: FreezeArguments,
  transport: transports.Transport,
  options: { identity?: string; now?: number } = {},
): Promise<string[]> {
  const served = await new discovery.Discovery(transport).resources();
  const resource = peering.PEERING_RESOURCES.map((wanted) =>
    served.find((r) =>
      r.group === wanted.group && r.plural === wanted.plural && r.version === wanted.version &&
      r.namespaced === !args.clusterwide
    )
  ).find((r) => r !== undefined);
  const kind = args.clusterwide ? "ClusterKopfPeering" : "KopfPeering";
  if (!resource) {
    throw new FreezeError(
      `The cluster does not serve ${kind} (kopf.dev/v1): apply examples/peering.yaml first`,
    );
  }
  const identity = args.id ?? options.identity ?? peering.detectIdentity({ manual: true });
  const now = options.now ?? Date.now();
  const entry = args.command === "freeze"
    ? {
      ...peers.entryOf(args.priority, args.lifetime!, now),
      ...(args.message ? { message: args.message } : {}),
    }
    : null;
  const lines: string[] = [];
  for (const namespace of args.clusterwide ? [undefined] : args.namespaces) {
    const where = `the peering "${args.peering}" (${references.fullName(resource)})` +
      (namespace ? ` in namespace "${namespace}"` : "");
    try {
      await api.patchObject(transport, resource, args.peering, {
        status: { [identity]: entry },
      }, { namespace, type: "merge" });
    } catch (error) {
      if (error instanceof errors.ApiNotFoundError) {
        throw new FreezeError(
          `${where[0]!.toUpperCase()}${where.slice(1)} does not exist: create it first`,
        );
      }
      throw error;
    }
    lines.push(
      args.command === "freeze"
        ? `Frozen ${where} as ${identity} (priority ${args.priority}) for ${args.lifetime} s`
        : `Resumed ${where}: removed ${identity}`,
    );
  }
  return lines;
}
