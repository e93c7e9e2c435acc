import type { JsonObject } from '../core/api-document.ts';
import { type BanPolicyConfig, banPolicyDefaults } from '../state/bans.ts';
import { type WebhookConfig, webhookDefaults } from './alerts.ts';
import { type DetectorsConfig, detectorDefaults, detectorsSchema } from './detectors/index.ts';
import { type DiscoveryConfig, discoveryDefaults } from './discovery/discovery.ts';
import { type ResponderConfig, responderDefaults } from './responder.ts';

/** Config of the watch loop: event store, detectors, automatic bans, alerts, discovery. */
export interface MonitorConfig {
  events: {
    store: 'sqlite' | 'postgres' | 'none';
    sqlite: {
      path: string;
      retentionDays: number;
      maxRows: number;
      maxMegabytes: number;
      worker: boolean | 'auto';
    };
    postgres?: { url: string; schema: string; retentionDays: number; partitionsAhead: number };
    queueSize: number;
    batchSize: number;
    flushIntervalMs: number;
  };
  detectors: DetectorsConfig;
  bans: ResponderConfig;
  alerts: {
    /** Log every alert (warn level). */
    log: boolean;
    /** Alerts kept in memory for the admin API and dashboard. */
    recent: number;
    webhook?: WebhookConfig;
  };
  discovery: DiscoveryConfig;
}

/** Deep-partial input accepted by `resolveMonitorConfig` / `createMonitor`. */
export type MonitorConfigInput = {
  events?: Partial<Omit<MonitorConfig['events'], 'sqlite' | 'postgres'>> & {
    sqlite?: Partial<MonitorConfig['events']['sqlite']>;
    postgres?: Partial<NonNullable<MonitorConfig['events']['postgres']>> & { url: string };
  };
  detectors?: { [K in keyof DetectorsConfig]?: Partial<DetectorsConfig[K]> };
  bans?: Partial<ResponderConfig>;
  alerts?: Partial<Omit<MonitorConfig['alerts'], 'webhook'>> & {
    webhook?: Partial<WebhookConfig> & { url: string; secret: string };
  };
  discovery?: Partial<DiscoveryConfig>;
};

export const eventsDefaults: MonitorConfig['events'] = {
  store: 'sqlite',
  sqlite: {
    path: './data/events.db',
    retentionDays: 7,
    maxRows: 1_000_000,
    maxMegabytes: 1024,
    worker: 'auto',
  },
  queueSize: 10_000,
  batchSize: 500,
  flushIntervalMs: 1000,
};

/** Defaults of a PostgreSQL event store (besides its `url`). */
export const postgresDefaults: Omit<NonNullable<MonitorConfig['events']['postgres']>, 'url'> = {
  schema: 'public',
  retentionDays: 30,
  partitionsAhead: 2,
};

/** Defaults of `alerts` (besides the optional webhook). */
export const alertsDefaults: Omit<MonitorConfig['alerts'], 'webhook'> = { log: true, recent: 1000 };

/** Fills every absent field with its default. */
export function resolveMonitorConfig(input: MonitorConfigInput = {}): MonitorConfig {
  const e = input.events ?? {};
  const detectors = {} as Record<string, unknown>;
  for (const k of Object.keys(detectorDefaults) as Array<keyof DetectorsConfig>)
    detectors[k] = { ...detectorDefaults[k], ...input.detectors?.[k] };
  return {
    events: {
      ...eventsDefaults,
      ...e,
      sqlite: { ...eventsDefaults.sqlite, ...e.sqlite },
      postgres: e.postgres ? { ...postgresDefaults, ...e.postgres } : undefined,
    },
    detectors: detectors as unknown as DetectorsConfig,
    bans: { ...responderDefaults, ...input.bans },
    alerts: {
      log: input.alerts?.log ?? alertsDefaults.log,
      recent: input.alerts?.recent ?? alertsDefaults.recent,
      webhook: input.alerts?.webhook ? { ...webhookDefaults, ...input.alerts.webhook } : undefined,
    },
    discovery: { ...discoveryDefaults, ...input.discovery },
  };
}

