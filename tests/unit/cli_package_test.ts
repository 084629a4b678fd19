// The @kopf/cli package (packages/cli): its entry point runs the command line with the process's
// arguments and exit code, its version follows @kopf/kopf's, and `kopf run` imports handler
// modules given as http(s): and file: URLs.

import { deepEqual, equal, match } from "node:assert/strict";

const ENTRY = new URL("../../packages/cli/main.ts", import.meta.url).pathname;

async function runEntry(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ENTRY, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
}

Deno.test("jsr:@kopf/cli runs the command line with the process's arguments and exit code", async () => {
  deepEqual(await runEntry(["--version"]), { code: 0, stdout: "kopf 0.1.0", stderr: "" });
  const usage = await runEntry(["run", "--no-such-option"]);
  equal(usage.code, 2);
  match(usage.stderr, /^kopf run: Unknown option "--no-such-option"; see kopf run --help$/);
});

Deno.test("@kopf/cli is versioned together with @kopf/kopf", async () => {
  const read = async (path: string) =>
    JSON.parse(await Deno.readTextFile(new URL(path, import.meta.url))) as {
      name: string;
      version: string;
    };
  const root = await read("../../deno.json");
  const cliPackage = await read("../../packages/cli/deno.json");
  deepEqual([root.name, cliPackage.name], ["@kopf/kopf", "@kopf/cli"]);
  equal(cliPackage.version, root.version);
});

Deno.test("kopf run imports handler modules from file: URLs, and from http: with the CLI", async () => {
  const root = new URL("../../", import.meta.url);
  const marker = "tests/_fixtures/handlers/startup_marker.ts";
  // A static server of the repository: the CLI and the handlers from one origin, as a user
  // runs them from a URL (a remote module may not import local files, so both are remote).
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const file = new URL(`.${new URL(req.url).pathname}`, root);
      try {
        return new Response(await Deno.readTextFile(file), {
          headers: { "content-type": "application/typescript" },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  // Remote modules resolve our bare specifiers (npm packages) through an import map of their
  // own here; published on JSR, the package's dependencies are rewritten instead.
  const { imports } = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const config = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(config, JSON.stringify({ imports }));
  const runCli = async (cliSpecifier: string, handlers: string) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock", // the served modules' hashes (a random port each run) stay out of deno.lock
        ...(cliSpecifier.startsWith("http") ? ["--config", config] : []),
        cliSpecifier,
        "run",
        "--log-format",
        "plain",
        "-n",
        "x",
        handlers,
      ],
      cwd: root.pathname,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", KUBECONFIG: "/nonexistent/kubeconfig" }, // stops after the startup
    }).output();
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
    return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
  };
  const fileUrl = new URL(marker, root).href;
  const local = await runCli(new URL("cli.ts", root).pathname, fileUrl);
  equal(local.stdout, `startup ran: ${fileUrl}`, local.stderr);
  equal(local.code, 1);
  // The startup handler's line, then one line for the kubeconfig: no stack trace, it is input.
  // (Deno's own "Download …" lines come first on a machine whose module cache is cold.)
  deepEqual(local.stderr.split("\n").filter((line) => !line.startsWith("Download ")), [
    "Handler 'marker' succeeded",
    'The operator cannot run: Cannot use KUBECONFIG "/nonexistent/kubeconfig": none of its files exists',
  ]);
  const remote = await runCli(`${origin}/cli.ts`, `${origin}/${marker}`);
  equal(remote.stdout, `startup ran: ${origin}/${marker}`, remote.stderr);
  equal(remote.code, 1);
  await Deno.remove(config);
});
