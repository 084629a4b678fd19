// A pure harness for processing tests: one object in memory, processed event by event, each
// cycle's planned requests applied as an API server would (merge and JSON patches, the status
// subresource, resourceVersion tests, finalizers holding deletion). Counts what was sent.

import * as clocks from "../../lib/async/clock.ts";
import * as processing from "../../lib/processing/processing.ts";
import * as planning from "../../lib/processing/planning.ts";
import type * as registries from "../../lib/registry/registries.ts";
import * as operator from "../../lib/settings/operator.ts";
import type * as references from "../../lib/structs/references.ts";
import * as fakePatches from "./fake_patches.ts";
import { recordingLogger } from "./loggers.ts";

type Json = Record<string, unknown>;

export const kopfexamples: references.Resource = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfexamples",
  kind: "KopfExample",
  namespaced: true,
  subresources: ["status"],
};

/** What one cycle did. */
export interface Cycle {
  readonly result: processing.ProcessingResult;
  /** `merge`, `merge /status`, `json`, `json /status` for each request sent. */
  readonly sent: string[];
}

/** One object and the operator's view of it. */
export class Simulator {
  body: Json | undefined;
  readonly registry: registries.OperatorRegistry;
  readonly settings = operator.defaultSettings();
  readonly clock = new clocks.FakeClock(Date.parse("2026-11-25T12:00:00Z"));
  readonly logger = recordingLogger();
  readonly resource: references.Resource;
  memory: processing.ObjectMemory;
  readonly cycles: Cycle[] = [];
  #rv = 100;
  #pending: "ADDED" | "MODIFIED" | "DELETED" | undefined | "none" = "ADDED";

  constructor(
    registry: registries.OperatorRegistry,
    body: Json = { spec: { field: "value" } },
    options: { resource?: references.Resource; listed?: boolean } = {},
  ) {
    this.registry = registry;
    this.resource = options.resource ?? kopfexamples;
    this.body = {
      apiVersion: "kopf.dev/v1",
      kind: "KopfExample",
      ...structuredClone(body),
      metadata: {
        name: "example",
        namespace: "default",
        uid: "uid-1",
        resourceVersion: String(this.#rv),
        generation: 1,
        ...((body.metadata as Json | undefined) ?? {}),
      },
    };
    this.memory = processing.newMemory(options.listed ?? false);
    if (options.listed) this.#pending = undefined;
  }

  /** All requests sent so far, in order. */
  get sent(): string[] {
    return this.cycles.flatMap((c) => c.sent);
  }

  /** Processes the pending event (or, with `retry`, the object as it is) and applies the plan. */
  async cycle(options: { consistent?: boolean } = {}): Promise<Cycle> {
    if (!this.body) throw new Error("The object is gone");
    const type = this.#pending === "none" ? "MODIFIED" : this.#pending;
    this.#pending = "none";
    const result = await processing.processEvent({
      resource: this.resource,
      registry: this.registry,
      settings: this.settings,
      clock: this.clock,
      logger: this.logger,
      memory: this.memory,
      event: { type, object: structuredClone(this.body) as never },
      consistent: options.consistent ?? true,
    });
    const sent = type === "DELETED" ? [] : result.requests.map((r) => this.#apply(r));
    if (type === "DELETED") this.body = undefined;
    const cycle = { result, sent };
    this.cycles.push(cycle);
    return cycle;
  }

  /**
   * Runs cycles until nothing is sent and nothing is due, moving the clock to each retry
   * (as the runtime's timer would); returns how many cycles ran.
   */
  async settle(limit = 20): Promise<number> {
    for (let n = 1; n <= limit; n++) {
      const { result, sent } = await this.cycle();
      if (!this.body) return n;
      if (sent.length === 0 && result.delay === undefined) return n;
      if (sent.length === 0 && result.delay !== undefined) this.clock.advance(result.delay * 1000);
    }
    throw new Error(`The object did not settle in ${limit} cycles: ${this.sent.join(", ")}`);
  }

  /** A change by someone else (kubectl edit): the next cycle sees a MODIFIED event. */
  change(mutate: (body: Json) => void): void {
    if (!this.body) throw new Error("The object is gone");
    mutate(this.body);
    this.#bump();
  }

  /** `kubectl delete`: marks it deleting while finalizers hold it, else it is gone. */
  delete(): void {
    const meta = this.body?.metadata as Json;
    if (((meta.finalizers as string[] | undefined) ?? []).length > 0) {
      meta.deletionTimestamp = "2026-11-25T12:30:00Z";
      this.#bump();
    } else {
      this.#pending = "DELETED";
    }
  }

  #bump(): void {
    (this.body!.metadata as Json).resourceVersion = String(++this.#rv);
    this.#pending = "MODIFIED";
  }

  #apply(request: planning.PlannedRequest): string {
    const body = this.body!;
    const subresource = this.resource.subresources?.includes("status") ?? false;
    const label = `${request.type}${request.subresource ? ` /${request.subresource}` : ""}`;
    let next: Json;
    if (request.type === "merge") {
      const document = structuredClone(request.body);
      if (request.subresource === "status") {
        next = { ...body, status: fakePatches.merge(body.status ?? {}, document.status) };
      } else {
        if (subresource) delete document.status;
        next = fakePatches.merge(body, document) as Json;
      }
    } else {
      const ops = planning.guarded(request, body);
      next = fakePatches.applyJsonPatch(body, ops) as Json;
    }
    if (fakePatches.deepEqual(next, body)) return label; // a no-op write changes nothing
    this.body = next;
    const meta = next.metadata as Json;
    if (meta.deletionTimestamp && ((meta.finalizers as string[] | undefined) ?? []).length === 0) {
      this.#pending = "DELETED";
    } else {
      this.#bump();
    }
    return label;
  }
}
