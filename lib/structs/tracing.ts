// OpenTelemetry spans of the operator, through the standard API that Deno's built-in
// OpenTelemetry implements (`OTEL_DENO=true` and the usual OTEL_* variables turn it on): one
// span per object cycle, one per handler attempt inside it. Off, the API's no-op tracer costs
// a call; nothing here exports or does I/O.

import { type Attributes, type Span, SpanStatusCode, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("kopf");

/**
 * Runs `fn` inside a new active span (children and fetch spans nest under it), ending the span
 * when `fn` settles; a rejection marks the span as an error and is rethrown.
 *
 * @example A span around some work
 * ```ts
 * import { inSpan } from "./tracing.ts";
 * const answer = await inSpan("kopf.example", { "kopf.id": "x" }, () => Promise.resolve(42));
 * ```
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks a span as failed with a message (a handler that failed without throwing). */
export function failed(span: Span, message: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}
