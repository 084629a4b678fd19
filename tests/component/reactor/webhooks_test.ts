// The webhook server over real sockets, with `fetch` as the API server: HTTPS with the
// generated CA (trusted through Deno.createHttpClient({ caCerts })), admission and conversion
// reviews, bad input answered in one line while the server keeps serving, certificate files
// missing at start or rotated while it runs, and the plain HTTP mode.

import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import * as certificates from "../../../lib/engines/certificates.ts";
import * as engine from "../../../lib/engines/admission.ts";
import * as logging from "../../../lib/engines/logging.ts";
import * as webhooks from "../../../lib/reactor/webhooks.ts";
import type * as admission from "../../../lib/registry/admission.ts";
import * as on from "../../../lib/registry/registering.ts";
import * as registries from "../../../lib/registry/registries.ts";
import * as admissionSettings from "../../../lib/settings/admission.ts";

const RESOURCE = { group: "kopf.dev", version: "v1", plural: "kopfexamples", namespaced: true };

function registryWithHandlers(): registries.OperatorRegistry {
  const registry = new registries.OperatorRegistry();
  on.on.validate(
    "kopfexamples",
    { registry },
    function check_size({ spec, warnings }: admission.AdmissionContext) {
      if (typeof spec.size !== "number") {
        throw new engine.AdmissionError("spec.size is required", {
          code: 422,
        });
      }
      if (spec.size > 10) warnings.push("spec.size above 10 is slow");
    },
  );
  on.on.mutate(
    "kopfexamples",
    { registry },
    function add_label({ patch }: admission.AdmissionContext) {
      patch.metadata.labels["kopf.dev/mutated"] = "yes";
    },
  );
  on.on.validate("kopfexamples", { registry }, function broken() {
    throw new Error("a bug");
  });
  on.on.convert(
    "kopfexamples.kopf.dev",
    { registry, from: "v1", to: "v2" },
    function up({ body }: admission.ConversionContext) {
      const spec = body.spec as Record<string, unknown>;
      spec.replicas = spec.size;
      delete spec.size;
    },
  );
  return registry;
}

function settings(overrides: Partial<admissionSettings.AdmissionSettings> = {}) {
  return { ...admissionSettings.defaultAdmission(), address: "127.0.0.1", port: 0, ...overrides };
}

function reviewBody(spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "uid-1",
      operation: "CREATE",
      userInfo: { username: "alice" },
      resource: { group: "kopf.dev", version: "v1", resource: "kopfexamples" },
      namespace: "default",
      object: { metadata: { name: "kex-1", namespace: "default" }, spec },
    },
  };
}

/** A server and a client that trusts its CA; both closed at the end. */
async function withServer(
  fn: (
    post: (path: string, body: unknown) => Promise<Response>,
    server: webhooks.Webhooks,
  ) => Promise<void>,
  overrides: Partial<admissionSettings.AdmissionSettings> = {},
  registry = registryWithHandlers(),
): Promise<void> {
  const server = await webhooks.startWebhooks({
    registry,
    settings: settings(overrides),
    resources: [RESOURCE],
  });
  ok(server);
  const client = server.ca === undefined
    ? undefined
    : Deno.createHttpClient({ caCerts: [server.ca] });
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "content-type": "application/json" },
      ...(client ? { client } : {}),
    });
  try {
    await fn(post, server);
  } finally {
    client?.close();
    await server.stop();
  }
}

async function captureLogs(): Promise<string[]> {
  const lines: string[] = [];
  await logging.configureLogging({
    level: "info",
    format: "plain",
    output: (line) => lines.push(line),
  });
  return lines;
}

Deno.test("the webhook server answers admission reviews over HTTPS trusted through its generated CA", async () => {
  await withServer(async (post, server) => {
    match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    equal(server.clientConfig.url, server.url);
    equal(atob(server.clientConfig.caBundle!), server.ca);

    const mutated = await (await post("/add_label", reviewBody({ size: 1 }))).json();
    equal(mutated.response.allowed, true);
    deepEqual(JSON.parse(atob(mutated.response.patch)), [
      { op: "add", path: "/metadata/labels", value: { "kopf.dev/mutated": "yes" } },
    ]);

    const rejected = await (await post("/check_size", reviewBody({}))).json();
    deepEqual(rejected.response, {
      uid: "uid-1",
      allowed: false,
      status: { code: 422, message: "spec.size is required" },
    });

    const warned = await (await post("/check_size", reviewBody({ size: 11 }))).json();
    deepEqual(warned.response, {
      uid: "uid-1",
      allowed: true,
      warnings: ["spec.size above 10 is slow"],
    });
  });
});

