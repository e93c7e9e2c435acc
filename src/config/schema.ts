import type { JsonObject } from '../core/api-document.ts';
import type { ConfigSection } from '../core/config.ts';
import type { PolicyDefinition } from '../core/policy.ts';

export type { ConfigSection };

/** A top-level config section contributed by a module (e.g. `events` from the monitor). */

const ms = (description: string, dflt: number, minimum = 1): JsonObject => ({
  type: 'integer',
  minimum,
  default: dflt,
  description,
});

const tlsFiles = {
  certFile: { type: 'string', description: 'PEM certificate chain file.' },
  keyFile: { type: 'string', description: 'PEM private key file.' },
};

const listenerSchema: JsonObject = {
  type: 'object',
  additionalProperties: false,
  required: ['port'],
  description: 'One listening socket. With `tls` it serves HTTPS, otherwise plain HTTP.',
  properties: {
    host: { type: 'string', default: '127.0.0.1', description: 'Address to bind.' },
    port: { type: 'integer', minimum: 0, maximum: 65535, description: 'Port to bind (0 picks a free one).' },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['certFile', 'keyFile'],
      description:
        'Serve HTTPS with this certificate. TLS 1.2 minimum and the Mozilla intermediate cipher list; the files are watched and reloaded without dropping connections.',
      properties: {
        ...tlsFiles,
        minVersion: {
          enum: ['TLSv1.2', 'TLSv1.3'],
          default: 'TLSv1.2',
          description: 'Lowest TLS version accepted.',
        },
        clientAuth: {
          type: 'object',
          additionalProperties: false,
          required: ['caFile'],
          description: 'Ask clients for a certificate (mTLS) and verify it against these CAs.',
          properties: {
            caFile: {
              type: 'string',
              description: 'PEM file of the CAs that client certificates must chain to.',
            },
            required: {
              type: 'boolean',
              default: false,
              description: 'Refuse the TLS handshake without a valid client certificate.',
            },
            crlFile: {
              type: 'string',
              description:
                'PEM file of certificate revocation lists, one from every CA of the client chains (a chain with a CA whose list is missing is refused). A revoked certificate is not valid; the file is watched and reloaded like the certificate.',
            },
          },
        },
      },
    },
    redirectToHttps: {
      type: 'integer',
      minimum: 1,
      maximum: 65535,
      description: 'On a plain listener: answer every request with a 308 redirect to HTTPS on this port.',
    },
    http2: {
      enum: ['alpn', 'h2c', 'off'],
      description:
        'HTTP/2 on this listener. `alpn` (the default with `tls`): TLS ALPN offers `h2` and `http/1.1` on the same port and each client picks. `h2c` (plain listeners only, opt-in): HTTP/2 with prior knowledge (RFC 9113 §3.3), for clients and load balancers that know the port speaks it; such a listener speaks no HTTP/1.1. `off` (the default without `tls`): HTTP/1.1 only. Every policy, limit and event works alike on both protocols.',
    },
  },
  // alpn needs TLS to negotiate in; h2c is cleartext by definition.
  if: { required: ['tls'] },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema if/then
  then: { properties: { http2: { enum: ['alpn', 'off'] } } },
  else: {
    properties: { http2: { enum: ['h2c', 'off'] } },
  },
};