const int = (description: string, dflt: number, minimum = 1, maximum?: number): JsonObject => ({
  type: 'integer',
  minimum,
  ...(maximum === undefined ? {} : { maximum }),
  default: dflt,
  description,
});

const b: BanPolicyConfig = banPolicyDefaults;
const ev = eventsDefaults;

/**
 * JSON Schema of the monitor's config. Its properties (`events`, `detectors`, `bans`, `alerts`,
 * `discovery`) are meant for the root of the gateway config. Fields holding secrets carry `writeOnly: true`
 * (redact them in the effective-config view).
 */
export const monitorConfigSchema: JsonObject = {
  type: 'object',
  additionalProperties: false,
  description: 'Watch loop: event store, attack detectors, automatic bans, alerts and API discovery.',
  properties: {
    enabled: {
      type: 'boolean',
      default: true,
      description:
        'Run the watch loop. false: no events, detectors, automatic bans or alerts (access log and metrics stay).',
    },
    events: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'Where access and security events go. The sink is bounded and batched: when the store is slow or down, events are buffered up to queueSize, then the oldest are dropped and counted (log and metric).',
      properties: {
        store: {
          enum: ['sqlite', 'postgres', 'none'],
          default: ev.store,
          description:
            '`sqlite` (embedded file), `postgres` (several instances), or `none` (detectors only).',
        },
        sqlite: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            path: {
              type: 'string',
              minLength: 1,
              default: ev.sqlite.path,
              description: 'Database file, relative to the config file; its folder is created.',
            },
            retentionDays: int(
              'Events older than this are deleted (0 keeps them).',
              ev.sqlite.retentionDays,
              0,
            ),
            maxRows: int(
              'At most this many events are kept, oldest deleted first (0 = no cap).',
              ev.sqlite.maxRows,
              0,
            ),
            maxMegabytes: int(
              'Space the events may use in the file, oldest deleted first (0 = no cap).',
              ev.sqlite.maxMegabytes,
              0,
            ),
            worker: {
              enum: [true, false, 'auto'],
              default: ev.sqlite.worker,
              description:
                'Insert on a worker thread, keeping the event loop free for requests. `auto`: on a worker when the process may run on more than one CPU; with one CPU a thread adds only copying and context switches, so inserts run on the event loop, one transaction per batch, 100 rows per turn of the loop.',
            },
          },
        },
        postgres: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: {
              type: 'string',
              pattern: '^postgres(ql)?://',
              writeOnly: true,
              description: 'postgres:// URL (may hold a password: use environment substitution).',
            },
            schema: {
              type: 'string',
              pattern: '^[a-z_][a-z0-9_]{0,62}$',
              default: postgresDefaults.schema,
              description: 'Schema of the tables; created with them on start (migrations).',
            },
            retentionDays: int(
              'Daily partitions older than this are dropped (0 keeps them).',
              postgresDefaults.retentionDays,
              0,
            ),
            partitionsAhead: int(
              'Daily partitions created ahead of today.',
              postgresDefaults.partitionsAhead,
              0,
              31,
            ),
          },
        },
        queueSize: int('Events buffered while waiting for the store.', ev.queueSize, 1, 10_000_000),
        batchSize: int('Events per store write.', ev.batchSize, 1, 10_000),
        flushIntervalMs: int(
          'Longest wait before buffered events are written.',
          ev.flushIntervalMs,
          1,
          60_000,
        ),
      },
    },
    detectors: detectorsSchema,
    bans: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'Automatic temporary bans of alert offenders, shared through the state store (Redis for several instances). Enforced by the `ban` and `banPrincipal` policies.',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Whether alerts ban their offenders.' },
        minSeverity: {
          enum: ['low', 'medium', 'high', 'critical'],
          default: 'high',
          description: 'Least severity of an alert that bans.',
        },
        detectors: {
          type: 'array',
          items: { enum: ['enumeration', 'credential-abuse', 'volumetric', 'shadow-api', 'error-spike'] },
          uniqueItems: true,
          default: responderDefaults.detectors,
          description: 'Detectors whose alerts may ban.',
        },
        kinds: {
          type: 'array',
          items: { enum: ['ip', 'consumer', 'subject', 'token'] },
          uniqueItems: true,
          default: responderDefaults.kinds,
          description: 'What may be banned automatically.',
        },
        banIpOfAuthenticated: {
          type: 'boolean',
          default: false,
          description:
            'Also ban the address of an authenticated offender (off: addresses are often shared, and the identity ban already stops the caller).',
        },
        exemptIps: {
          type: 'array',
          items: { type: 'string', pattern: '^[0-9a-fA-F:.]+(/\\d{1,3})?$' },
          maxItems: 1000,
          default: [],
          description: 'Addresses and CIDR ranges never banned automatically.',
        },
        baseSeconds: int('Duration of a first automatic ban.', b.baseSeconds, 1),
        multiplier: {
          type: 'number',
          minimum: 1,
          maximum: 100,
          default: b.multiplier,
          description: 'Each repeat offence multiplies the previous duration by this.',
        },
        maxSeconds: int('Longest automatic ban.', b.maxSeconds, 1),
        offenceMemorySeconds: int(
          'How long an offence counts towards escalation.',
          b.offenceMemorySeconds,
          1,
        ),
      },
    },
    alerts: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Where alerts go besides the event store: the log and a signed webhook.',
      properties: {
        log: { type: 'boolean', default: alertsDefaults.log, description: 'Log every alert at warn level.' },
        recent: int(
          'Alerts kept in memory for the admin API and dashboard.',
          alertsDefaults.recent,
          1,
          100_000,
        ),
        webhook: {
          type: 'object',
          additionalProperties: false,
          required: ['url', 'secret'],
          description:
            'POSTs each alert as JSON with `X-Portcullis-Signature: sha256=<hex HMAC-SHA256 of the body>`, `X-Portcullis-Timestamp` and `X-Portcullis-Delivery` (alert id); retries with exponential backoff.',
          properties: {
            url: { type: 'string', pattern: '^https?://', description: 'Receiver URL.' },
            secret: {
              type: 'string',
              minLength: 16,
              writeOnly: true,
              description: 'HMAC key shared with the receiver (use environment substitution).',
            },
            timeoutMs: int('Limit of one delivery attempt.', webhookDefaults.timeoutMs, 100, 60_000),
            maxAttempts: int(
              'Attempts per alert before it is given up and counted.',
              webhookDefaults.maxAttempts,
              1,
              20,
            ),
            retryInitialMs: int(
              'First retry delay; doubles each attempt.',
              webhookDefaults.retryInitialMs,
              1,
            ),
            retryMaxMs: int('Longest retry delay.', webhookDefaults.retryMaxMs, 1),
            queueSize: int(
              'Alerts waiting for delivery; past this the oldest are dropped and counted.',
              webhookDefaults.queueSize,
              2,
              100_000,
            ),
          },
        },
      },
    },
    discovery: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'API discovery from live traffic: endpoints (ids templated) and JSON shapes, with drift against the spec.',
      properties: {
        enabled: {
          type: 'boolean',
          default: discoveryDefaults.enabled,
          description: 'Whether traffic is learned.',
        },
        maxEndpoints: int(
          'Endpoints learned at most (per instance).',
          discoveryDefaults.maxEndpoints,
          1,
          100_000,
        ),
        maxShapeProperties: int(
          'Properties learned per JSON object.',
          discoveryDefaults.maxShapeProperties,
          1,
          1000,
        ),
        maxShapeDepth: int('Nesting depth learned in JSON bodies.', discoveryDefaults.maxShapeDepth, 1, 32),
      },
    },
  },
};
