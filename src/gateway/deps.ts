import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { EventSink } from '../core/events.ts';
import type { MetricsRegistry } from '../core/metrics.ts';
import type { PolicyDefinition } from '../core/policy.ts';
import type { Tracer } from '../core/tracing.ts';
import type { StateStore } from '../state/store.ts';

/** What the gateway needs from the outside; built by the CLI (the composition root). */
export interface GatewayDeps {
  readonly logger: Logger;
  readonly events: EventSink;
  readonly metrics: MetricsRegistry;
  readonly store: StateStore;
  readonly clock: Clock;
  readonly policies: ReadonlyArray<PolicyDefinition>;
  /** Access lines go here (one JSON object per line); defaults to the logger. */
  readonly accessLog?: (line: AccessRecord) => void;
  /**
   * Receives a sample of the JSON bodies that policies parsed anyway (request validation, response
   * filtering) on allowed requests to declared operations: API discovery learns their shapes from it.
   */
  readonly observeBodies?: BodyObserver;
  /** Records the spans of sampled requests (`tracing:`); absent, requests pay one null check. */
  readonly tracer?: Tracer;
}

/** See `GatewayDeps.observeBodies`; `request`/`response` are undefined when that side was not parsed. */
export type BodyObserver = (
  endpoint: { api: string; method: string; path: string; operationId: string },
  request: unknown,
  response: unknown,
  status: number,
) => void;

/** The fields of one access record (OpenTelemetry HTTP names). */
export interface AccessRecord {
  readonly 'http.request.id': string;
  readonly 'trace.id': string;
  readonly 'http.request.method': string;
  readonly 'url.path': string;
  readonly 'http.route': string | undefined;
  readonly 'http.response.status_code': number;
  readonly 'client.address': string;
  readonly 'event.duration_ms': number;
  readonly 'portcullis.api': string | undefined;
  readonly 'portcullis.operation_id': string | undefined;
  readonly 'portcullis.decision': string;
  readonly 'portcullis.denied_by': string | undefined;
  readonly 'portcullis.reported': readonly string[] | undefined;
  /** Ids of the Core Rule Set rules that matched (the injection policy's CRS mode), when any did. */
  readonly 'portcullis.waf.rule_ids'?: readonly number[];
  /** The CRS inbound anomaly score, when any rule matched. */
  readonly 'portcullis.waf.score'?: number;
  readonly 'user.id': string | undefined;
}
