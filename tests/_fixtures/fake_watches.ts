// One open watch of the fake API server: turns committed changes into the event lines that
// kube-apiserver streams (ADDED/MODIFIED/DELETED with selector transitions, BOOKMARK, ERROR),
// and ends either cleanly (timeout, removal, shutdown) or abruptly (an injected drop).

import type { BodyStream } from "./fake_http.ts";
import type { Predicate } from "./fake_selectors.ts";
import type { Json, Status } from "./fake_statuses.ts";
import type { Change, Collection, Subscriber } from "./fake_storage.ts";

export const INITIAL_EVENTS_END = "k8s.io/initial-events-end";

export interface WatchOptions {
  kind: string;
  apiVersion: string;
  /** Namespace, name and selectors together. */
  matches: Predicate;
  bookmarks: boolean;
  /** Kill the connection after this many events (an injected drop). */
  dropAfterEvents?: number;
}

/** A watch stream; it subscribes to its collection until it ends. */
export class Watch implements Subscriber {
  readonly bookmarks: boolean;
  #body: BodyStream;
  #options: WatchOptions;
  #collection: Collection | undefined;
  #sent = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closeHandlers: (() => void)[] = [];
  /** Lines kept back while the watch is held (a lagging watch); undefined when flowing. */
  #held: string[] | undefined;

  constructor(body: BodyStream, options: WatchOptions) {
    this.#body = body;
    this.#options = options;
    this.bookmarks = options.bookmarks;
    body.onClose(() => this.#closed());
    if (options.dropAfterEvents === 0) body.abort();
  }

  get open(): boolean {
    return this.#body.open;
  }

  /** Starts hearing live changes of the collection. */
  subscribe(collection: Collection): void {
    if (!this.open) return;
    this.#collection = collection;
    collection.subscribers.add(this);
  }

  /** Ends the stream cleanly after `seconds`, as `timeoutSeconds` asks. */
  endAfter(seconds: number): void {
    if (!this.open) return;
    this.#timer = setTimeout(() => this.end(), Math.max(0, seconds * 1000));
  }

  onClose(handler: () => void): void {
    if (this.open) this.#closeHandlers.push(handler);
    else handler();
  }

  /** A synthetic ADDED for an object of the initial state. */
  added(object: Json): void {
    this.#send("ADDED", object);
  }

  deliver(change: Change): void {
    const matches = this.#options.matches;
    const now = change.type !== "DELETED" && matches(change.object);
    const was = change.prev !== undefined && matches(change.prev);
    if (now && (change.type === "ADDED" || !was)) {
      this.#send("ADDED", change.object);
    } else if (now) {
      this.#send("MODIFIED", change.object);
    } else if (was) {
      // kube-apiserver sends the previous content with the new resourceVersion when an object
      // stops matching; for a deletion that is exactly the stored DELETED state.
      const last = change.type === "DELETED" ? change.object : {
        ...change.prev,
        metadata: { ...(change.prev?.metadata as Json), resourceVersion: String(change.rv) },
      };
      this.#send("DELETED", last);
    }
  }

  bookmark(rv: number, initialEventsEnd = false): void {
    const metadata: Json = { resourceVersion: String(rv) };
    if (initialEventsEnd) metadata.annotations = { [INITIAL_EVENTS_END]: "true" };
    this.#line({
      type: "BOOKMARK",
      object: { kind: this.#options.kind, apiVersion: this.#options.apiVersion, metadata },
    });
  }

  /** An ERROR event, then a clean end: how a watch from a too old resourceVersion answers. */
  error(status: Status): void {
    this.#line({ type: "ERROR", object: status });
    this.end();
  }

  end(): void {
    this.#body.end();
  }

  /** Keeps events back from now on, as a watch lagging behind the storage would. */
  hold(): void {
    this.#held ??= [];
  }

  /** Sends the first `count` held events (all by default; then the watch flows again). */
  release(count = Infinity): void {
    if (!this.#held) return;
    const lines = this.#held.splice(0, count);
    if (count === Infinity) this.#held = undefined;
    for (const line of lines) this.#push(line);
  }

  /** How many events are held back. */
  get heldEvents(): number {
    return this.#held?.length ?? 0;
  }

  abort(): void {
    this.#body.abort();
  }

  collectionRemoved(): void {
    this.#collection = undefined;
    this.end();
  }

  #send(type: string, object: Json): void {
    const apiVersion = this.#options.apiVersion;
    const view = object.apiVersion === apiVersion ? object : { ...object, apiVersion };
    this.#line({ type, object: view });
  }

  #line(event: Json): void {
    if (!this.open) return;
    const line = JSON.stringify(event) + "\n";
    if (this.#held) this.#held.push(line);
    else this.#push(line);
  }

  #push(line: string): void {
    if (!this.open) return;
    this.#body.push(line);
    this.#sent++;
    if (
      this.#options.dropAfterEvents !== undefined && this.#sent >= this.#options.dropAfterEvents
    ) {
      this.#body.abort();
    }
  }

  #closed(): void {
    this.#collection?.subscribers.delete(this);
    this.#collection = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const handlers = this.#closeHandlers;
    this.#closeHandlers = [];
    for (const handler of handlers) handler();
  }
}
