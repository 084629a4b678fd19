// Splits a byte stream into newline-delimited JSON documents: the framing of watch streams.
// Decodes each network chunk once and hands out the complete lines of a chunk as one batch,
// so the per-line cost stays close to JSON.parse itself (measured in bench/watch_decoding.ts).

const CR = 13;

/**
 * Yields the non-empty lines of a UTF-8 byte stream, without line breaks, in batches: all
 * lines completed by one chunk come as one array (one await per chunk, not per line).
 */
export async function* lineBatches(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<string[], void, undefined> {
  const decoder = new TextDecoder();
  let rest = ""; // an unfinished line from earlier chunks
  for await (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    let newline = text.indexOf("\n");
    if (newline === -1) {
      rest += text;
      continue;
    }
    const batch: string[] = [];
    let start = 0;
    if (rest) {
      // Only the line that straddles chunks is concatenated; the rest are slices of `text`.
      push(batch, rest + text.slice(0, newline));
      rest = "";
      start = newline + 1;
      newline = text.indexOf("\n", start);
    }
    while (newline !== -1) {
      if (newline > start) push(batch, text.slice(start, newline));
      start = newline + 1;
      newline = text.indexOf("\n", start);
    }
    rest = text.slice(start);
    if (batch.length > 0) yield batch;
  }
  rest += decoder.decode();
  const last: string[] = [];
  push(last, rest);
  if (last.length > 0) yield last;
}

/** Yields the non-empty lines of a UTF-8 byte stream one by one. */
export async function* lines(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<string, void, undefined> {
  for await (const batch of lineBatches(chunks)) yield* batch;
}

/** Adds a line unless it is blank; drops a trailing "\r" (CRLF framing). */
function push(batch: string[], line: string): void {
  if (line.charCodeAt(line.length - 1) === CR) line = line.slice(0, -1);
  if (line.length === 0 || (line.length < 4 && line.trim() === "")) return;
  batch.push(line);
}
