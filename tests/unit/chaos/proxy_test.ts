// The chaos proxy on loopback against an echo server: it forwards bytes both ways, a freeze
// holds them back without closing anything, a thaw delivers what was held, and a drop closes
// the client's connection.

import { deepEqual, equal } from "node:assert/strict";
import * as proxies from "../../../bench/chaos/proxy.ts";

/** An echo server on 127.0.0.1. */
function echoServer(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        conn.readable.pipeTo(conn.writable).catch(() => {}).finally(() => conns.delete(conn));
      }
    } catch {
      // closed
    }
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
      await serving;
    },
  };
}

/** Reads a connection with a deadline; a read that timed out is kept for the next call. */
class Reader {
  #pending: Promise<string | null> | undefined;
  constructor(readonly conn: Deno.Conn) {}

  async next(timeoutMs: number): Promise<string | null | "timeout"> {
    const buffer = new Uint8Array(1024);
    this.#pending ??= this.conn.read(buffer).then(
      (n) => n === null ? null : new TextDecoder().decode(buffer.subarray(0, n)),
      () => null, // closed under the read
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const result = await Promise.race([this.#pending, timeout]);
    clearTimeout(timer);
    if (result !== "timeout") this.#pending = undefined;
    return result;
  }
}

Deno.test("the proxy forwards bytes, holds them while frozen, delivers them on thaw, and drops", async () => {
  const echo = echoServer();
  await using proxy = new proxies.Proxy({ hostname: "127.0.0.1", port: echo.port });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  const reader = new Reader(client);
  try {
    await client.write(new TextEncoder().encode("one"));
    equal(await reader.next(2000), "one");

    proxy.freeze();
    await client.write(new TextEncoder().encode("two"));
    equal(await reader.next(300), "timeout", "nothing comes back while frozen");
    equal(proxy.open, 1, "the connection stays open while frozen");

    proxy.thaw();
    equal(await reader.next(2000), "two", "what was held back arrives after the thaw");

    equal(proxy.drop(), 1);
    equal(await reader.next(2000), null, "the client's connection is closed");
    deepEqual(
      { accepted: proxy.stats.accepted, dropped: proxy.stats.dropped },
      { accepted: 1, dropped: 1 },
    );
  } finally {
    client.close();
    await echo.close();
  }
});

Deno.test("the proxy closes a client it cannot connect through, and counts it", async () => {
  using placeholder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = placeholder.addr.port;
  placeholder.close(); // nothing listens there now
  await using proxy = new proxies.Proxy({ hostname: "127.0.0.1", port });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  try {
    equal(await new Reader(client).next(2000), null);
    equal(proxy.stats.refused, 1);
  } finally {
    client.close();
  }
});