Deno.test("the webhook server fails the call (HTTP 500) when a handler throws an unexpected error", async () => {
  const logs = await captureLogs();
  try {
    await withServer(async (post) => {
      const response = await post("/broken", reviewBody({ size: 1 }));
      equal(response.status, 500);
      deepEqual(await response.json(), { message: "The admission handlers failed: a bug" });
      // The handler's bug comes with its stack trace, as other handlers' unexpected errors do.
      ok(
        logs.some((l) =>
          l.startsWith("[default/kex-1] Webhook 'broken' failed with an unexpected error: a bug\n")
        ),
        logs.join("\n"),
      );
    });
  } finally {
    await logging.resetLogging();
  }
});

Deno.test("the webhook server converts objects for CRD conversion reviews at /convert/<crd>", async () => {
  await withServer(async (post) => {
    const response = await post("/convert/kopfexamples.kopf.dev", {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "ConversionReview",
      request: {
        uid: "c1",
        desiredAPIVersion: "kopf.dev/v2",
        objects: [{
          apiVersion: "kopf.dev/v1",
          kind: "KopfExample",
          metadata: { name: "a" },
          spec: { size: 2 },
        }],
      },
    });
    equal(response.status, 200);
    deepEqual((await response.json()).response, {
      uid: "c1",
      convertedObjects: [{
        apiVersion: "kopf.dev/v2",
        kind: "KopfExample",
        metadata: { name: "a" },
        spec: { replicas: 2 },
      }],
      result: { status: "Success" },
    });
  });
});

Deno.test("bad requests are answered and logged in one line each, and the server keeps serving", async () => {
  const logs = await captureLogs();
  try {
    await withServer(async (post, server) => {
      const client = Deno.createHttpClient({ caCerts: [server.ca!] });
      try {
        const cases: [Promise<Response>, number, string][] = [
          [post("/check_size", "{not json"), 400, "The body is not JSON: "],
          [
            post("/check_size", { kind: "Pod" }),
            400,
            `The body is not an AdmissionReview: "kind" is "Pod"`,
          ],
          [post("/check_size", "x".repeat(2048)), 413, "The body is larger than 1024 bytes"],
          [
            post("/nobody", reviewBody({ size: 1 })),
            404,
            `No admission handler has the id "nobody"`,
          ],
          [
            post("/convert/others.other.dev", {
              kind: "ConversionReview",
              request: { uid: "1", desiredAPIVersion: "other.dev/v2", objects: [] },
            }),
            404,
            `No conversion function serves "others.other.dev"`,
          ],
          [fetch(`${server.url}/check_size`, { client }), 405, "Only POST is served, not GET"],
        ];
        for (const [pending, status, message] of cases) {
          const response = await pending;
          equal(response.status, status);
          const body = await response.json();
          ok(body.message.startsWith(message), `${body.message} should start with ${message}`);
        }
        // A body without a length is cut off as it streams past the limit.
        const streamed = await fetch(`${server.url}/check_size`, {
          method: "POST",
          body: new ReadableStream({
            start(controller) {
              for (let i = 0; i < 4; i++) {
                controller.enqueue(new TextEncoder().encode("x".repeat(512)));
              }
              controller.close();
            },
          }),
          client,
        });
        equal(streamed.status, 413);
        equal((await streamed.json()).message, "The body is larger than 1024 bytes");
        const warnings = logs.filter((l) => l.startsWith("Webhook request "));
        equal(warnings.length, cases.length + 1, warnings.join("\n"));
        match(
          warnings[2]!,
          /^Webhook request POST \/check_size answered 413: The body is larger than 1024 bytes$/,
        );
        ok(warnings.every((line) => !line.includes("\n")));
        // Still serving.
        equal(
          (await (await post("/check_size", reviewBody({ size: 1 }))).json()).response.allowed,
          true,
        );
      } finally {
        client.close();
      }
    }, { maxBodyBytes: 1024 });
  } finally {
    await logging.resetLogging();
  }
});

