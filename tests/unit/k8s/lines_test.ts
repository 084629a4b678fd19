import { deepEqual } from "node:assert/strict";
import * as linesModule from "../../../lib/k8s/lines.ts";

async function collect(chunks: (string | Uint8Array)[]): Promise<string[]> {
  const encoder = new TextEncoder();
  async function* source() {
    for (const c of chunks) yield typeof c === "string" ? encoder.encode(c) : c;
  }
  const out: string[] = [];
  for await (const line of linesModule.lines(source())) out.push(line);
  return out;
}

Deno.test("lines() splits on newlines across chunk borders and keeps the last unterminated line", async () => {
  deepEqual(await collect(['{"a":', '1}\n{"b"', ':2}\n\n{"c":3}']), [
    '{"a":1}',
    '{"b":2}',
    '{"c":3}',
  ]);
});

Deno.test("lines() decodes multi-byte characters split between chunks", async () => {
  const bytes = new TextEncoder().encode('{"name":"Grüße ✓"}\n');
  const parts = [bytes.slice(0, 12), bytes.slice(12, 13), bytes.slice(13)];
  deepEqual(await collect(parts), ['{"name":"Grüße ✓"}']);
});

Deno.test("lines() drops carriage returns and blank keep-alive lines", async () => {
  deepEqual(await collect(["a\r\n", "\n", "  \n", "b\r\n"]), ["a", "b"]);
});

Deno.test("lines() copes with a reused chunk buffer", async () => {
  const buffer = new Uint8Array(4);
  const encoder = new TextEncoder();
  async function* source() {
    buffer.set(encoder.encode("ab\nc"));
    yield buffer.subarray(0, 4);
    buffer.set(encoder.encode("d\nef"));
    yield buffer.subarray(0, 4);
  }
  const out: string[] = [];
  for await (const line of linesModule.lines(source())) out.push(line);
  deepEqual(out, ["ab", "cd", "ef"]);
});
