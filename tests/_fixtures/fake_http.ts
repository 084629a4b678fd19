// A small HTTP/1.1 server over Deno.listen for the fake API server. Unlike Deno.serve it can
// close a connection before any response and cut a chunked body mid-stream, which is how the
// fake imitates network failures. It parses what fetch sends: Content-Length or chunked bodies.

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MAX_HEAD_BYTES = 64 * 1024;
// Every response closes its connection. Deno's fetch silently retries a request once when a
// kept-alive connection fails, which would hide an injected drop; fresh connections never are.
const KEEP_ALIVE = false;

/** A parsed request; `path` stays percent-encoded. */
export interface HttpRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body: string;
}

/** What to do with a request: answer it, stream an answer, or drop the connection. */
export type HttpReply =
  | { kind: "full"; status: number; headers: Record<string, string>; body: string }
  | { kind: "stream"; status: number; headers: Record<string, string>; body: BodyStream }
  | { kind: "drop" };

/**
 * The body of a streamed response. The producer pushes text; `end()` finishes the body cleanly,
 * `abort()` writes what is queued and then kills the connection. A client that goes away
 * aborts it too; `onClose` hears about every way it stops.
 */
export class BodyStream {
  #queue: string[] = [];
  #state: "open" | "ended" | "aborted" = "open";
  #wake: (() => void) | undefined;
  #closeHandlers: (() => void)[] = [];

  get open(): boolean {
    return this.#state === "open";
  }

