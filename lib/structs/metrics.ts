// Prometheus metrics of a running operator, as data: counters and histograms that the core
// updates as handlers run and requests go out, gauges read from live state when scraped, all
// rendered in the text exposition format (0.0.4). The operator's metrics travel in an
// AsyncLocalStorage, so the handler runner finds them without a parameter. No I/O here.

import { AsyncLocalStorage } from "node:async_hooks";

/** Label names to values. */
export type Labels = Readonly<Record<string, string>>;

/** One sample of a gauge or counter read at scrape time. */
export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  render(lines: string[]): void;
}

/** A counter: a value per label set that only goes up. */
export class Counter implements Family {
  readonly type = "counter";
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}

  /** Adds `by` (default 1) to the labels' value. */
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels, value: by });
  }

  /** The labels' value (0 if never increased). */
  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(labels))?.value ?? 0;
  }

  render(lines: string[]): void {
    for (const { labels, value } of this.#values.values()) {
      lines.push(`${this.name}${labelText(labels)} ${value}`);
    }
  }
}

/** A histogram: counts of observations at or below each bucket, their sum and count. */
export class Histogram implements Family {
  readonly type = "histogram";
  readonly #series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; n: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  /** Records one observation (seconds, for the `_seconds` histograms). */
  observe(labels: Labels, value: number): void {
    const key = labelKey(labels);
    let series = this.#series.get(key);
    if (!series) {
      series = { labels, counts: this.buckets.map(() => 0), sum: 0, n: 0 };
      this.#series.set(key, series);
    }
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]!) series.counts[i]!++;
    }
    series.sum += value;
    series.n++;
  }

  render(lines: string[]): void {
    for (const { labels, counts, sum, n } of this.#series.values()) {
      this.buckets.forEach((le, i) => {
        lines.push(`${this.name}_bucket${labelText({ ...labels, le: String(le) })} ${counts[i]}`);
      });
      lines.push(`${this.name}_bucket${labelText({ ...labels, le: "+Inf" })} ${n}`);
      lines.push(`${this.name}_sum${labelText(labels)} ${sum}`);
      lines.push(`${this.name}_count${labelText(labels)} ${n}`);
    }
  }
}

/** A gauge or counter whose samples are read from live state when scraped. */
class Collected implements Family {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge",
    readonly sources: Set<() => Sample[]>,
  ) {}

  render(lines: string[]): void {
    for (const source of this.sources) {
      for (const { labels, value } of source()) {
        lines.push(`${this.name}${labelText(labels)} ${value}`);
      }
    }
  }
}

/** Request latency buckets (seconds): loopback and in-cluster calls are fast, watches excluded. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The metrics of one operator. The core counts handler invocations and API requests; the
 * reactor adds sources for its queues, watchers and peering state.
 *
 * @example Counting and rendering
 * ```ts
 * import { OperatorMetrics } from "./metrics.ts";
 * const metrics = new OperatorMetrics();
 * metrics.handlerInvocations.inc({ handler: "create_fn", cause: "create", outcome: "success" });
 * metrics.render().includes('kopf_handler_invocations_total{handler="create_fn",cause="create",outcome="success"} 1'); // true
 * ```
 */
export class OperatorMetrics {
  readonly #families: Family[] = [];
  readonly #collected = new Map<string, Collected>();

  /** Handler attempts by handler id, cause and outcome (success, retry, failure). */
  readonly handlerInvocations: Counter = this.#add(
    new Counter("kopf_handler_invocations_total", "Handler attempts by handler, cause and outcome"),
  );
  /** How long handler attempts took. */
  readonly handlerDuration: Histogram = this.#add(
    new Histogram(
      "kopf_handler_duration_seconds",
      "How long handler attempts took",
      [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60],
    ),
  );
  /** Attempts that will be retried, by handler id. */
  readonly handlerRetries: Counter = this.#add(
    new Counter("kopf_handler_retries_total", "Handler attempts that will be retried"),
  );
  /** API requests by verb, resource and HTTP code (0: no response). */
  readonly apiRequests: Counter = this.#add(
    new Counter("kopf_api_requests_total", "Requests to the API server by verb, resource, code"),
  );
  /** How long API requests took until their response headers (watches excluded). */
  readonly apiLatency: Histogram = this.#add(
    new Histogram(
      "kopf_api_request_duration_seconds",
      "API request latency until the response headers, by verb and resource (not watches)",
      LATENCY_BUCKETS,
    ),
  );

  /**
   * Adds a source of samples for a collected family (created on first use); returns the
   * function that removes it again (a watcher that stops).
   */
  collect(
    name: string,
    help: string,
    type: "counter" | "gauge",
    source: () => Sample[],
  ): () => void {
    let family = this.#collected.get(name);
    if (!family) {
      family = this.#add(new Collected(name, help, type, new Set()));
      this.#collected.set(name, family);
    }
    family.sources.add(source);
    return () => family.sources.delete(source);
  }

  /** Everything in Prometheus' text format. */
  render(): string {
    const lines: string[] = [];
    for (const family of this.#families) {
      const samples: string[] = [];
      family.render(samples);
      if (samples.length === 0) continue;
      lines.push(`# HELP ${family.name} ${family.help}`);
      lines.push(`# TYPE ${family.name} ${family.type}`);
      lines.push(...samples);
    }
    return lines.join("\n") + "\n";
  }

  #add<F extends Family>(family: F): F {
    this.#families.push(family);
    return family;
  }
}

/** The metrics of the operator whose work is running (undefined outside an operator). */
export const currentMetrics: AsyncLocalStorage<OperatorMetrics> = new AsyncLocalStorage();

/** The outcome of a handler attempt as a label value. */
export function outcomeLabel(outcome: { final: boolean; error: unknown }): string {
  if (!outcome.final) return "retry";
  return outcome.error === undefined ? "success" : "failure";
}

function labelKey(labels: Labels): string {
  return JSON.stringify(labels);
}

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  return `{${entries.map(([k, v]) => `${k}="${escape(v)}"`).join(",")}}`;
}

function escape(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}
