// `kopf run` in a process of its own, for e2e tests of examples that are run as users run them:
// the log lines (stderr) as they come, a wait for a line, and a graceful stop by SIGTERM.

import * as crdFixtures from "./crds.ts";

const CLI = new URL("../../cli.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const STOP_TIMEOUT_MS = 10_000;

/** A running `kopf run`. */
export interface KopfProcess extends AsyncDisposable {
  /** Its stderr lines so far. */
  readonly lines: readonly string[];
  /** Resolves with the first line that `test` accepts; fails if it exits or after `ms`. */
  line(test: (line: string) => boolean, what: string, ms?: number): Promise<string>;
  /** SIGTERM, then the exit status (SIGKILL after 10 s). */
  stop(): Promise<Deno.CommandStatus>;
}

/** Starts `deno run -A cli.ts run <args>` with the kubeconfig and plain log lines. */
export function kopfRun(kubeconfigPath: string, args: readonly string[]): KopfProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, CLI, "run", "--log-format", "plain", ...args],
    env: { KUBECONFIG: kubeconfigPath, NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/tmp" },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const output = (async () => {
    let rest = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
    }
    if (rest) lines.push(rest);
  })();
  let exited: Deno.CommandStatus | undefined;
  child.status.then((status) => exited = status);
  let stopping: Promise<Deno.CommandStatus> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      signal(child, "SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stopped = await Promise.race([
        child.status.then(() => true),
        new Promise<boolean>((resolve) =>
          timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS)
        ),
      ]);
      clearTimeout(timer);
      if (!stopped) signal(child, "SIGKILL");
      await output;
      return await child.status;
    })();
    return stopping;
  };
  return {
    lines,
    async line(test, what, ms = 30_000) {
      return await crdFixtures.eventually(
        () => {
          const found = lines.find(test);
          if (found === undefined && exited) {
            throw new Error(`kopf run exited with ${exited.code}:\n${lines.join("\n")}`);
          }
          return found;
        },
        what,
        ms,
      );
    },
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

function signal(child: Deno.ChildProcess, name: Deno.Signal): void {
  try {
    child.kill(name);
  } catch {
    // It has exited already.
  }
}
