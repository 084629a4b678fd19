// An in-process fake kube-apiserver for component tests: real HTTP on 127.0.0.1, real JSON, the
// watch, patch, finalizer and error semantics of kube-apiserver 1.37, plus fault injection.
// The same contract suite runs against it and a real control plane, so it mimics, never simplifies.

import { BodyStream, HttpServer } from "./fake_http.ts";
import type { HttpReply, HttpRequest } from "./fake_http.ts";
import { Cluster } from "./fake_cluster.ts";
import * as deletes from "./fake_deletes.ts";
import * as objects from "./fake_objects.ts";
import * as reads from "./fake_reads.ts";
import * as resources from "./fake_resources.ts";
import type { FakeResource } from "./fake_resources.ts";
import * as routes from "./fake_routes.ts";
import type { Route, Verb } from "./fake_routes.ts";
import * as statuses from "./fake_statuses.ts";
import type { Watch } from "./fake_watches.ts";
import * as writes from "./fake_writes.ts";

export type { FakeResource, Verb };

/** Which requests a fault applies to; every given field must match. */
export interface FaultMatch {
  method?: string;
  verb?: string;
  pathIncludes?: string;
}

/**
 * A failure to inject into upcoming matching requests, `times` of them (default 1). `status`
 * answers with that code's real Status body (and `Retry-After` when given; 429 always has one);
 * `drop` closes the connection without a response, or for a watch cuts the body after
 * `afterEvents` events (default 0, right after the headers); `delay` holds the request first.
 */
export type Fault =
  | { kind: "status"; code: number; retryAfterSeconds?: number; times?: number; match?: FaultMatch }
  | { kind: "drop"; afterEvents?: number; times?: number; match?: FaultMatch }
  | { kind: "delay"; ms: number; times?: number; match?: FaultMatch };

/** One request as the fake saw it; `status` is 0 for a dropped connection. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  verb: Verb;
  status: number;
}

export interface FakeApiServerOptions {
  /** Extra resources to serve from the start, as `addResource()` would. */
  resources?: FakeResource[];
  /** How often watches with `allowWatchBookmarks` get a BOOKMARK; 0 = never. @default 1000 */
  bookmarkIntervalMs?: number;
  /** Changes kept for watch resumption and paged lists. @default 10000 */
  historyLimit?: number;
}

const JSON_HEADERS = {
  "content-type": "application/json",
  "x-kubernetes-pf-flowschema-uid": "00000000-0000-0000-0000-00000000f10a",
  "x-kubernetes-pf-prioritylevel-uid": "00000000-0000-0000-0000-00000000b1e5",
};

/**
 * The fake API server.
 *
 * @example Serve a custom resource and read it back
 * ```ts
 * await using server = await FakeApiServer.start({
 *   resources: [{ group: "kopf.dev", version: "v1", plural: "kopfexamples", kind: "KopfExample", namespaced: true }],
 * });
 * const response = await fetch(`${server.url}/apis/kopf.dev/v1/namespaces/default/kopfexamples`);
 * await response.body?.cancel();
 * ```
 */
export class FakeApiServer implements AsyncDisposable {
  readonly url: string;
  readonly requests: RecordedRequest[] = [];
  #http: HttpServer;
  #cluster: Cluster;
  #watches = new Set<Watch>();
  #faults: { fault: Fault; remaining: number }[] = [];
  #bookmarkIntervalMs: number;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #closing = new AbortController();

  private constructor(options: FakeApiServerOptions) {
    this.#cluster = new Cluster(options.historyLimit ?? 10000);
    this.#bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    for (const r of options.resources ?? []) this.addResource(r);
    this.#http = HttpServer.listen((request) => this.#handle(request));
    this.url = `http://127.0.0.1:${this.#http.port}`;
  }