const upstreamSchema: JsonObject = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  description: 'Where requests for this API go.',
  properties: {
    url: {
      type: 'string',
      pattern: '^https?://[^/?#]+',
      'x-expected': 'an http:// or https:// URL',
      description: 'Base URL of the upstream (http or https).',
    },
    connections: {
      type: 'integer',
      minimum: 1,
      default: 128,
      description: 'Keep-alive connections in the pool.',
    },
    connectTimeoutMs: ms('Time to open a connection before answering 504.', 5000),
    headersTimeoutMs: ms('Time to receive the response headers before answering 504.', 30000),
    bodyTimeoutMs: ms('Longest pause between two body chunks of the response.', 30000),
    keepAliveTimeoutMs: ms('How long an idle upstream connection is kept.', 4000),
    http2: {
      enum: ['alpn', 'h2c', 'off'],
      default: 'off',
      description:
        'HTTP/2 towards this upstream (opt-in). `alpn`: an https upstream is offered `h2` before `http/1.1` and HTTP/2 is used when it picks it, many requests sharing each connection. `h2c`: an http upstream is spoken to in HTTP/2 with prior knowledge (it must speak nothing else on that port). `off`: HTTP/1.1 only.',
    },
    circuitBreaker: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'Stops sending to an upstream that fails or is slow (503 circuit-open with Retry-After), then lets a few trial calls through before closing again.',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Use a circuit breaker for this upstream.' },
        windowSeconds: {
          type: 'integer',
          minimum: 1,
          default: 30,
          description: 'Rolling window for the rates.',
        },
        minCalls: {
          type: 'integer',
          minimum: 1,
          default: 20,
          description: 'Calls in the window before it may open.',
        },
        failureRatePercent: {
          type: 'integer',
          minimum: 1,
          maximum: 100,
          default: 50,
          description: 'Open when this share of calls failed (5xx, connection errors, timeouts).',
        },
        slowCallMs: ms('A call slower than this counts as slow.', 10000),
        slowCallRatePercent: {
          type: 'integer',
          minimum: 1,
          maximum: 100,
          default: 100,
          description: 'Open when this share of calls was slow.',
        },
        openSeconds: { type: 'integer', minimum: 1, default: 10, description: 'How long it stays open.' },
        halfOpenCalls: {
          type: 'integer',
          minimum: 1,
          default: 3,
          description: 'Trial calls when half-open.',
        },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      description: 'TLS to an https upstream: verified against the system CAs unless `caFile` is given.',
      properties: {
        caFile: {
          type: 'string',
          description: 'PEM CAs to verify the upstream with (replaces the system CAs).',
        },
        ...tlsFiles,
        servername: {
          type: 'string',
          description: 'SNI name and name to verify (defaults to the URL host).',
        },
      },
    },
  },
  // ALPN is negotiated in TLS; h2c is HTTP/2 without it.
  if: { properties: { url: { pattern: '^https:' } } },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema if/then
  then: { properties: { http2: { enum: ['alpn', 'off'] } } },
  else: { properties: { http2: { enum: ['h2c', 'off'] } } },
};

/** The JSON Schema of one policy's config block: its own fields plus `mode` and `enabled`. */
export function policyConfigSchema(d: PolicyDefinition): JsonObject {
  const { required, ...own } = d.schema;
  return {
    ...own,
    // A block that only says `enabled: false` needs none of the policy's required fields.
    ...(Array.isArray(required) && required.length > 0
      ? {
          // `then` is the JSON Schema keyword here, not a thenable.
          if: { not: { required: ['enabled'], properties: { enabled: { const: false } } } },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema if/then
          then: { required },
        }
      : {}),
    type: 'object',
    additionalProperties: false,
    description: d.description,
    properties: {
      mode: {
        enum: ['enforce', 'report'],
        default: 'enforce',
        description: '`enforce` rejects; `report` logs what would be rejected and lets the request pass.',
      },
      enabled: { type: 'boolean', default: true, description: 'Set false to switch the policy off here.' },
      ...((own.properties as JsonObject | undefined) ?? {}),
    },
  };
}

/**
 * A copy of a schema whose `default`s are kept as `x-default` annotations: loading a config must not write
 * defaults into policy blocks, or an API-level default would override the spec's `x-portcullis-*` value
 * and a per-operation block would reset the API's settings. The gateway fills defaults after merging
 * spec, API and operation (src/gateway/pipeline.ts).
 */
function deferDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deferDefaults);
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value as JsonObject))
    out[k === 'default' ? 'x-default' : k] = deferDefaults(v);
  return out;
}

function policiesSchema(defs: ReadonlyArray<PolicyDefinition>): JsonObject {
  const properties: JsonObject = {};
  for (const d of defs) properties[d.name] = deferDefaults(policyConfigSchema(d));
  return {
    type: 'object',
    additionalProperties: false,
    description:
      'Policies by name; each runs in its stage (ban, authenticate, authorize, limit, validate, ...). Per operation, each key given replaces the API-level value of that key and the rest is inherited.',
    properties,
  };
}

/**
 * Builds the JSON Schema of the whole config file from the core and the policies and sections it is given
 * (the CLI hands it the registry: src/cli/config.ts).
 */
