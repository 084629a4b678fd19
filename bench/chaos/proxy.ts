// A TCP proxy between an operator and kube-apiserver that can fail the way networks do: freeze
// (stop forwarding bytes in both directions, without closing or resetting anything, so the peers
// see silence) and drop (close both sides of every connection). It forwards bytes only, so TLS
// passes through unchanged and the operator's kubeconfig merely names the proxy's port on
// 127.0.0.1. Used by the chaos faults `proxy` (freeze, then drop) and `compaction` (drop).

/** Counts since the proxy started. */
export interface ProxyStats {
  accepted: number;
  /** Connections closed by `drop()`. */
  dropped: number;
  /** Connections that could not reach the target (e.g. while kube-apiserver is stopped). */
  refused: number;
  bytes: number;
}

interface Pipe {
  readonly client: Deno.TcpConn;
  upstream: Deno.TcpConn | undefined;
  readonly closed: PromiseWithResolvers<void>;
  isClosed: boolean;
}

const BUFFER_BYTES = 64 * 1024;

/** A running proxy on 127.0.0.1 (`port`) to `target`. */
export class Proxy implements AsyncDisposable {
  readonly port: number;
  readonly stats: ProxyStats = { accepted: 0, dropped: 0, refused: 0, bytes: 0 };
  readonly #listener: Deno.TcpListener;
  readonly #pipes = new Set<Pipe>();
  readonly #serving: Promise<void>;
  #thawed: PromiseWithResolvers<void> | undefined;

  constructor(readonly target: { hostname: string; port: number }) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#serving = this.#serve();
  }

  /** Whether bytes are held back now. */
  get frozen(): boolean {
    return this.#thawed !== undefined;
  }

  /** Connections open now. */
  get open(): number {
    return this.#pipes.size;
  }

  /** Stops forwarding on every connection, present and future; nothing is closed. */
  freeze(): void {
    this.#thawed ??= Promise.withResolvers<void>();
  }

  /** Forwards again whatever was held back. */
  thaw(): void {
    this.#thawed?.resolve();
    this.#thawed = undefined;
  }

  /** Closes both sides of every open connection; returns how many. New ones are accepted. */
  drop(): number {
    const pipes = [...this.#pipes];
    for (const pipe of pipes) close(pipe);
    this.stats.dropped += pipes.length;
    return pipes.length;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.thaw();
    try {
      this.#listener.close();
    } catch {
      // closed already
    }
    this.drop();
    await this.#serving;
  }

  async #serve(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        this.stats.accepted++;
        const pipe: Pipe = {
          client,
          upstream: undefined,
          closed: Promise.withResolvers<void>(),
          isClosed: false,
        };
        this.#pipes.add(pipe);
        pipe.closed.promise.then(() => this.#pipes.delete(pipe));
        this.#connect(pipe);
      }
    } catch {
      // the listener was closed
    }
  }

  async #connect(pipe: Pipe): Promise<void> {
    try {
      await this.#gate(pipe);
      pipe.upstream = await Deno.connect({ ...this.target, transport: "tcp" });
    } catch {
      if (!pipe.isClosed) this.stats.refused++;
      close(pipe);
      return;
    }
    if (pipe.isClosed) {
      close(pipe);
      return;
    }
    pipe.client.setNoDelay(true);
    pipe.upstream.setNoDelay(true);
    await Promise.all([
      this.#pump(pipe, pipe.client, pipe.upstream),
      this.#pump(pipe, pipe.upstream, pipe.client),
    ]);
    close(pipe);
  }

  /** Copies `from` → `to` until EOF (then half-closes `to`) or an error (then closes both). */
  async #pump(pipe: Pipe, from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
    const buffer = new Uint8Array(BUFFER_BYTES);
    try {
      for (;;) {
        await this.#gate(pipe);
        const n = await from.read(buffer);
        if (n === null) break;
        // A freeze that began while the read waited holds this chunk back too.
        await this.#gate(pipe);
        for (let written = 0; written < n;) written += await to.write(buffer.subarray(written, n));
        this.stats.bytes += n;
      }
      await to.closeWrite();
    } catch {
      close(pipe);
    }
  }

  /** Resolves at once unless frozen; then when thawed. Throws once the pipe is closed. */
  async #gate(pipe: Pipe): Promise<void> {
    while (this.#thawed && !pipe.isClosed) {
      await Promise.race([this.#thawed.promise, pipe.closed.promise]);
    }
    if (pipe.isClosed) throw new Error("closed");
  }
}

function close(pipe: Pipe): void {
  if (pipe.isClosed) return;
  pipe.isClosed = true;
  for (const conn of [pipe.client, pipe.upstream]) {
    try {
      conn?.close();
    } catch {
      // closed already
    }
  }
  pipe.closed.resolve();
}
