// The --webhook-* options of kopf run: parsed into settings.admission, from the command line or
// KOPF_RUN_WEBHOOK_* variables, and every mistake as one UsageError naming the option.

import { deepEqual, equal, throws } from "node:assert/strict";
import * as args from "../../../lib/kits/arguments.ts";
import * as operatorSettings from "../../../lib/settings/operator.ts";

Deno.test("--webhook-* options go into settings.admission; what they do not say stays", () => {
  const parsed = args.parseRunArgs([
    "--webhook-address",
    "127.0.0.1",
    "--webhook-port",
    "8443",
    "--webhook-host",
    "operator.local",
    "--webhook-cert",
    "/tls/tls.crt",
    "--webhook-key",
    "/tls/tls.key",
    "--webhook-ca",
    "/tls/ca.crt",
    "--webhook-managed",
    "op.example.com",
    "h.ts",
  ], { env: {} });
  const settings = operatorSettings.defaultSettings();
  args.applyAdmission(parsed, settings);
  deepEqual(
    { ...settings.admission },
    {
      ...operatorSettings.defaultSettings().admission,
      address: "127.0.0.1",
      port: 8443,
      host: "operator.local",
      certFile: "/tls/tls.crt",
      keyFile: "/tls/tls.key",
      caFile: "/tls/ca.crt",
      managed: "op.example.com",
    },
  );
});

Deno.test("--webhook-* options come from KOPF_RUN_WEBHOOK_* variables too", () => {
  const parsed = args.parseRunArgs(["h.ts"], {
    env: {
      KOPF_RUN_WEBHOOK_PORT: "0",
      KOPF_RUN_WEBHOOK_INSECURE: "1",
      KOPF_RUN_WEBHOOK_URL: "https://proxy/x",
    },
  });
  deepEqual(parsed.webhooks, { port: 0, url: "https://proxy/x", insecure: true });
  deepEqual(args.parseRunArgs(["h.ts"], { env: {} }).webhooks, {});
});

Deno.test("bad --webhook-* options are one UsageError each", () => {
  const bad = (argv: string[], message: string) =>
    throws(() => args.parseRunArgs([...argv, "h.ts"], { env: {} }), (error: Error) => {
      equal(error.message, message);
      return error instanceof args.UsageError;
    });
  bad(["--webhook-port", "http"], `The webhook port must be a number from 0 to 65535, not "http"`);
  bad(
    ["--webhook-port", "70000"],
    `The webhook port must be a number from 0 to 65535, not "70000"`,
  );
  bad(["--webhook-url", "proxy:443"], `The webhook URL "proxy:443" is not an http(s) URL`);
  bad(["--webhook-cert", "tls.crt"], "Give both --webhook-cert and --webhook-key, or neither");
});
