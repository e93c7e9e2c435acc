import type { SparseConfigOf } from '../../core/policy-config.ts';

const KEY_PATTERN =
  "^(ip|consumer|subject|apiKey|operation|global|claim:[^\\s]+|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+)$";

const keySchema = (description: string) =>
  ({
    description,
    default: 'ip',
    oneOf: [
      { type: 'string', pattern: KEY_PATTERN },
      { type: 'array', minItems: 1, maxItems: 6, items: { type: 'string', pattern: KEY_PATTERN } },
    ],
  }) as const;

export const limitSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'algorithm', 'limit'],
  description: 'One named limit; every limit of the policy must pass for a request to go through.',
  properties: {
    name: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]{1,64}$',
      description:
        'Policy name shown in the RateLimit headers and events; also names the counter, so two routes with a limit of the same name share one budget.',
    },
    algorithm: {
      enum: ['gcra', 'sliding-window', 'fixed-window', 'quota', 'concurrency'],
      description:
        '`gcra` token bucket with burst (exact); `sliding-window` (never over the limit in any window, a unit may come back up to one sub-window late); `fixed-window` (exact per window, windows aligned to the epoch, i.e. to UTC midnight); `quota` per UTC calendar `period`; `concurrency` requests in flight.',
    },
    limit: {
      type: 'integer',
      minimum: 1,
      maximum: 1_000_000_000,
      description: 'Units per window (gcra: sustained rate per window; concurrency: requests in flight).',
    },
    windowSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: 31_622_400,
      default: 60,
      description: 'Window length in seconds (gcra, sliding-window, fixed-window).',
    },
    burst: {
      type: 'integer',
      minimum: 1,
      description: 'gcra: bucket capacity, the most units usable at once (default: `limit`).',
    },
    period: { enum: ['day', 'month'], default: 'day', description: 'quota: UTC calendar day or month.' },
    subWindows: {
      type: 'integer',
      minimum: 2,
      maximum: 60,
      default: 10,
      description: 'sliding-window: precision; a unit comes back at most windowSeconds/subWindows late.',
    },
    leaseSeconds: {
      type: 'integer',
      minimum: 1,
      maximum: 3600,
      default: 300,
      description: 'concurrency: a slot whose release was lost (crashed instance) frees itself after this.',
    },
    cost: {
      type: 'integer',
      minimum: 1,
      description:
        'Units one request uses (default: the policy-level `cost`, else 1). Concurrency ignores it.',
    },
    key: keySchema(
      'What partitions the limit: ip, consumer, subject, apiKey, operation, global, claim:<name>, header:<name>, or a list of these (composite).',
    ),
    fallbackKey: keySchema(
      'Key used when a part of `key` is missing (anonymous caller, absent claim or header).',
    ),
    countRejected: {
      type: 'boolean',
      default: false,
      description: 'Count requests against this limit even when another limit (or this one) rejects them.',
    },
  },
} as const;

/** JSON Schema of the `rateLimit` / `ipRateLimit` config (without `mode`/`enabled`, added by the gateway). */
export const rateLimitSchema = {
  type: 'object',
  properties: {
    // The gateway fills these defaults after merging spec, API and operation blocks; `compile` fills them from
    // here too (withDefaults) for blocks built directly, as tests do.
    limits: {
      type: 'array',
      default: [],
      maxItems: 16,
      items: limitSchema,
      description: "Named limits, all of which must pass. An operation's list replaces the API's.",
    },
    cost: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'Units a request to this operation uses in every limit without its own cost.',
    },
    failMode: {
      enum: ['open', 'closed'],
      description:
        'When the store cannot decide (Redis unreachable, memory limiter full): `open` decides with a local in-memory limiter (per instance), `closed` answers 503.',
      default: 'open',
    },
    headers: {
      type: 'boolean',
      default: true,
      description: 'Send RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers-10).',
    },
    legacyHeaders: {
      type: 'boolean',
      default: false,
      description: 'Also send X-RateLimit-Limit/-Remaining/-Reset for the tightest limit.',
    },
    ipv4PrefixLength: {
      type: 'integer',
      minimum: 8,
      maximum: 32,
      default: 32,
      description: 'Key `ip`: IPv4 clients are grouped by this prefix.',
    },
    ipv6PrefixLength: {
      type: 'integer',
      minimum: 16,
      maximum: 128,
      default: 64,
      description: 'Key `ip`: IPv6 clients are grouped by this prefix (one /64 is one subscriber).',
    },
  },
  // Last, where the config schema puts its own (it closes every policy block): the JSON stays the same.
  additionalProperties: false,
} as const;

/**
 * Config of `rateLimit` and `ipRateLimit`. Every field with a default may be absent (a block built directly):
 * `compile` fills the defaults from the schema above.
 */
export type RateLimitConfig = SparseConfigOf<typeof rateLimitSchema>;

/** One named limit. */
export type LimitConfig = NonNullable<RateLimitConfig['limits']>[number];