  /** Starts a server on 127.0.0.1 at a port the OS chooses. */
  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    return await Promise.resolve().then(() => new FakeApiServer(options));
  }

  /** A kubeconfig (YAML) with context "fake" pointing at this server with token "fake-token". */
  kubeconfig(): string {
    return [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: fake",
      "  cluster:",
      `    server: ${this.url}`,
      "users:",
      "- name: fake",
      "  user:",
      "    token: fake-token",
      "contexts:",
      "- name: fake",
      "  context:",
      "    cluster: fake",
      "    user: fake",
      "    namespace: default",
      "current-context: fake",
      "",
    ].join("\n");
  }

  /**
   * Serves a new resource; it appears in discovery. In the core group or a group without a dot
   * it behaves as a built-in kind, otherwise as a custom resource.
   */
  addResource(r: FakeResource): void {
    this.#cluster.serve(resources.complete(r));
  }

  /** Stops serving every version of a resource: its objects are dropped, its watches end. */
  removeResource(group: string, plural: string): void {
    this.#cluster.unserve(group, plural);
  }

  /** Forgets all history: older resourceVersions and continue tokens become "too old" (410). */
  compact(): void {
    this.#cluster.compact();
  }

  /** Breaks every open watch abruptly: clients see a network error, not a clean end. */
  dropWatches(): void {
    for (const watch of [...this.#watches]) watch.abort();
  }

  /** Makes every open watch lag: its events are kept back until released. */
  holdWatches(): void {
    for (const watch of this.#watches) watch.hold();
  }

  /** Sends `count` held events of every open watch (all by default, and they flow again). */
  releaseWatches(count?: number): void {
    for (const watch of this.#watches) watch.release(count);
  }

  /** How many events the open watches hold back in total. */
  get heldEvents(): number {
    return [...this.#watches].reduce((sum, watch) => sum + watch.heldEvents, 0);
  }

  /** How many watch streams are open now (a test can wait for a reconnect before a drop). */
  get openWatches(): number {
    return this.#watches.size;
  }

  /** Queues a fault for upcoming matching requests. */
  inject(fault: Fault): void {
    this.#faults.push({ fault, remaining: fault.times ?? 1 });
  }

  /** Drops every injected fault that has not been used up. */
  clearFaults(): void {
    this.#faults = [];
  }

  /** Copies of the stored objects of a resource (by plural, any group), optionally of a namespace. */
  objects(plural: string, namespace?: string): Record<string, unknown>[] {
    return this.#cluster.objects(plural, namespace);
  }

  /** Ends every watch cleanly, then stops the HTTP server. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
    for (const watch of [...this.#watches]) watch.end();
    await this.#http.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- HTTP ----

  async #handle(request: HttpRequest): Promise<HttpReply> {
    const route = routes.parse(request.path);
    const watching = request.method === "GET" && reads.isWatch(request.query);
    const record: RecordedRequest = {
      method: request.method,
      path: request.path,
      query: Object.fromEntries(request.query),
      verb: routes.verbOf(request.method, route, watching),
      status: 0,
    };
    this.requests.push(record);
    const fault = await this.#takeFaults(record);
    let reply: HttpReply;
    if (this.#closing.signal.aborted) {
      reply = { kind: "drop" };
    } else if (fault?.kind === "status") {
      reply = this.#error(
        statuses.injected(
          fault.code,
          fault.retryAfterSeconds,
          this.#forbiddenAs(route, record.verb),
        ),
      );
    } else if (fault?.kind === "drop" && !watching) {
      reply = { kind: "drop" };
    } else {
      const dropAfter = fault?.kind === "drop" ? (fault.afterEvents ?? 0) : undefined;
      try {
        reply = this.#dispatch(request, route, watching, dropAfter);
      } catch (e) {
        reply = this.#error(e instanceof statuses.ApiError ? e : statuses.internalError(String(e)));
      }
      if (dropAfter !== undefined && reply.kind === "full") reply = { kind: "drop" };
    }
    record.status = reply.kind === "drop" ? 0 : reply.status;
    return reply;
  }

  async #takeFaults(record: RecordedRequest): Promise<Fault | undefined> {
    const matching = (f: Fault) => {
      const m = f.match ?? {};
      return (m.method === undefined || m.method.toUpperCase() === record.method) &&
        (m.verb === undefined || m.verb === record.verb) &&
        (m.pathIncludes === undefined || record.path.includes(m.pathIncludes));
    };
    const take = (kinds: string[]) => {
      const entry = this.#faults.find((e) =>
        e.remaining > 0 && kinds.includes(e.fault.kind) && matching(e.fault)
      );
      if (!entry) return undefined;
      entry.remaining--;
      this.#faults = this.#faults.filter((e) => e.remaining > 0);
      return entry.fault;
    };
    for (let delay = take(["delay"]); delay?.kind === "delay"; delay = take(["delay"])) {
      await this.#sleep(delay.ms);
    }
    return take(["status", "drop"]);
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#closing.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      }
    });
  }

  #forbiddenAs(route: Route, verb: Verb) {
    if (route.kind !== "resource") return undefined;
    const scope = route.namespace
      ? `in the namespace "${route.namespace}"`
      : "at the cluster scope";
    const why =
      `User "fake-user" cannot ${verb} resource "${route.plural}" in API group "${route.group}" ${scope}`;
    return { gr: { group: route.group, resource: route.plural }, name: route.name ?? "", why };
  }

  #json(status: number, body: unknown, headers: Record<string, string> = {}): HttpReply {
    return {
      kind: "full",
      status,
      headers: { ...JSON_HEADERS, ...headers },
      body: JSON.stringify(body),
    };
  }

  #error(error: statuses.ApiError): HttpReply {
    return this.#json(error.code, error.status, error.headers);
  }

  #dispatch(
    request: HttpRequest,
    route: Route,
    watching: boolean,
    dropAfter: number | undefined,
  ): HttpReply {
    if (route.kind === "version") {
      return this.#json(200, {
        major: "1",
        minor: "37",
        gitVersion: "v1.37.2-fake",
        gitCommit: "0000000000000000000000000000000000000000",
        gitTreeState: "clean",
        buildDate: "2026-01-01T00:00:00Z",
        goVersion: "go1.26",
        compiler: "gc",
        platform: "linux/amd64",
      });
    }
    if (route.kind === "discovery") {
      return this.#json(200, this.#cluster.discovery(route, `127.0.0.1:${this.#http.port}`));
    }
    if (route.kind === "unknown") {
      if (route.api) throw statuses.pathNotFound();
      return {
        kind: "full",
        status: 404,
        headers: { "content-type": "text/plain; charset=utf-8" },
        body: "404 page not found\n",
      };
    }
    const t = this.#cluster.resolve(route);
    const { method, query } = request;
    if (method === "GET" && watching) {
      const body = new BodyStream();
      const watch = reads.watch(this.#cluster.storage, t, query, body, dropAfter);
      this.#watches.add(watch);
      watch.onClose(() => {
        this.#watches.delete(watch);
        this.#tick();
      });
      this.#tick();
      return { kind: "stream", status: 200, headers: { ...JSON_HEADERS }, body };
    }
    const r = t.resource;
    const gr = { group: r.group, resource: r.plural };
    if (r.namespaced && t.namespace === undefined && method !== "GET") {
      throw statuses.methodNotSupported(gr, routes.verbOf(method, route, false));
    }
    if (method === "GET") {
      return this.#json(
        200,
        t.name === undefined
          ? reads.list(this.#cluster.storage, t, query)
          : reads.get(this.#cluster.storage, t, query),
      );
    }
    if (method === "POST" && t.name === undefined) {
      if (r.crd && this.#cluster.crdTerminating(r.crd)) {
        const error = statuses.methodNotSupported(gr, "create");
        error.status.message = "create not allowed while custom resource definition is terminating";
        throw error;
      }
      return this.#result(writes.create(this.#cluster, t, objects.parseBody(request.body), query));
    }
    if (method === "PUT" && t.name !== undefined) {
      return this.#result(writes.update(this.#cluster, t, objects.parseBody(request.body), query));
    }
    if (method === "PATCH" && t.name !== undefined) {
      const contentType = request.headers.get("content-type") ?? "";
      return this.#result(writes.patch(this.#cluster, t, contentType, request.body, query));
    }
    if (method === "DELETE" && t.subresource === undefined) {
      return this.#result(
        t.name === undefined
          ? deletes.removeCollection(this.#cluster, t, request.body, query)
          : deletes.remove(this.#cluster, t, request.body, query),
      );
    }
    throw statuses.methodNotSupported(gr, method.toLowerCase());
  }

  #result(result: writes.WriteResult): HttpReply {
    return this.#json(result.status, result.body);
  }

  // The bookmark ticker runs only while some watch asked for bookmarks.
  #tick(): void {
    const wanted = this.#bookmarkIntervalMs > 0 && !this.#closing.signal.aborted &&
      [...this.#watches].some((w) => w.bookmarks);
    if (wanted && this.#ticker === undefined) {
      this.#ticker = setInterval(() => {
        for (const watch of this.#watches) {
          if (watch.bookmarks) watch.bookmark(this.#cluster.storage.rv);
        }
      }, this.#bookmarkIntervalMs);
    } else if (!wanted && this.#ticker !== undefined) {
      clearInterval(this.#ticker);
      this.#ticker = undefined;
    }
  }
}
