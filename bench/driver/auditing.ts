// Reads kube-apiserver's audit log to count the API requests each operator made, by verb and
// resource. The log is followed by byte offset; a marker request (a GET of a namespace that
// does not exist, with a unique name) tells where "everything up to now" ends, so reading waits
// for a condition, not for a guessed flush time. Called by the scenarios after each operator
// instance stopped.

import type * as transports from "../../lib/k8s/transport.ts";

const MARKER_TIMEOUT_MS = 30_000;
const POLL_MS = 50;

/** One audited request, reduced to what the counts need. */
export interface AuditRecord {
  readonly userAgent: string;
  /** get, list, watch, create, update, patch, delete, deletecollection. */
  readonly verb: string;
  /** `benchobjects`, `benchobjects/status`, `events`, or the URI for non-resource requests. */
  readonly resource: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  /** requestReceivedTimestamp, epoch milliseconds. */
  readonly receivedAt: number;
}

interface RawEvent {
  verb?: string;
  userAgent?: string;
  requestURI?: string;
  requestReceivedTimestamp?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
}

/** The audit log of one control plane, read in slices between markers. */
export class AuditLog {
  #offset = 0;
  readonly #decoder = new TextDecoder();

  constructor(readonly path: string, readonly transport: transports.Transport) {}

  /** Skips everything logged so far. */
  async skip(): Promise<void> {
    await this.collect();
  }

  /** Everything logged since the last `skip()` or `collect()`, up to a fresh marker. */
  async collect(): Promise<AuditRecord[]> {
    const marker = `kopf-bench-marker-${crypto.randomUUID().slice(0, 12)}`;
    await this.transport.request("GET", `/api/v1/namespaces/${marker}`, { retries: 0 }).catch(
      () => {}, // 404, as intended: the request is what gets audited
    );
    const records: AuditRecord[] = [];
    const deadline = Date.now() + MARKER_TIMEOUT_MS;
    using file = await Deno.open(this.path, { read: true });
    await file.seek(this.#offset, Deno.SeekMode.Start);
    const buffer = new Uint8Array(1 << 20);
    let pending = new Uint8Array(0); // the start of a line not yet complete
    for (;;) {
      const n = await file.read(buffer);
      if (n === null || n === 0) {
        if (Date.now() > deadline) {
          throw new Error(`The audit marker "${marker}" did not appear in "${this.path}"`);
        }
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        continue;
      }
      const chunk = concat(pending, buffer.subarray(0, n));
      let start = 0;
      for (let end = chunk.indexOf(NEWLINE); end >= 0; end = chunk.indexOf(NEWLINE, start)) {
        const line = this.#decoder.decode(chunk.subarray(start, end));
        this.#offset += end - start + 1;
        start = end + 1;
        if (!line) continue;
        const event = JSON.parse(line) as RawEvent;
        if (event.objectRef?.name === marker) return records;
        records.push(reduce(event));
      }
      pending = chunk.slice(start);
    }
  }
}

const NEWLINE = 0x0a;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

function reduce(event: RawEvent): AuditRecord {
  const ref = event.objectRef;
  const resource = ref?.resource
    ? ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource
    : (event.requestURI ?? "").split("?")[0] ?? "";
  return {
    userAgent: event.userAgent ?? "",
    verb: event.verb ?? "",
    resource,
    namespace: ref?.namespace,
    name: ref?.name,
    receivedAt: Date.parse(event.requestReceivedTimestamp ?? "") || 0,
  };
}

/** Which requests to count. */
export interface CountFilter {
  /** The operator's User-Agent starts with this. */
  readonly userAgentPrefix: string;
  /** Only requests in this namespace count as per object; the rest is overhead. */
  readonly namespace: string;
  /** Only requests received at or after this epoch ms. */
  readonly since?: number;
  /** Requests about these objects are left out (the probe of a restart). */
  readonly excludeNames?: ReadonlySet<string>;
}

/** Requests by `"<verb> <resource>"`: those in the namespace, and the rest (discovery, CRDs…). */
export interface RequestCounts {
  readonly namespaced: Record<string, number>;
  readonly other: Record<string, number>;
}

/** Counts the matching records by verb and resource. */
export function count(records: readonly AuditRecord[], filter: CountFilter): RequestCounts {
  const namespaced: Record<string, number> = {};
  const other: Record<string, number> = {};
  for (const record of records) {
    if (!record.userAgent.startsWith(filter.userAgentPrefix)) continue;
    if (filter.since !== undefined && record.receivedAt < filter.since) continue;
    if (record.name !== undefined && filter.excludeNames?.has(record.name)) continue;
    const key = `${record.verb} ${record.resource}`;
    const target = record.namespace === filter.namespace ? namespaced : other;
    target[key] = (target[key] ?? 0) + 1;
  }
  return { namespaced: sorted(namespaced), other: sorted(other) };
}

/** The User-Agents seen, with their request counts: for the report and for diagnosis. */
export function userAgents(records: readonly AuditRecord[]): Record<string, number> {
  const agents: Record<string, number> = {};
  for (const record of records) agents[record.userAgent] = (agents[record.userAgent] ?? 0) + 1;
  return sorted(agents);
}

function sorted(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}
