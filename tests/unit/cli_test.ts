// The `kopf` command line without a cluster: how arguments and KOPF_RUN_* variables become
// options, what the help says, and how every bad invocation ends: one line and an exit code.

import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import * as cli from "../../cli.ts";
import * as logging from "../../lib/engines/logging.ts";
import * as registering from "../../lib/registry/registering.ts";
import * as registries from "../../lib/registry/registries.ts";
import * as args from "../../lib/kits/arguments.ts";
import * as freezing from "../../lib/kits/freezing.ts";
import * as operatorSettings from "../../lib/settings/operator.ts";

interface Invocation {
  code: number;
  stdout: string[];
  stderr: string[];
}

/** Runs `kopf …` with no environment, an empty registry, and the output captured. */
async function kopf(args: string[], controls: cli.CliControls = {}): Promise<Invocation> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  try {
    const code = await cli.main(args, {
      env: {},
      registry: new registries.OperatorRegistry(),
      handleSignals: false,
      freshImports: true,
      stdout: (line) => stdout.push(...line.split("\n")),
      stderr: (line) => stderr.push(...line.split("\n")),
      ...controls,
    });
    return { code, stdout, stderr };
  } finally {
    await logging.resetLogging();
  }
}

/** A directory of handler modules written by the test, removed afterwards. */
async function modules(files: Record<string, string>) {
  const dir = await Deno.makeTempDir({ prefix: "kopf-cli-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

function oneLine(result: Invocation, code: number, pattern: RegExp): void {
  equal(result.code, code, `exit code; stderr: ${result.stderr.join("\n")}`);
  equal(result.stderr.length, 1, `one line, got:\n${result.stderr.join("\n")}`);
  match(result.stderr[0] ?? "", pattern);
}

// ---- parsing ----

Deno.test("parseRunArgs() reads every option of kopf run", () => {
  const parsed = cli.parseRunArgs([
    "-m",
    "jsr:@acme/handlers",
    "a.ts",
    "--module=./b.ts",
    "-n",
    "team-*,!team-pr-*",
    "--namespace",
    "default",
    "--standalone",
    "-P",
    "example",
    "-p",
    "100",
    "-L",
    "http://0.0.0.0:8080/healthz",
    "--metrics",
    "http://0.0.0.0:9090/metrics",
    "-v",
    "--log-format",
    "json",
    "--log-refkey=k8s",
    "--log-prefix",
    "--context",
    "staging",
    "--webhook-port",
    "0",
    "--webhook-managed",
    "op.example.com",
    "https://example.com/c.ts",
  ], { env: {} });
  deepEqual(parsed, {
    paths: ["a.ts", "https://example.com/c.ts"],
    modules: ["jsr:@acme/handlers", "./b.ts"],
    namespaces: ["team-*,!team-pr-*", "default"],
    clusterwide: false,
    standalone: true,
    peering: "example",
    priority: 100,
    liveness: "http://0.0.0.0:8080/healthz",
    metrics: "http://0.0.0.0:9090/metrics",
    logging: { level: "debug", format: "json", prefix: true, refkey: "k8s" },
    context: "staging",
    webhooks: { port: 0, managed: "op.example.com" },
    help: false,
    version: false,
  });
});

Deno.test("parseRunArgs() defaults to Kopf's: info level, full format, prefixes, no peering", () => {
  const parsed = cli.parseRunArgs(["handlers.ts"], { env: {} });
  deepEqual(parsed.logging, { level: "info", format: "full", prefix: true });
  equal(parsed.clusterwide, false);
  deepEqual(parsed.namespaces, []);
  equal(parsed.standalone, false);
  equal(parsed.peering, undefined);
  equal(parsed.priority, undefined);
  equal(parsed.liveness, undefined);
  equal(parsed.context, undefined);
});

Deno.test("parseRunArgs() groups short flags and maps -d, -v, -q, --dev as Kopf does", () => {
  const parsed = cli.parseRunArgs(["-Aq", "x.ts"], { env: {} });
  equal(parsed.clusterwide, true);
  equal(parsed.logging.level, "warning");
  equal(cli.parseRunArgs(["-d", "-q", "x.ts"], { env: {} }).logging.level, "debug");
  equal(cli.parseRunArgs(["--dev", "-p", "5", "x.ts"], { env: {} }).priority, 666);
  equal(cli.parseRunArgs(["--priority=-5", "x.ts"], { env: {} }).priority, -5);
});

Deno.test("parseRunArgs(): the later of --log-prefix and --no-log-prefix wins; json has none", () => {
  const prefix = (...args: string[]) => cli.parseRunArgs(args, { env: {} }).logging.prefix;
  equal(prefix("--log-prefix", "--no-log-prefix"), false);
  equal(prefix("--no-log-prefix", "--log-prefix"), true);
  equal(prefix("--log-format", "json"), false);
  equal(prefix("--log-format", "JSON", "--log-prefix"), true);
});

Deno.test("parseRunArgs() takes options from KOPF_RUN_* variables", () => {
  const parsed = cli.parseRunArgs(["x.ts"], {
    env: {
      KOPF_RUN_NAMESPACE: "team-a  team-b,!team-b-pr",
      KOPF_RUN_MODULE: "jsr:@acme/a ./b.ts",
      KOPF_RUN_LIVENESS: "http://0.0.0.0:8080/healthz",
      KOPF_RUN_LOG_FORMAT: "json",
      KOPF_RUN_LOG_PREFIX: "yes",
      KOPF_RUN_LOG_REFKEY: "ref",
      KOPF_RUN_QUIET: "1",
      KOPF_RUN_STANDALONE: "true",
      KOPF_RUN_PEERING: "example",
      KOPF_RUN_PRIORITY: "10",
      KOPF_RUN_CONTEXT: "staging",
    },
  });
  deepEqual(parsed.namespaces, ["team-a", "team-b,!team-b-pr"]);
  deepEqual(parsed.modules, ["jsr:@acme/a", "./b.ts"]);
  equal(parsed.liveness, "http://0.0.0.0:8080/healthz");
  deepEqual(parsed.logging, { level: "warning", format: "json", prefix: true, refkey: "ref" });
  equal(parsed.standalone, true);
  equal(parsed.peering, "example");
  equal(parsed.priority, 10);
  equal(parsed.context, "staging");
  equal(cli.parseRunArgs(["x.ts"], { env: { KOPF_RUN_ALL_NAMESPACES: "1" } }).clusterwide, true);
  equal(cli.parseRunArgs(["x.ts"], { env: { KOPF_RUN_ALL_NAMESPACES: "0" } }).clusterwide, false);
  equal(cli.parseRunArgs(["x.ts"], { env: { KOPF_RUN_DEBUG: "" } }).logging.level, "info");
});

Deno.test("parseRunArgs() accepts Kopf's own variable names too", () => {
  const parsed = cli.parseRunArgs([], {
    env: {
      KOPF_RUN_NAMESPACES: "a b",
      KOPF_RUN_MODULES: "m",
      KOPF_RUN_LIVENESS_ENDPOINT: "http://0.0.0.0:8080/",
    },
  });
  deepEqual(parsed.namespaces, ["a", "b"]);
  deepEqual(parsed.modules, ["m"]);
  equal(parsed.liveness, "http://0.0.0.0:8080/");
  equal(cli.parseRunArgs([], { env: { KOPF_RUN_CLUSTERWIDE: "on" } }).clusterwide, true);
  const ours = cli.parseRunArgs([], {
    env: { KOPF_RUN_NAMESPACE: "ours", KOPF_RUN_NAMESPACES: "x" },
  });
  deepEqual(ours.namespaces, ["ours"]);
});

Deno.test("parseRunArgs(): flags win over variables, for a whole choice at once", () => {
  const env = {
    KOPF_RUN_ALL_NAMESPACES: "1",
    KOPF_RUN_DEBUG: "1",
    KOPF_RUN_LOG_FORMAT: "json",
    KOPF_RUN_LOG_PREFIX: "0",
    KOPF_RUN_DEV: "1",
  };
  const parsed = cli.parseRunArgs(
    ["-n", "ns", "-q", "--log-format", "plain", "--log-prefix", "-p", "7"],
    { env },
  );
  deepEqual(parsed.namespaces, ["ns"]);
  equal(parsed.clusterwide, false);
  equal(parsed.logging.level, "warning");
  equal(parsed.logging.format, "plain");
  equal(parsed.logging.prefix, true);
  equal(parsed.priority, 7);
  deepEqual(
    cli.parseRunArgs(["-A"], { env: { KOPF_RUN_NAMESPACE: "ns" } }).namespaces,
    [],
  );
});

Deno.test("parseRunArgs() rejects bad values, naming the option or variable", () => {
  const bad = (args: string[], pattern: RegExp, env: Record<string, string> = {}) =>
    throws(() => cli.parseRunArgs(args, { env }), (error: Error) => {
      ok(error instanceof cli.UsageError, `${error}`);
      match(error.message, pattern);
      return true;
    });
  bad(["--bogus"], /^Unknown option "--bogus"$/);
  bad(["-Ax"], /^Unknown option "-x"$/);
  bad(["-n"], /^Option "-n" needs a value$/);
  bad(["-n", "-A"], /^Option "-n" needs a value, not "-A" \(use --namespace=VALUE\)$/);
  bad(["--dev=yes"], /^Option "--dev" takes no value$/);
  bad(["-n", "a", "-A"], /Either -n\/--namespace or -A\/--all-namespaces can be used, not both/);
  bad([], /Either -n/, { KOPF_RUN_NAMESPACE: "a", KOPF_RUN_ALL_NAMESPACES: "1" });
  bad(["--log-format", "yaml"], /Unknown log format "yaml": use plain, full, or json/);
  bad(["-p", "high"], /The priority must be an integer, not "high"/);
  bad(["-L", "https://0.0.0.0:8443/healthz"], /only http: is supported/);
  bad(["-n", "team-[z-a]"], /Cannot parse the namespace pattern "team-\[z-a\]"/);
  bad([], /KOPF_RUN_ALL_NAMESPACES="maybe" is not a switch/, { KOPF_RUN_ALL_NAMESPACES: "maybe" });
});

// ---- help and version ----

const EVERY_OPTION = [
  "-m, --module",
  "-n, --namespace",
  "-A, --all-namespaces",
  "--standalone",
  "-P, --peering",
  "-p, --priority",
  "--dev",
  "-L, --liveness",
  "--metrics",
  "-v, --verbose",
  "-d, --debug",
  "-q, --quiet",
  "--log-format",
  "--log-refkey",
  "--log-prefix",
  "--no-log-prefix",
  "--context",
  "-h, --help",
  "-V, --version",
];

Deno.test("kopf run --help lists every option, the variables, and how peering is chosen", async () => {
  const { code, stdout, stderr } = await kopf(["run", "--help"]);
  equal(code, 0);
  deepEqual(stderr, []);
  const help = stdout.join("\n");
  for (const option of EVERY_OPTION) ok(help.includes(option), `${option} in:\n${help}`);
  match(
    help,
    /Peering:\n\s+Without these, the operator peers through the KopfPeering [\s\S]*docs\/peering\.md/,
  );
  for (const name of ["KOPF_RUN_NAMESPACE", "KOPF_RUN_ALL_NAMESPACES", "KOPF_RUN_LIVENESS"]) {
    ok(help.includes(name), name);
  }
  ok(stdout.every((line) => line.length <= 100), "lines fit 100 columns");
  equal((await kopf(["run", "x.ts", "-h"])).code, 0);
});

Deno.test("kopf --help, kopf help and kopf alone show the commands", async () => {
  for (const args of [["--help"], ["-h"], ["help"]]) {
    const { code, stdout } = await kopf(args);
    equal(code, 0);
    match(stdout.join("\n"), /Usage: kopf <command>[\s\S]*run \[paths\|URLs\.\.\.\]/);
  }
  const bare = await kopf([]);
  equal(bare.code, 2);
  match(bare.stdout.join("\n"), /Usage: kopf <command>/);
});

Deno.test("kopf --version and kopf run --version print the version", async () => {
  for (const args of [["--version"], ["-V"], ["run", "--version"], ["run", "-V"]]) {
    const { code, stdout } = await kopf(args);
    equal(code, 0);
    deepEqual(stdout, ["kopf 0.1.0"]);
  }
});

// ---- bad invocations: one line, an exit code, no operator ----

Deno.test("an unknown option is one line naming it and the help, exit code 2", async () => {
  oneLine(
    await kopf(["run", "--namespaces", "x", "h.ts"]),
    2,
    /^kopf run: Unknown option "--namespaces"; see kopf run --help$/,
  );
  oneLine(await kopf(["--verbose"]), 2, /^kopf: Unknown option "--verbose"; see kopf --help$/);
  oneLine(await kopf(["runn"]), 2, /^kopf: Unknown command "runn"; see kopf --help$/);
  oneLine(
    await kopf(["freeze", "-n", "x", "-t", "60"]),
    2,
    /^kopf freeze: The peering object is required: give -P NAME; see kopf freeze --help$/,
  );
});

Deno.test("-n together with -A is one line, exit code 2", async () => {
  oneLine(
    await kopf(["run", "-n", "default", "-A", "h.ts"]),
    2,
    /^kopf run: Either -n\/--namespace or -A\/--all-namespaces can be used, not both; see kopf run --help$/,
  );
});

Deno.test("no paths, no modules and no registered handlers is one line, exit code 2", async () => {
  oneLine(
    await kopf(["run", "-A"]),
    2,
    /^kopf run: Nothing to run: give handler files or URLs, or modules with -m; see kopf run --help$/,
  );
});

Deno.test("a missing file is one line naming it, exit code 1", async () => {
  oneLine(
    await kopf(["run", "-A", "--log-format", "plain", "no-such-handlers.ts"]),
    1,
    /^Cannot load "no-such-handlers\.ts": Module not found "file:\/\/\/.*\/no-such-handlers\.ts"$/,
  );
});

Deno.test("a module with a syntax error is one line naming it and the place, exit code 1", async () => {
  await using tmp = await modules({ "broken.ts": "// handlers\nexport const broken = ;\n" });
  const result = await kopf(["run", "-A", "--log-format", "plain", `${tmp.dir}/broken.ts`]);
  oneLine(result, 1, /^Cannot load ".*\/broken\.ts": SyntaxError: Expression expected/);
  match(result.stderr[0]!, /\(at file:\/\/\/.*\/broken\.ts:2:23\)$/);
});

Deno.test("a module that throws at import is one line with its error and place, exit code 1", async () => {
  const result = await kopf([
    "run",
    "-A",
    "--log-format",
    "plain",
    "tests/_fixtures/handlers/throwing.ts",
  ]);
  oneLine(
    result,
    1,
    /^Cannot load "tests\/_fixtures\/handlers\/throwing\.ts": Error: The database password is not set \(at file:\/\/\/.*\/throwing\.ts:3:7\)$/,
  );
});

Deno.test("a module importing a missing module is one line naming both, exit code 1", async () => {
  await using tmp = await modules({ "outer.ts": 'import "./inner.ts";\n' });
  oneLine(
    await kopf(["run", "-A", "--log-format", "plain", "-m", `${tmp.dir}/outer.ts`]),
    1,
    /^Cannot load ".*outer\.ts": Module not found ".*\/inner\.ts" \(at file:\/\/\/.*\/outer\.ts:1:8\)$/,
  );
});

Deno.test("a load failure is a log line in the chosen format", async () => {
  const result = await kopf(["run", "-A", "--log-format", "json", "no-such-handlers.ts"]);
  equal(result.code, 1);
  equal(result.stderr.length, 1);
  const line = JSON.parse(result.stderr[0]!);
  equal(line.level, "ERROR");
  equal(line.logger, "kopf.cli");
  match(line.message, /^Cannot load "no-such-handlers\.ts"/);
});

Deno.test("paths are imported in order, then modules, each once, relative to cwd", async () => {
  const order = "globalThis.kopfOrder ??= []; globalThis.kopfOrder.push";
  await using tmp = await modules({
    "a.ts": `${order}("a");\n`,
    "b.ts": `${order}("b");\n`,
    "m.ts": `${order}("m"); throw new Error("stop here");\n`,
  });
  const state = globalThis as { kopfOrder?: string[] };
  delete state.kopfOrder;
  const result = await kopf(
    ["run", "-A", "--log-format", "plain", "-m", "./m.ts", "b.ts", "a.ts"],
    {
      cwd: tmp.dir,
    },
  );
  oneLine(result, 1, /^Cannot load "\.\/m\.ts": Error: stop here/);
  deepEqual(state.kopfOrder, ["b", "a", "m"]);
  delete state.kopfOrder;
});

Deno.test("with no paths, handlers registered beforehand are run (the deno compile entry)", async () => {
  const registry = new registries.OperatorRegistry();
  registering.create("kopfexamples.v1.kopf.dev", { registry }, function statically_imported() {});
  // The operator gets as far as connecting: past the check, to the kubeconfig.
  const result = await kopf(["run", "-A", "--log-format", "plain"], {
    registry,
    kubeconfig: "tests/_fixtures/kubeconfigs/broken-syntax.yaml",
  });
  oneLine(result, 1, /^The operator cannot run: .*broken-syntax\.yaml/);
});

Deno.test("ineffective namespace globs are warned about, not refused; peering options are taken", async () => {
  const result = await kopf([
    "run",
    "--log-format",
    "plain",
    "-P",
    "example",
    "-n",
    "team-a,team-b",
    "tests/_fixtures/handlers/throwing.ts",
  ]);
  equal(result.code, 1);
  match(
    result.stderr[0] ?? "",
    /^The namespace pattern "team-a,team-b" serves only what "team-a" matches: .* repeat -n$/,
  );
  match(result.stderr[1] ?? "", /^Cannot load/);
});

Deno.test("a busy liveness port is one line, exit code 1, and the operator does not start", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const registry = new registries.OperatorRegistry();
  registering.create("kopfexamples.v1.kopf.dev", { registry }, function fn() {});
  oneLine(
    await kopf(["run", "-A", "--log-format", "plain", "-L", `http://127.0.0.1:${port}/healthz`], {
      registry,
    }),
    1,
    new RegExp(`^Cannot serve the liveness probe at "http://127.0.0.1:${port}/healthz": .*in use`),
  );
});

Deno.test("modules that register nothing are warned about: Kopf may come from elsewhere", async () => {
  const result = await kopf([
    "run",
    "-A",
    "--log-format",
    "plain",
    "tests/_fixtures/handlers/empty.ts",
  ], { kubeconfig: "tests/_fixtures/kubeconfigs/broken-syntax.yaml" });
  equal(result.code, 1);
  match(
    result.stderr[0] ?? "",
    /^The modules registered no handlers; if they import Kopf from another place or version than this command \(file:\/\/\/.*\/mod\.ts\), they register into that copy of it$/,
  );
  match(result.stderr[1] ?? "", /^The operator cannot run: /);
});

Deno.test("peering options become the peering settings, as Kopf maps them", () => {
  const settingsFor = (argv: string[]) => {
    const settings = operatorSettings.defaultSettings();
    args.applyPeering(cli.parseRunArgs([...argv, "h.ts"]), settings);
    return settings.peering;
  };
  const byDefault = settingsFor([]);
  deepEqual(
    [byDefault.mode, byDefault.name, byDefault.mandatory, byDefault.standalone, byDefault.priority],
    ["kopf", "default", false, false, 0],
  );
  const named = settingsFor(["-P", "team", "-p", "20"]);
  deepEqual([named.name, named.mandatory, named.priority], ["team", true, 20]);
  equal(settingsFor(["--dev"]).priority, 666);
  equal(settingsFor(["--standalone"]).standalone, true);
  const lease = settingsFor(["--peering", "lease"]);
  deepEqual([lease.mode, lease.mandatory, lease.lease.name], ["lease", false, undefined]);
  equal(settingsFor(["--peering", "lease:my-operator"]).lease.name, "my-operator");
});

Deno.test("an empty peering name is one line, exit code 2", async () => {
  oneLine(
    await kopf(["run", "-P", "", "h.ts"]),
    2,
    /^kopf run: The peering name must not be empty: give NAME, lease or lease:NAME; see kopf run --help$/,
  );
});

Deno.test("kopf freeze and resume read Kopf's options and insist on the required ones", () => {
  const frozen = freezing.parseFreezeArgs("freeze", ["-P", "p", "-n", "a", "-n", "b", "-t", "60"]);
  deepEqual(
    [frozen.peering, frozen.namespaces, frozen.clusterwide, frozen.priority, frozen.lifetime],
    ["p", ["a", "b"], false, 100, 60],
  );
  equal(freezing.parseFreezeArgs("freeze", ["-P", "p", "-A", "-t", "5", "--dev"]).priority, 666);
  equal(freezing.parseFreezeArgs("freeze", ["-P", "p", "-A", "-t", "5", "-p", "7"]).priority, 7);
  equal(freezing.parseFreezeArgs("resume", ["-P", "p", "-A", "-i", "me"]).id, "me");
  for (
    const [argv, message] of [
      [["-n", "a", "-t", "5"], /peering object is required/],
      [["-P", "p", "-t", "5"], /Say where: -n NAMESPACE/],
      [["-P", "p", "-n", "a", "-A", "-t", "5"], /not both/],
      [["-P", "p", "-n", "a"], /How long to freeze is required: give -t SECONDS/],
      [["-P", "p", "-n", "a", "-t", "soon"], /positive number of seconds, not "soon"/],
      [["-P", "p", "-n", "a", "-t", "5", "-p", "x"], /integer, not "x"/],
      [["-P", "p", "-n", "a", "-t", "5", "--what"], /Unknown option '--what'/],
    ] as const
  ) {
    throws(() => freezing.parseFreezeArgs("freeze", argv), message);
  }
  throws(() => freezing.parseFreezeArgs("resume", ["-P", "p", "-A", "-t", "5"]), /Unknown option/);
});

Deno.test("kopf rbac --help says what it prints; a bad option is one line, exit code 2", async () => {
  const help = await kopf(["rbac", "--help"]);
  equal(help.code, 0);
  match(help.stdout.join("\n"), /^Usage: kopf rbac [\s\S]*least RBAC[\s\S]*--service-account NAME/);
  oneLine(
    await kopf(["rbac", "--service-account"]),
    2,
    /^kopf rbac: Option "--service-account" needs a value; see kopf rbac --help$/,
  );
  oneLine(
    await kopf(["rbac", "--nope"]),
    2,
    /^kopf rbac: Unknown option "--nope"; see kopf rbac --help$/,
  );
});
