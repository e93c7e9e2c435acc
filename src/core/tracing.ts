/**
 * The tracing contract between the gateway and whatever records its spans (src/monitor/tracing/). The
 * gateway knows only these interfaces; the CLI hands it an implementation through `GatewayDeps.tracer`.
 *
 * Times are in milliseconds of `performance.now()` (the gateway's request clock); the tracer turns them
 * into Unix nanoseconds when it exports.
 */

/** OTLP span kinds (the numbers are the protocol's). */
export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;
export type SpanKind = (typeof SPAN_KIND)[keyof typeof SPAN_KIND];

/** Attribute values the gateway records: strings, integers (numbers are sent as int64) and booleans. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** What the gateway knows about a request when it arrives, for the sampling decision. */
export interface TraceStart {
  readonly traceId: string;
  /** The gateway's own span id: the SERVER span's id. */
  readonly spanId: string;
  /** The incoming traceparent's parent id, when the request continued a trace. */
  readonly parentSpanId: string | undefined;
  /** The incoming traceparent's sampled flag; undefined when the request started a new trace. */
  readonly parentSampled: boolean | undefined;
  /** The request came through a trusted proxy (the tracer may honour the parent's flag only then). */
  readonly trustedPeer: boolean;
  readonly startMs: number;
}

/** The SERVER span of one sampled request; its children are recorded finished. */
export interface RequestSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** A new span id, for a child whose id must be known before it ends (the upstream call's traceparent). */
  newSpanId(): string;
  /** Records a finished child span of this request. `error` marks it failed (status Error) and why. */
  child(
    name: string,
    kind: SpanKind,
    startMs: number,
    endMs: number,
    attributes: SpanAttributes,
    error?: string,
    spanId?: string,
  ): void;
  /** Ends the SERVER span and queues the request's spans for export. Later calls do nothing. */
  end(name: string, endMs: number, attributes: SpanAttributes, error?: string): void;
}

export interface Tracer {
  /** The SERVER span of a request, or null when the request is not sampled. Never throws, never blocks. */
  startRequest(start: TraceStart): RequestSpan | null;
  /** Sends what is queued (bounded wait) and stops. */
  close(): Promise<void>;
}
