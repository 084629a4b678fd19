// The transport against small local HTTP(S) servers: retries, Retry-After, 401 refresh,
// timeouts, unreachable servers, TLS failures and non-JSON error bodies.

import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import * as clocks from "../../../lib/async/clock.ts";
import type * as connections from "../../../lib/k8s/connections.ts";
import * as errors from "../../../lib/k8s/errors.ts";
import * as transports from "../../../lib/k8s/transport.ts";

type Handler = (request: Request, count: number) => Response | Promise<Response>;

async function withServer(
  handler: Handler,
  test: (url: string, hits: () => number) => Promise<void>,
  tls?: { cert: string; key: string },
): Promise<void> {
  let count = 0;
  const controller = new AbortController();
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen: () => {},
      ...(tls ?? {}),
    },
    (request) => handler(request, ++count),
  );
  const scheme = tls ? "https" : "http";
  try {
    await test(`${scheme}://127.0.0.1:${server.addr.port}`, () => count);
  } finally {
    controller.abort();
    await server.finished;
  }
}

function connectionTo(
  server: string,
  authenticator?: connections.Authenticator,
): connections.Connection {
  return {
    server,
    caCerts: [],
    insecureSkipTlsVerify: false,
    namespace: "default",
    source: "test kubeconfig",
    authenticator: authenticator ??
      { credentials: () => Promise.resolve({}), refresh: () => Promise.resolve(false) },
  };
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

function status(code: number, reason: string, message = reason): Response {
  return json({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message }, code);
}

/** Runs `promise` while moving the fake clock to each sleeper's deadline; returns the sleeps. */
async function drive<T>(
  clock: clocks.FakeClock,
  promise: Promise<T>,
): Promise<{ result: T; sleeps: number[] }> {
  const sleeps: number[] = [];
  let settled = false;
  // Settle into a value at once, so a rejection is handled while the clock is being driven.
  const done = promise.then(
    (value) => ({ value, error: undefined, failed: false }),
    (error: unknown) => ({ value: undefined, error, failed: true }),
  ).finally(() => (settled = true));
  while (!settled) {
    await new Promise((r) => setTimeout(r, 1));
    const at = clock.nextWakeAt;
    if (at !== undefined) {
      sleeps.push(at - clock.now());
      clock.advance(at - clock.now());
    }
  }
  const outcome = await done;
  if (outcome.failed) throw outcome.error;
  return { result: outcome.value as T, sleeps };
}

Deno.test("a request is retried after 503 and 500 until it succeeds", async () => {
  await withServer(
    (_, n) => n <= 2 ? status(n === 1 ? 503 : 500, "InternalError") : json({ ok: true }),
    async (url, hits) => {
      const clock = new clocks.FakeClock();
      using transport = new transports.Transport(connectionTo(url), { clock, random: () => 0 });
      const { result, sleeps } = await drive(
        clock,
        transport.request<{ ok: boolean }>("GET", "/api"),
      );
      deepEqual(result, { ok: true });
      equal(hits(), 3);
      deepEqual(sleeps, [250, 500]); // capped exponential backoff from retryInitialDelaySeconds
    },
  );
});

Deno.test("429 waits exactly as long as Retry-After says before the retry", async () => {
  await withServer(
    (_, n) =>
      n === 1
        ? json({ kind: "Status", code: 429, reason: "TooManyRequests" }, 429, {
          "Retry-After": "7",
        })
        : json({}),
    async (url, hits) => {
      const clock = new clocks.FakeClock();
      using transport = new transports.Transport(connectionTo(url), { clock });
      const { sleeps } = await drive(clock, transport.request("GET", "/api"));
      deepEqual(sleeps, [7000]);
      equal(hits(), 2);
    },
  );
});

Deno.test("a 429 storm: each retry waits as Retry-After says (capped), no tight request loop", async () => {
  // Five 429s in a row, then an answer: one request per Retry-After, never more.
  await withServer(
    (_, n) =>
      n <= 5
        ? json({ kind: "Status", code: 429, reason: "TooManyRequests" }, 429, {
          "Retry-After": n === 5 ? "3600" : "2",
        })
        : json({}),
    async (url, hits) => {
      const clock = new clocks.FakeClock();
      using transport = new transports.Transport(connectionTo(url), {
        clock,
        settings: { retries: 6 },
      });
      const { sleeps } = await drive(clock, transport.request("GET", "/api"));
      // A Retry-After of an hour is capped by retryMaxDelaySeconds (30 s by default).
      deepEqual(sleeps, [2000, 2000, 2000, 2000, 30_000]);
      equal(hits(), 6, "six requests over 38 s of a storm: no tight loop");
    },
  );
});

Deno.test("retries stop after the configured number and the last error surfaces", async () => {
  await withServer(() => status(503, "ServiceUnavailable", "etcd is down"), async (url, hits) => {
    const clock = new clocks.FakeClock();
    using transport = new transports.Transport(connectionTo(url), {
      clock,
      settings: { retries: 2 },
    });
    await rejects(drive(clock, transport.request("GET", "/api")), (e: unknown) => {
      ok(e instanceof errors.ApiServerError);
      match(
        e.message,
        /GET http:\/\/127\.0\.0\.1:\d+\/api failed with 503 ServiceUnavailable: etcd is down/,
      );
      return true;
    });
    equal(hits(), 3);
  });
});

Deno.test("a 401 refreshes the credentials once and retries with the new ones", async () => {
  let token = "old";
  const authenticator: connections.Authenticator = {
    credentials: () => Promise.resolve({ authorization: `Bearer ${token}` }),
    refresh: () => {
      token = "new";
      return Promise.resolve(true);
    },
  };
  const seen: string[] = [];
  await withServer((request) => {
    const auth = request.headers.get("authorization") ?? "";
    seen.push(auth);
    return auth === "Bearer new" ? json({ ok: true }) : status(401, "Unauthorized");
  }, async (url) => {
    using transport = new transports.Transport(connectionTo(url, authenticator));
    deepEqual(await transport.request("GET", "/api"), { ok: true });
    deepEqual(seen, ["Bearer old", "Bearer new"]);
  });
});

Deno.test("a 401 that a refresh does not cure fails with ApiUnauthorizedError after one retry", async () => {
  const authenticator: connections.Authenticator = {
    credentials: () => Promise.resolve({ authorization: "Bearer bad" }),
    refresh: () => Promise.resolve(true),
  };
  await withServer(() => status(401, "Unauthorized"), async (url, hits) => {
    using transport = new transports.Transport(connectionTo(url, authenticator));
    await rejects(transport.request("GET", "/api"), errors.ApiUnauthorizedError);
    equal(hits(), 2);
  });
});

Deno.test("403 is not retried and its message names the verb and the resource", async () => {
  const message =
    'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group ""';
  await withServer(() => status(403, "Forbidden", message), async (url, hits) => {
    using transport = new transports.Transport(connectionTo(url));
    await rejects(transport.request("GET", "/api/v1/configmaps"), (e: unknown) => {
      ok(e instanceof errors.ApiForbiddenError);
      ok(e.message.includes(message));
      return true;
    });
    equal(hits(), 1);
  });
});

Deno.test("a proxy's non-JSON error page becomes an ApiServerError with its text", async () => {
  await withServer(() => new Response("<html>bad gateway</html>", { status: 502 }), async (url) => {
    using transport = new transports.Transport(connectionTo(url), { settings: { retries: 0 } });
    await rejects(transport.request("GET", "/api"), /failed with 502: <html>bad gateway<\/html>/);
  });
});

Deno.test("a server that does not answer in time gives a timeout error", async () => {
  const never = Promise.withResolvers<void>();
  await withServer(async () => {
    await never.promise;
    return json({});
  }, async (url) => {
    using transport = new transports.Transport(connectionTo(url), {
      settings: { requestTimeoutSeconds: 0.2, retries: 0 },
    });
    await rejects(transport.request("GET", "/api"), (e: unknown) => {
      ok(e instanceof errors.TransportError);
      match(e.message, /GET http:\/\/127\.0\.0\.1:\d+\/api timed out after 0\.2 s/);
      return true;
    });
    never.resolve();
  });
});

Deno.test("an unreachable server gives a connection-refused error that names the kubeconfig", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  using transport = new transports.Transport(connectionTo(`http://127.0.0.1:${port}`), {
    settings: { retries: 0 },
  });
  await rejects(transport.request("GET", "/api"), (e: unknown) => {
    ok(e instanceof errors.TransportError);
    match(
      e.message,
      /failed: .*Connection refused.*; is the API server of test kubeconfig running\?/,
    );
    return true;
  });
});

