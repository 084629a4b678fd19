// Splits a byte stream into newline-delimited JSON documents: the framing of watch streams.
// Works on bytes (finding "\n" in a Uint8Array) and decodes each line once, which keeps
// decoding close to the cost of JSON.parse itself (see bench/watch_decoding.ts).

const NEWLINE = 0x0a;

/** Yields the non-empty lines of a UTF-8 byte stream, without their line breaks. */
export async function* lines(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder();
  let pending: Uint8Array[] = [];
  let pendingLength = 0;
  for await (const chunk of chunks) {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(NEWLINE, start)) !== -1) {
      let line: Uint8Array;
      if (pendingLength > 0) {
        line = concat(pending, pendingLength, chunk.subarray(start, nl));
        pending = [];
        pendingLength = 0;
      } else {
        line = chunk.subarray(start, nl);
      }
      start = nl + 1;
      const text = decoder.decode(line).trim(); // trim drops "\r" and blank keep-alive lines
      if (text) yield text;
    }
    if (start < chunk.length) {
      // The chunk may be reused by the stream: copy the unfinished tail.
      pending.push(chunk.slice(start));
      pendingLength += chunk.length - start;
    }
  }
  if (pendingLength > 0) {
    const text = decoder.decode(concat(pending, pendingLength, new Uint8Array())).trim();
    if (text) yield text;
  }
}

function concat(parts: Uint8Array[], length: number, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(length + tail.length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  out.set(tail, offset);
  return out;
}
