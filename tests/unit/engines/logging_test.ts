// The framework's log output: Kopf's formats, the object prefix, levels, JSON lines, and which
// categories and sinks the setup touches.

import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { configure, getLogger, type LogRecord, reset } from "@logtape/logtape";
import * as logging from "../../../lib/engines/logging.ts";
import * as postingSettings from "../../../lib/settings/posting.ts";

const kopfexamples = {
  group: "kopf.dev",
  version: "v1",
  plural: "kopfexamples",
  kind: "KopfExample",
};
const nodes = { group: "", version: "v1", plural: "nodes", kind: "Node" };

const example = {
  metadata: { name: "kopf-example-1", namespace: "team-a", uid: "4b1c2f3e-0000-4000-8000-0001" },
};

/** Configures logging with the given options, runs `body`, and returns the printed lines. */
async function printed(
  options: logging.LoggingOptions,
  body: () => void,
): Promise<string[]> {
  const lines: string[] = [];
  await logging.configureLogging({ ...options, output: (line) => lines.push(line) });
  try {
    body();
  } finally {
    await logging.resetLogging();
  }
  return lines;
}

Deno.test("the plain format prints the message after the object's prefix", async () => {
  const lines = await printed({ format: "plain", prefix: true }, () => {
    logging.objectLogger(kopfexamples, example).info("Creating the database");
    logging.objectLogger(nodes, { metadata: { name: "worker-1" } }).info("Cordoned");
    getLogger(["kopf", "activities"]).info("Startup is done");
  });
  deepEqual(lines, [
    "[team-a/kopf-example-1] Creating the database",
    "[worker-1] Cordoned",
    "Startup is done",
  ]);
});

Deno.test("without the prefix, object messages are printed alone", async () => {
  const lines = await printed({ format: "plain", prefix: false }, () => {
    logging.objectLogger(kopfexamples, example).info("Creating the database");
  });
  deepEqual(lines, ["Creating the database"]);
});

Deno.test("the full format prints time, logger and level in Kopf's columns", async () => {
  const lines = await printed({ format: "full" }, () => {
    logging.objectLogger(kopfexamples, example).warn("Slow to respond");
    getLogger(["kopf", "activities"]).info("Startup is done");
  });
  equal(lines.length, 2);
  match(
    lines[0] ?? "",
    /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] kopf\.objects {9}\[WARNING \] \[team-a\/kopf-example-1\] Slow to respond$/,
  );
  match(lines[1] ?? "", /\] kopf\.activities {6}\[INFO {4}\] Startup is done$/);
});

Deno.test("the full format is the default, and the prefix is on for text formats", async () => {
  const lines = await printed({}, () => {
    logging.objectLogger(kopfexamples, example).info("Created");
  });
  match(
    lines[0] ?? "",
    /^\[.*\] kopf\.objects {9}\[INFO {4}\] \[team-a\/kopf-example-1\] Created$/,
  );
});