export function buildConfigSchema(
  defs: ReadonlyArray<PolicyDefinition>,
  extra: ReadonlyArray<ConfigSection>,
): JsonObject {
  const policiesRef = { $ref: '#/definitions/policies' };
  const sectionProps: JsonObject = {};
  for (const s of extra) sectionProps[s.key] = s.schema as JsonObject;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://portcullis.dev/schema/config.json',
    title: 'Portcullis gateway configuration',
    type: 'object',
    additionalProperties: false,
    required: ['version', 'apis'],
    definitions: { policies: policiesSchema(defs) },
    properties: {
      $schema: { type: 'string', description: 'Editor hint; ignored.' },
      version: { const: 1, description: 'Config format version. Always 1.' },
      server: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'The gateway listeners and their protections.',
        properties: {
          listen: {
            type: 'array',
            minItems: 1,
            items: listenerSchema,
            default: [{ host: '127.0.0.1', port: 8080 }],
            description: 'Sockets to serve on.',
          },
          allowInsecurePublicHttp: {
            type: 'boolean',
            default: false,
            description:
              'Permit a plain-HTTP listener on a non-loopback address. Off: such a config is refused.',
          },
          trustedProxies: {
            type: 'array',
            items: { type: 'string' },
            default: [],
            description:
              'CIDRs of proxies in front of the gateway. `Forwarded` and `X-Forwarded-*` are believed only from these.',
          },
          hsts: {
            type: 'object',
            additionalProperties: false,
            default: {},
            description: '`Strict-Transport-Security` on HTTPS responses (RFC 6797).',
            properties: {
              enabled: { type: 'boolean', default: true, description: 'Send HSTS on HTTPS responses.' },
              maxAgeSeconds: { type: 'integer', minimum: 0, default: 63072000, description: 'max-age.' },
              includeSubDomains: { type: 'boolean', default: true, description: 'Add includeSubDomains.' },
            },
          },
          maxHeaderBytes: {
            type: 'integer',
            minimum: 1024,
            default: 16384,
            description: 'Largest request head (request line and headers); larger gets 431.',
          },
          maxBodyBytes: {
            type: 'integer',
            minimum: 0,
            default: 10485760,
            description: 'Largest request body accepted; larger gets 413. Operations may lower it.',
          },
          bufferBodyBelowBytes: {
            type: 'integer',
            minimum: 0,
            default: 65536,
            description:
              'Bodies with a known length below this are buffered (cheaper); larger ones are streamed.',
          },
          minBodyBytesPerSecond: {
            type: 'integer',
            minimum: 0,
            default: 1024,
            description:
              'Slowest average rate at which a body streamed to the upstream may arrive, after a grace of `minBodyRateGraceMs`; slower gets 408 and the upstream request is cancelled (0: no minimum).',
          },
          minBodyRateGraceMs: ms(
            'Head start of a streamed body before `minBodyBytesPerSecond` applies: from then on it must have sent at least that rate times the time elapsed beyond this grace.',
            5000,
          ),
          streamedBodiesPerClient: {
            type: 'integer',
            minimum: 1,
            default: 16,
            description:
              'Request bodies one client address may be streaming to upstreams at once (each holds an upstream connection); more get 429. Counted per client address as resolved through trusted proxies.',
          },
          maxConnectionsPerIp: {
            type: 'integer',
            minimum: 1,
            default: 256,
            description:
              'Open connections one client address may hold; more are closed at once. Trusted proxies are exempt.',
          },
          maxConnections: {
            type: 'integer',
            minimum: 1,
            default: 16384,
            description: 'Open connections per listener; more are refused.',
          },
          headersTimeoutMs: ms('Time a client has to send the request head (slowloris guard).', 10000),
          requestTimeoutMs: ms('Time a client has to send the whole request.', 60000),
          keepAliveTimeoutMs: ms('How long an idle client connection is kept open.', 5000),
          shutdownTimeoutMs: ms(
            'On stop, how long in-flight requests may take before connections are cut.',
            10000,
          ),
        },
      },
      admin: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'The admin listener: health, readiness, Prometheus metrics, admin API and dashboard.',
        properties: {
          enabled: { type: 'boolean', default: true, description: 'Serve the admin listener.' },
          host: {
            type: 'string',
            default: '127.0.0.1',
            description: 'Address to bind (loopback by default).',
          },
          port: { type: 'integer', minimum: 0, maximum: 65535, default: 9090, description: 'Port to bind.' },
          allowedHosts: {
            type: 'array',
            items: {
              type: 'string',
              pattern: '^(?:(?:\\*\\.)?[A-Za-z0-9._-]+|\\[[0-9A-Fa-f:.]+\\]|[0-9A-Fa-f:.]+)$',
            },
            default: [],
            description:
              'Host names the admin listener answers to besides localhost, 127.0.0.1, [::1] and its own bind ' +
              'address (DNS rebinding protection): names or IP addresses without a port, `*.example.com` for ' +
              'subdomains. A request with any other Host gets 421.',
          },
          token: {
            type: 'string',
            minLength: 16,
            description:
              'Bearer token for the admin API and dashboard. Without it only health and metrics are served.',
          },
        },
      },
      logging: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Structured JSON logs (pino) on stdout.',
        properties: {
          level: {
            enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
            default: 'info',
            description: 'Lowest level written.',
          },
          accessLog: { type: 'boolean', default: true, description: 'One access line per request.' },
        },
      },
      state: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Where shared state (rate-limit counters, bans, replay caches) lives.',
        properties: {
          store: {
            enum: ['memory', 'redis'],
            default: 'memory',
            description: '`memory` for one instance; `redis` to share state between instances.',
          },
          maxEntries: {
            type: 'integer',
            minimum: 1000,
            default: 100000,
            description:
              "Memory store: most live rate-limit keys (a new key past it gets the limit's `failMode`), and most ban and replay-cache entries (oldest evicted first). One key per client and limit; limiter heap ≈ maxEntries × 182 bytes at most, bans 520 bytes each (docs/limits.md, memory per client key).",
          },
          redis: {
            type: 'object',
            additionalProperties: false,
            description: 'Redis connection when `store` is `redis`.',
            properties: {
              url: {
                type: 'string',
                pattern: '^rediss?://',
                'x-expected': 'a redis:// or rediss:// URL',
                description: 'redis:// or rediss:// URL.',
              },
              keyPrefix: { type: 'string', default: 'portcullis:', description: 'Prefix of every key.' },
              commandTimeoutMs: {
                type: 'integer',
                minimum: 10,
                maximum: 10_000,
                default: 500,
                description: 'A Redis call without an answer after this long counts as a failure (ms).',
              },
              failureThreshold: {
                type: 'integer',
                minimum: 1,
                maximum: 100,
                default: 3,
                description:
                  'Failures in a row (timeouts or errors) that declare Redis unavailable: until a probe answers, every caller (bans, limits, quotas, DPoP replay) decides by its fail mode without asking it. A lost connection counts at once.',
              },
              probeIntervalMs: {
                type: 'integer',
                minimum: 50,
                maximum: 60_000,
                default: 1000,
                description:
                  'While Redis is unavailable, one PING is sent this often (ms); its answer ends the outage. No request waits for it.',
              },
            },
          },
        },
      },
      apis: {
        type: 'array',
        minItems: 1,
        description: 'The APIs behind the gateway, each described by its OpenAPI document.',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'spec', 'upstream'],
          properties: {
            name: {
              type: 'string',
              pattern: '^[A-Za-z0-9_.-]+$',
              description: 'Short name, used in logs and metrics.',
            },
            spec: {
              type: 'string',
              description: 'OpenAPI 3.0/3.1 or Swagger 2.0 file, relative to the config file.',
            },
            basePath: {
              type: 'string',
              pattern: '^(/[^/?#]+)*$',
              'x-expected': "a path like /api/v1 (no trailing slash), or ''",
              default: '',
              description:
                'Prefix under which the gateway serves this API (stripped before matching and forwarding).',
            },
            hosts: {
              type: 'array',
              items: { type: 'string' },
              default: [],
              description: 'Host header values this API answers to (empty: any). Others get 421.',
            },
            upstream: upstreamSchema,
            undeclared: {
              enum: ['deny', 'report'],
              default: 'deny',
              description:
                '`deny` answers 404/405 to anything the spec does not declare; `report` forwards it and logs it as undeclared (for rollout).',
            },
            policies: policiesRef,
            operations: {
              type: 'object',
              default: {},
              description: 'Per-operation overrides, keyed by operationId.',
              additionalProperties: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  maxBodyBytes: {
                    type: 'integer',
                    minimum: 0,
                    description: 'Largest request body for this operation.',
                  },
                  policies: policiesRef,
                },
              },
            },
          },
        },
      },
      ...sectionProps,
    },
  };
}
