import { type ConfigOf, defaultsOf } from '../../core/policy-config.ts';

/** JSON Schema of the `ssrfGuard` config block. */
export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    allowHosts: {
      type: 'array',
      items: { type: 'string', pattern: '^(\\*\\.)?[A-Za-z0-9.-]+$' },
      default: [],
      description:
        'Hosts a URL may name: exact names or `*.example.com`. Empty: any public host. Internal addresses ' +
        'stay refused either way.',
    },
    allowSchemes: {
      type: 'array',
      items: { type: 'string', pattern: '^[a-z][a-z0-9+.-]*$' },
      default: ['https', 'http'],
      description: 'URL schemes accepted (file:, gopher:, dict: ... are refused unless listed).',
    },
    allowPorts: {
      type: 'array',
      items: { type: 'integer', minimum: 1, maximum: 65535 },
      default: [],
      description: 'Ports a URL may name. Empty: any port.',
    },
    allowAddresses: {
      type: 'array',
      items: { type: 'string' },
      default: [],
      description:
        'Internal ranges that are nevertheless allowed (CIDR, e.g. `10.20.0.0/16`). Use sparingly.',
    },
    resolveDns: {
      type: 'boolean',
      default: true,
      description: 'Resolve host names and refuse those with any internal address (DNS pointing inward).',
    },
    dnsTimeoutMs: {
      type: 'integer',
      minimum: 1,
      default: 2000,
      description: 'How long to wait for DNS; a name that does not resolve in time is refused.',
    },
    dnsCacheSeconds: {
      type: 'integer',
      minimum: 0,
      default: 60,
      description: 'How long DNS answers are cached.',
    },
    dnsCacheEntries: {
      type: 'integer',
      minimum: 1,
      default: 1000,
      description: 'Most host names kept in the DNS cache (shared by the routes of an API).',
    },
    maxUrls: {
      type: 'integer',
      minimum: 1,
      default: 20,
      description: 'Most URL values checked in one request; more are refused.',
    },
    maxUrlLength: {
      type: 'integer',
      minimum: 1,
      default: 2048,
      description: 'Longest URL accepted, in characters.',
    },
  },
} as const;

export type SsrfGuardConfig = ConfigOf<typeof schema>;

export const defaults = defaultsOf<SsrfGuardConfig>(schema);
