// docs/bad-input.md stays true: every row names a test that exists in the file it links, and
// there are at least 40 rows.

import { ok } from "node:assert/strict";

Deno.test("every row of docs/bad-input.md names a test that exists in the linked file", async () => {
  const root = new URL("../../", import.meta.url);
  const table = await Deno.readTextFile(new URL("docs/bad-input.md", root));
  const rows = [...table.matchAll(/\]\(\.\.\/([^)]+)\): “([^”]+)”/g)];
  ok(rows.length >= 40, `only ${rows.length} rows`);
  for (const [, file, name] of rows) {
    const source = await Deno.readTextFile(new URL(file!, root));
    // Table-driven tests put a common suffix after each case's name.
    const needle = name!.replace(/, naming the file and the field$/, "").replaceAll("\\|", "|");
    ok(source.includes(needle), `${file} has no test "${needle}"`);
  }
});