  push(text: string): void {
    if (this.#state !== "open") return;
    this.#queue.push(text);
    this.#wakeWriter();
  }

  end(): void {
    this.#finish("ended");
  }

  abort(): void {
    this.#finish("aborted");
  }

  onClose(handler: () => void): void {
    if (this.#state === "open") this.#closeHandlers.push(handler);
    else handler();
  }

  /** The writer's side: all queued text, `null` after a clean end; throws once aborted. */
  async next(): Promise<string | null> {
    while (true) {
      if (this.#queue.length > 0) {
        const text = this.#queue.join("");
        this.#queue = [];
        return text;
      }
      if (this.#state === "ended") return null;
      if (this.#state === "aborted") throw new Error("The response body was aborted");
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  #finish(state: "ended" | "aborted"): void {
    if (this.#state !== "open") return;
    this.#state = state;
    this.#wakeWriter();
    const handlers = this.#closeHandlers;
    this.#closeHandlers = [];
    for (const handler of handlers) handler();
  }

  #wakeWriter(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

// Buffers bytes from a connection. At most one read is in flight; everyone who needs more bytes
// (the request parser, or the watcher of a streaming response) waits on that same read.
class ByteReader {
  #conn: Deno.Conn;
  #buffer = new Uint8Array(0);
  #pending: Promise<boolean> | undefined;
  #eof = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  get buffered(): number {
    return this.#buffer.length;
  }

  fill(): Promise<boolean> {
    if (this.#eof) return Promise.resolve(false);
    this.#pending ??= this.#read();
    return this.#pending;
  }

  async #read(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    try {
      const n = await this.#conn.read(chunk);
      if (n === null) {
        this.#eof = true;
        return false;
      }
      const joined = new Uint8Array(this.#buffer.length + n);
      joined.set(this.#buffer);
      joined.set(chunk.subarray(0, n), this.#buffer.length);
      this.#buffer = joined;
      return true;
    } catch {
      this.#eof = true;
      return false;
    } finally {
      this.#pending = undefined;
    }
  }

  /** Bytes up to and excluding `delimiter`, consuming the delimiter; `null` at a clean EOF. */
  async until(delimiter: string, limit: number): Promise<Uint8Array | null> {
    const pattern = encoder.encode(delimiter);
    let from = 0;
    while (true) {
      const at = indexOf(this.#buffer, pattern, from);
      if (at >= 0) {
        const head = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.slice(at + pattern.length);
        return head;
      }
      if (this.#buffer.length > limit) throw new Error("The request head is too large");
      from = Math.max(0, this.#buffer.length - pattern.length + 1);
      if (!await this.fill()) {
        if (this.#buffer.length === 0) return null;
        throw new Error("The connection closed in the middle of a request");
      }
    }
  }

  async exactly(length: number): Promise<Uint8Array> {
    while (this.#buffer.length < length) {
      if (!await this.fill()) throw new Error("The connection closed in the middle of a body");
    }
    const bytes = this.#buffer.slice(0, length);
    this.#buffer = this.#buffer.slice(length);
    return bytes;
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

async function readRequest(reader: ByteReader): Promise<HttpRequest | null> {
  const headBytes = await reader.until("\r\n\r\n", MAX_HEAD_BYTES);
  if (headBytes === null) return null;
  const [requestLine = "", ...lines] = decoder.decode(headBytes).split("\r\n");
  const [method = "", target = "/"] = requestLine.split(" ");
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body: Uint8Array = new Uint8Array(0);
  if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
    const parts: Uint8Array[] = [];
    while (true) {
      const sizeLine = await reader.until("\r\n", MAX_HEAD_BYTES);
      const size = parseInt(decoder.decode(sizeLine ?? new Uint8Array()).split(";")[0] ?? "", 16);
      if (!Number.isFinite(size)) throw new Error("A malformed chunk size");
      if (size === 0) {
        while ((await reader.until("\r\n", MAX_HEAD_BYTES))?.length) { /* trailers */ }
        break;
      }
      parts.push(await reader.exactly(size));
      await reader.exactly(2);
    }
    body = concat(parts);
  } else {
    const length = Number(headers.get("content-length") ?? "0");
    if (length > 0) body = await reader.exactly(length);
  }
  const question = target.indexOf("?");
  return {
    method: method.toUpperCase(),
    path: question < 0 ? target : target.slice(0, question),
    query: new URLSearchParams(question < 0 ? "" : target.slice(question + 1)),
    headers,
    body: decoder.decode(body),
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  415: "Unsupported Media Type",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function head(status: number, headers: Record<string, string>): string {
  let text = `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n`;
  for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
  return text + "\r\n";
}

/** The server: one task per connection, requests answered in order (keep-alive, no pipelining). */
export class HttpServer {
  #listener: Deno.TcpListener;
  #handler: (request: HttpRequest) => Promise<HttpReply>;
  #idle = new Set<Deno.Conn>();
  #tasks = new Set<Promise<void>>();
  #closing = false;
  #accepting: Promise<void>;

  private constructor(
    listener: Deno.TcpListener,
    handler: (request: HttpRequest) => Promise<HttpReply>,
  ) {
    this.#listener = listener;
    this.#handler = handler;
    this.#accepting = this.#accept();
  }

  /** Listens on 127.0.0.1 at a port the OS chooses. */
  static listen(handler: (request: HttpRequest) => Promise<HttpReply>): HttpServer {
    return new HttpServer(Deno.listen({ hostname: "127.0.0.1", port: 0 }), handler);
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  /** Stops accepting, closes idle connections, and waits for the busy ones to finish. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#listener.close();
    for (const conn of this.#idle) closeQuietly(conn);
    await this.#accepting;
    await Promise.all([...this.#tasks]);
  }

  async #accept(): Promise<void> {
    while (!this.#closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      if (this.#closing) {
        closeQuietly(conn);
        return;
      }
      conn.setNoDelay(true);
      const task: Promise<void> = this.#serve(conn).finally(() => this.#tasks.delete(task));
      this.#tasks.add(task);
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const reader = new ByteReader(conn);
    try {
      while (!this.#closing) {
        if (reader.buffered === 0) this.#idle.add(conn);
        const request = await readRequest(reader);
        this.#idle.delete(conn);
        if (request === null) break;
        const reply = await this.#handler(request);
        if (reply.kind === "drop") break;
        const keepAlive = KEEP_ALIVE &&
          request.headers.get("connection")?.toLowerCase() !== "close";
        const ok = reply.kind === "full"
          ? await this.#writeFull(conn, reply, keepAlive)
          : await this.#writeStream(conn, reader, reply, keepAlive);
        if (!ok || !keepAlive) break;
      }
    } catch {
      // A broken connection ends its task; the client sees the network error.
    } finally {
      this.#idle.delete(conn);
      closeQuietly(conn);
    }
  }

  async #writeFull(
    conn: Deno.Conn,
    reply: Extract<HttpReply, { kind: "full" }>,
    keepAlive: boolean,
  ): Promise<boolean> {
    const body = encoder.encode(reply.body);
    const headers: Record<string, string> = {
      ...reply.headers,
      "content-length": String(body.length),
    };
    if (!keepAlive || this.#closing) headers["connection"] = "close";
    await writeAll(conn, concat([encoder.encode(head(reply.status, headers)), body]));
    return true;
  }

  async #writeStream(
    conn: Deno.Conn,
    reader: ByteReader,
    reply: Extract<HttpReply, { kind: "stream" }>,
    keepAlive: boolean,
  ): Promise<boolean> {
    const headers: Record<string, string> = { ...reply.headers, "transfer-encoding": "chunked" };
    if (!keepAlive) headers["connection"] = "close";
    const body = reply.body;
    try {
      await writeAll(conn, encoder.encode(head(reply.status, headers)));
      // A client that hangs up while the body streams ends it; any bytes it sends meanwhile
      // stay buffered for the next request on this connection.
      reader.fill().then((more) => {
        if (!more) body.abort();
      });
      while (true) {
        const text = await body.next();
        if (text === null) {
          await writeAll(conn, encoder.encode("0\r\n\r\n"));
          return !this.#closing;
        }
        const data = encoder.encode(text);
        const size = encoder.encode(`${data.length.toString(16)}\r\n`);
        await writeAll(conn, concat([size, data, encoder.encode("\r\n")]));
      }
    } catch {
      body.abort();
      return false;
    }
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