Deno.test("an aborted request rejects with the abort reason and is not retried", async () => {
  const controller = new AbortController();
  await withServer(async () => {
    controller.abort(new Error("operator stopping"));
    await new Promise((r) => setTimeout(r, 50));
    return status(503, "ServiceUnavailable");
  }, async (url, hits) => {
    using transport = new transports.Transport(connectionTo(url));
    await rejects(
      transport.request("GET", "/api", { signal: controller.signal }),
      /operator stopping/,
    );
    equal(hits(), 1);
  });
});

/** A CA and a serving certificate for 127.0.0.1 signed by it (rustls refuses a CA as leaf). */
async function servingCertificate(): Promise<{ ca: string; cert: string; key: string }> {
  const dir = await Deno.makeTempDir();
  const openssl = async (...args: string[]) => {
    const { success, stderr } = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    ok(success, `openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
  };
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    await openssl(
      "req",
      "-x509",
      ...ec,
      "-days",
      "1",
      "-subj",
      "/CN=test-ca",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
    );
    await openssl("req", ...ec, "-subj", "/CN=127.0.0.1", "-keyout", "tls.key", "-out", "tls.csr");
    await Deno.writeTextFile(
      `${dir}/ext`,
      "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    await openssl(
      "x509",
      "-req",
      "-in",
      "tls.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      "ext",
      "-out",
      "tls.crt",
    );
    const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
    return { ca: await read("ca.crt"), cert: await read("tls.crt"), key: await read("tls.key") };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("TLS: an untrusted server certificate fails with a hint at the certificate-authority", async () => {
  const { ca, ...tls } = await servingCertificate();
  await withServer(() => json({ ok: true }), async (url) => {
    using transport = new transports.Transport(connectionTo(url), { settings: { retries: 0 } });
    await rejects(transport.request("GET", "/api"), (e: unknown) => {
      ok(e instanceof errors.TransportError);
      match(
        e.message,
        /TLS verification failed.*check the certificate-authority of test kubeconfig/,
      );
      return true;
    });
    // The same server is trusted once its CA is given.
    using trusting = new transports.Transport({ ...connectionTo(url), caCerts: [ca] });
    deepEqual(await trusting.request("GET", "/api"), { ok: true });
  }, tls);
});

Deno.test("insecure-skip-tls-verify is refused with an explanation unless confirmed process-wide", () => {
  const connection = { ...connectionTo("https://10.0.0.1:6443"), insecureSkipTlsVerify: true };
  let message = "";
  try {
    new transports.Transport(connection);
  } catch (e) {
    ok(e instanceof errors.ConfigError);
    message = e.message;
  }
  match(
    message,
    /Deno can skip TLS verification only process-wide; start Deno with --unsafely-ignore-certificate-errors=10\.0\.0\.1/,
  );
  new transports.Transport(connection, { insecureSkipTlsVerifyProcessWide: true }).close();
});

Deno.test("requests ask for no compression: gzip broke watch streams on a real API server", async () => {
  const seen: (string | null)[] = [];
  await withServer((request) => {
    seen.push(request.headers.get("accept-encoding"));
    return json({});
  }, async (url) => {
    using transport = new transports.Transport(connectionTo(url));
    await transport.request("GET", "/api");
    const body = await transport.stream("GET", "/api/v1/configmaps", { query: { watch: 1 } });
    await body.cancel();
  });
  deepEqual(seen, ["identity", "identity"]);
});
