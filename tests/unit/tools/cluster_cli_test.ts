// tools/control-plane/cluster.ts names a plane's directory the same way in every command:
// `up --dir DIR`, and `down`/`status` with `--dir DIR` or a bare DIR; anything else is one
// line of error and a non-zero exit, not a flag taken for a directory.

import { equal, match } from "node:assert/strict";

const SCRIPT = new URL("../../../tools/control-plane/cluster.ts", import.meta.url).pathname;

async function cluster(...args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr).trim() };
}

Deno.test("cluster.ts down and status take --dir DIR as well as DIR", async () => {
  const missing = `${await Deno.makeTempDir()}/none`;
  for (const args of [["--dir", missing], [missing]]) {
    const down = await cluster("down", ...args);
    equal(down.code, 0);
    equal(down.stderr, `control-plane: nothing to stop in "${missing}"`);
    const status = await cluster("status", ...args);
    equal(status.code, 1);
    equal(status.stderr, `control-plane: no control plane in "${missing}"`);
  }
});

Deno.test("cluster.ts down rejects an unknown flag or two directories in one line", async () => {
  const unknown = await cluster("down", "--bogus");
  equal(unknown.code, 1);
  equal(unknown.stderr, `control-plane: cannot read "--bogus": give --dir DIR or DIR`);
  const two = await cluster("status", "--dir", "/tmp/a", "/tmp/b");
  equal(two.code, 1);
  match(two.stderr, /^control-plane: one directory at most, as --dir DIR or DIR: got /);
  equal(two.stderr.split("\n").length, 1);
});
