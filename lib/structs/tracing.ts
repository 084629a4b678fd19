// OpenTelemetry spans of the operator, through the standard API that Deno's built-in
// OpenTelemetry implements (`OTEL_DENO=true` and the usual OTEL_* variables turn it on): one
// span per object cycle, one per handler attempt inside it. Off (no tracer provider set), no
// span is made at all; nothing here exports or does I/O.

import {
  type Attributes,
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

const tracer = trace.getTracer("kopf");
/** The API's own no-op provider: what the global proxy delegates to while nobody set one. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
/** The span `fn` gets while tracing is off: records nothing, as the no-op tracer's would. */
const NON_RECORDING = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Whether a tracer provider is set (Deno's, with OTEL_DENO=true, or the program's own). Off,
 * a span costs nothing at all: the no-op tracer's active span still made a context per call.
 */
function tracingOn(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

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
  if (!tracingOn()) return fn(NON_RECORDING);
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
