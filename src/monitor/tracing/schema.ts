import type { JsonObject } from '../../core/api-document.ts';

/** The `tracing:` section, defaults filled in. */
export interface TracingConfig {
  enabled: boolean;
  endpoint: string;
  headers: Record<string, string>;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  sampleRatio: number;
  /** Whose incoming sampled flag decides: anyone's, only trusted proxies', or no one's (ratio only). */
  parentSampled: 'honor' | 'trustedProxies' | 'ignore';
  batch: {
    maxQueueSpans: number;
    maxBatchSpans: number;
    delayMs: number;
    timeoutMs: number;
  };
}

export const tracingDefaults: TracingConfig = {
  enabled: false,
  endpoint: 'http://127.0.0.1:4318/v1/traces',
  headers: {},
  serviceName: 'portcullis',
  resourceAttributes: {},
  sampleRatio: 1,
  parentSampled: 'honor',
  batch: { maxQueueSpans: 2048, maxBatchSpans: 512, delayMs: 2000, timeoutMs: 10_000 },
};

export type TracingConfigInput = Partial<Omit<TracingConfig, 'batch'>> & {
  batch?: Partial<TracingConfig['batch']>;
};

/** Fills every absent field with its default. */
export function resolveTracingConfig(input: TracingConfigInput = {}): TracingConfig {
  return {
    ...tracingDefaults,
    ...input,
    headers: { ...input.headers },
    resourceAttributes: { ...input.resourceAttributes },
    batch: { ...tracingDefaults.batch, ...input.batch },
  };
}

const int = (description: string, dflt: number, minimum: number, maximum: number): JsonObject => ({
  type: 'integer',
  minimum,
  maximum,
  default: dflt,
  description,
});

/** JSON Schema of the `tracing:` section. */
export const tracingConfigSchema: JsonObject = {
  type: 'object',
  additionalProperties: false,
  description:
    'OpenTelemetry traces: a SERVER span per request (`{method} {http.route}`), a child span per request policy and a CLIENT span for the upstream call, exported over OTLP/HTTP (JSON) in batches, off the request path. A slow or dead collector never delays a request: spans wait in a bounded queue, and what does not fit is dropped and counted (`portcullis_tracing_spans_dropped_total`).',
  properties: {
    enabled: { type: 'boolean', default: false, description: 'Record and export traces.' },
    endpoint: {
      type: 'string',
      pattern: '^https?://',
      default: tracingDefaults.endpoint,
      description:
        "The collector's OTLP/HTTP traces URL, path included (an OpenTelemetry Collector listens on port 4318, path `/v1/traces`).",
    },
    headers: {
      type: 'object',
      additionalProperties: { type: 'string' },
      default: {},
      writeOnly: true,
      description:
        'Header fields sent with every export, e.g. `authorization` for a hosted collector (use environment substitution for secrets).',
    },
    serviceName: {
      type: 'string',
      minLength: 1,
      default: 'portcullis',
      description: 'The `service.name` resource attribute of every span.',
    },
    resourceAttributes: {
      type: 'object',
      additionalProperties: { type: 'string' },
      default: {},
      description:
        'More resource attributes, e.g. `deployment.environment.name: production` or `service.instance.id`.',
    },
    sampleRatio: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 1,
      description:
        'Share of new traces recorded (0 records none, 1 all), decided from the trace id so every instance decides alike. A request that continues a trace follows its `traceparent` sampled flag instead (see `parentSampled`).',
    },
    parentSampled: {
      enum: ['honor', 'trustedProxies', 'ignore'],
      default: 'honor',
      description:
        "Whose incoming `traceparent` sampled flag decides whether a continued trace is recorded: `honor` anyone's (parent-based sampling, the OpenTelemetry default), `trustedProxies` only requests from `server.trustedProxies` (others are sampled by `sampleRatio`), `ignore` no one's.",
    },
    batch: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The export queue and batches.',
      properties: {
        maxQueueSpans: int(
          'Spans waiting for export at most; the spans of a request that does not fit are dropped and counted.',
          2048,
          1,
          1_000_000,
        ),
        maxBatchSpans: int('Spans per export request at most.', 512, 1, 100_000),
        delayMs: int('Longest wait before queued spans are sent.', 2000, 1, 60_000),
        timeoutMs: int(
          'An export that has not been answered by then fails (its spans are dropped and counted).',
          10_000,
          100,
          120_000,
        ),
      },
    },
  },
};