Deno.test("json lines parse, with the object under 'object' and the properties flattened", async () => {
  const lines = await printed({ format: "json", level: "debug" }, () => {
    logging.objectLogger(kopfexamples, example).debug("Patching with {patch}", {
      patch: { status: { ok: true } },
      attempt: 2,
      message: "a property named like a reserved key",
    });
    getLogger(["kopf", "activities"]).error("Handler failed", { error: new TypeError("boom") });
  });
  equal(lines.length, 2);
  const first = JSON.parse(lines[0] ?? "");
  match(first["@timestamp"], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  deepEqual({ ...first, "@timestamp": undefined }, {
    "@timestamp": undefined,
    level: "DEBUG",
    logger: "kopf.objects",
    // No prefix by default in JSON: the object is a field of its own.
    message: 'Patching with {"status":{"ok":true}}',
    object: {
      apiVersion: "kopf.dev/v1",
      kind: "KopfExample",
      name: "kopf-example-1",
      namespace: "team-a",
      uid: "4b1c2f3e-0000-4000-8000-0001",
    },
    patch: { status: { ok: true } },
    attempt: 2,
    _message: "a property named like a reserved key",
  });
  const second = JSON.parse(lines[1] ?? "");
  equal(second.level, "ERROR");
  equal(second.logger, "kopf.activities");
  equal(second.error.name, "TypeError");
  equal(second.error.message, "boom");
  equal(typeof second.error.stack, "string");
});

Deno.test("json lines take the prefix and a custom reference key when asked", async () => {
  const lines = await printed({ format: "json", prefix: true, refkey: "k8sObject" }, () => {
    logging.objectLogger(kopfexamples, example).info("Created");
  });
  const line = JSON.parse(lines[0] ?? "");
  equal(line.message, "[team-a/kopf-example-1] Created");
  equal(line.k8sObject.name, "kopf-example-1");
  equal(line.object, undefined);
});

Deno.test("the level decides which messages are printed", async () => {
  const emit = () => {
    const logger = logging.objectLogger(kopfexamples, example);
    logger.debug("debug line");
    logger.info("info line");
    logger.warn("warning line");
    logger.error("error line");
  };
  const shown = async (level: logging.LoggingLevel) =>
    await printed({ format: "plain", prefix: false, level }, emit);
  deepEqual(await shown("debug"), ["debug line", "info line", "warning line", "error line"]);
  deepEqual(await shown("info"), ["info line", "warning line", "error line"]);
  deepEqual(await shown("warning"), ["warning line", "error line"]);
  deepEqual(await shown("error"), ["error line"]);
});

Deno.test("pre-formatted messages keep their literal braces", async () => {
  const lines = await printed({ format: "plain", prefix: false }, () => {
    const logger = logging.objectLogger(kopfexamples, example);
    logger.info("Handler failed: {'reason': 'boom'} and {more}");
    logger.info("Filled {value}", { value: 3 });
  });
  deepEqual(lines, ["Handler failed: {'reason': 'boom'} and {more}", "Filled 3"]);
});

Deno.test("an error property adds its stack to error lines of the text formats", async () => {
  const error = new TypeError("boom");
  const lines = await printed({ format: "plain", prefix: false }, () => {
    const logger = logging.objectLogger(kopfexamples, example);
    logger.error("Handler failed: {error}", { error });
    logger.warn("Retrying after: {error}", { error });
  });
  equal(lines.length, 2);
  ok(lines[0]?.startsWith(`Handler failed: TypeError: boom\nTypeError: boom\n    at `), lines[0]);
  equal(lines[1], "Retrying after: TypeError: boom");
});

Deno.test("only the kopf categories are configured: an application's loggers stay silent", async () => {
  const lines = await printed({ format: "plain" }, () => {
    getLogger(["my-app"]).error("not ours");
    getLogger([]).error("nor the root's");
    getLogger(["kopf"]).error("ours");
  });
  deepEqual(lines, ["ours"]);
});

Deno.test("extra sinks get every kopf record at the level", async () => {
  const records: LogRecord[] = [];
  await logging.configureLogging({
    level: "warning",
    output: () => {},
    sinks: { collector: (record) => records.push(record) },
  });
  try {
    logging.objectLogger(kopfexamples, example).info("skipped");
    logging.objectLogger(kopfexamples, example).error("collected");
  } finally {
    await logging.resetLogging();
  }
  deepEqual(records.map((r) => r.message.join("")), ["collected"]);
});

Deno.test("the posting sink gets object messages at the posting level, even below the printed level", async () => {
  const posted: string[] = [];
  const settings = { ...postingSettings.defaultPosting(), level: "info" as const };
  const lines = await printed({
    format: "plain",
    prefix: false,
    level: "error",
    posting: settings,
    postingSink: (record) => posted.push(`${record.level} ${record.message.join("")}`),
  }, () => {
    const logger = logging.objectLogger(kopfexamples, example);
    logger.debug("below both");
    logger.info("posted only");
    logger.error("printed and posted");
    getLogger(["kopf", "activities"]).warn("not about an object");
  });
  deepEqual(lines, ["printed and posted"]);
  deepEqual(posted, ["info posted only", "error printed and posted"]);
});

Deno.test("the posting sink is left out when the loggers are not posted", async () => {
  const posted: string[] = [];
  await printed({
    posting: { ...postingSettings.defaultPosting(), loggers: false },
    postingSink: (record) => posted.push(String(record.message)),
  }, () => {
    logging.objectLogger(kopfexamples, example).error("printed only");
  });
  deepEqual(posted, []);
});

Deno.test("an object logger copies the identity and fills apiVersion and kind from the resource", async () => {
  const body = structuredClone(example);
  const logger = logging.objectLogger(kopfexamples, body);
  body.metadata.name = "renamed";
  const records: LogRecord[] = [];
  await logging.configureLogging({ output: () => {}, sinks: { r: (r) => records.push(r) } });
  try {
    logger.info("hello");
  } finally {
    await logging.resetLogging();
  }
  deepEqual(records[0]?.properties, {
    k8s: {
      apiVersion: "kopf.dev/v1",
      kind: "KopfExample",
      name: "kopf-example-1",
      namespace: "team-a",
      uid: "4b1c2f3e-0000-4000-8000-0001",
    },
  });
  deepEqual(records[0]?.category, ["kopf", "objects"]);
});

Deno.test("configureLogging() can be called again, but leaves an application's own setup alone", async () => {
  const first: string[] = [];
  const second: string[] = [];
  await logging.configureLogging({ format: "plain", output: (line) => first.push(line) });
  await logging.configureLogging({ format: "plain", output: (line) => second.push(line) });
  getLogger(["kopf"]).info("after the second setup");
  await logging.resetLogging();
  deepEqual(first, []);
  deepEqual(second, ["after the second setup"]);

  const theirs: string[] = [];
  await configure({
    sinks: { theirs: (record) => theirs.push(String(record.message[0])) },
    loggers: [
      { category: ["kopf"], sinks: ["theirs"], lowestLevel: "info" },
      { category: ["logtape", "meta"], lowestLevel: "warning" },
    ],
  });
  try {
    await rejects(logging.configureLogging({}), /LogTape is already configured by the application/);
    await logging.resetLogging(); // not ours: left alone
    getLogger(["kopf"]).info("still theirs");
    deepEqual(theirs, ["still theirs"]);
  } finally {
    await reset();
  }
});