Deno.test("a missing certificate file stops the start with one line naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await rejects(
      webhooks.startWebhooks({
        registry: registryWithHandlers(),
        settings: settings({ certFile: `${dir}/tls.crt`, keyFile: `${dir}/tls.key` }),
        resources: [],
      }),
      { message: `Cannot read the webhook certificate file "${dir}/tls.crt": it does not exist` },
    );
    await rejects(
      webhooks.startWebhooks({
        registry: registryWithHandlers(),
        settings: settings({ certFile: `${dir}/tls.crt` }),
        resources: [],
      }),
      { message: /give both a certificate file and its key file, or neither/ },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreadable or non-PEM certificate file stops the start with one line naming it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Unreadable whoever runs it (root reads any file): a directory where the file should be.
    await Deno.mkdir(`${dir}/tls.crt`);
    await Deno.writeTextFile(`${dir}/tls.key`, "not a key\n");
    const start = () =>
      webhooks.startWebhooks({
        registry: registryWithHandlers(),
        settings: settings({ certFile: `${dir}/tls.crt`, keyFile: `${dir}/tls.key` }),
        resources: [],
      });
    const unreadable = await start().then(() => undefined, (error: Error) => error);
    match(
      unreadable?.message ?? "",
      new RegExp(`^Cannot read the webhook certificate file "${dir}/tls\\.crt": .+$`),
    );
    equal(unreadable?.message.includes("\n"), false, "one line");
    await Deno.remove(`${dir}/tls.crt`);
    await Deno.writeTextFile(`${dir}/tls.crt`, "-----BEGIN CERTIFICATE-----\nx\n");
    await rejects(start(), {
      message:
        `Cannot use the webhook key file "${dir}/tls.key": it has no PEM "PRIVATE KEY" block`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("certificate files are served, re-read when they change, and a broken rotation keeps the old ones", async () => {
  const dir = await Deno.makeTempDir();
  const logs = await captureLogs();
  const write = async (tls: certificates.TlsMaterial) => {
    await Deno.writeTextFile(`${dir}/tls.crt`, tls.cert);
    await Deno.writeTextFile(`${dir}/tls.key`, tls.key);
    await Deno.writeTextFile(`${dir}/ca.crt`, tls.ca);
  };
  const first = await certificates.selfSigned(["127.0.0.1"]);
  const second = await certificates.selfSigned(["127.0.0.1"]);
  await write(first);
  const files = { certFile: `${dir}/tls.crt`, keyFile: `${dir}/tls.key`, caFile: `${dir}/ca.crt` };
  try {
    await withServer(async (post, server) => {
      equal(server.ca, first.ca);
      equal(
        (await (await post("/check_size", reviewBody({ size: 1 }))).json()).response.allowed,
        true,
      );

      await write(second);
      const trusting = Deno.createHttpClient({ caCerts: [second.ca] });
      try {
        await eventually(async () => {
          const response = await fetch(`${server.url}/check_size`, {
            method: "POST",
            body: JSON.stringify(reviewBody({ size: 1 })),
            client: trusting,
          }).catch(() => undefined);
          await response?.body?.cancel();
          return response?.status === 200;
        }, "the server to serve the renewed certificate");
        equal(server.ca, second.ca);
        equal(atob(server.clientConfig.caBundle!), second.ca);

        await Deno.writeTextFile(`${dir}/tls.key`, "not a key");
        await eventually(
          () =>
            Promise.resolve(
              logs.some((l) => l.startsWith("Cannot use the renewed certificate files: ")),
            ),
          "the broken rotation to be logged",
        );
        const again = await fetch(`${server.url}/check_size`, {
          method: "POST",
          body: JSON.stringify(reviewBody({ size: 1 })),
          client: trusting,
        });
        equal(again.status, 200);
        await again.body?.cancel();

        await Deno.remove(`${dir}/tls.crt`);
        await eventually(
          () =>
            Promise.resolve(
              logs.some((l) =>
                l.includes(`"${dir}/tls.crt": it does not exist; serving the previous certificate`)
              ),
            ),
          "the missing file to be logged",
        );
      } finally {
        trusting.close();
      }
    }, { ...files, fileCheckIntervalSeconds: 0.05 });
  } finally {
    await logging.resetLogging();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the plain HTTP mode serves without TLS and advertises the proxy's URL", async () => {
  await withServer(async (post, server) => {
    match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    equal(server.ca, undefined);
    deepEqual(server.clientConfig, { url: "https://proxy.example.com/hooks" });
    equal(
      (await (await post("/check_size", reviewBody({ size: 1 }))).json()).response.allowed,
      true,
    );
  }, { insecure: true, url: "https://proxy.example.com/hooks" });
});

async function eventually(probe: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
