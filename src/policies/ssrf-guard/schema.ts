import type { PolicyConfigBase } from '../../core/policy.ts';

export interface SsrfGuardConfig extends PolicyConfigBase {
  allowHosts: string[];
  allowSchemes: string[];
  allowPorts: number[];
  allowAddresses: string[];
  resolveDns: boolean;
  dnsTimeoutMs: number;
  dnsCacheSeconds: number;
  dnsCacheEntries: number;
  maxUrls: number;
  maxUrlLength: number;
}

export const defaults: Omit<SsrfGuardConfig, 'mode'> = {
  allowHosts: [],
  allowSchemes: ['https', 'http'],
  allowPorts: [],
  allowAddresses: [],
  resolveDns: true,
  dnsTimeoutMs: 2000,
  dnsCacheSeconds: 60,
  dnsCacheEntries: 1000,
  maxUrls: 20,
  maxUrlLength: 2048,
};

/** JSON Schema of the `ssrfGuard` config block. */
export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    allowHosts: {
      type: 'array',
      items: { type: 'string', pattern: '^(\\*\\.)?[A-Za-z0-9.-]+$' },
      default: defaults.allowHosts,
      description:
        'Hosts a URL may name: exact names or `*.example.com`. Empty: any public host. Internal addresses ' +
        'stay refused either way.',
    },
    allowSchemes: {
      type: 'array',
      items: { type: 'string', pattern: '^[a-z][a-z0-9+.-]*$' },
      default: defaults.allowSchemes,
      description: 'URL schemes accepted (file:, gopher:, dict: ... are refused unless listed).',
    },
    allowPorts: {
      type: 'array',
      items: { type: 'integer', minimum: 1, maximum: 65535 },
      default: defaults.allowPorts,
      description: 'Ports a URL may name. Empty: any port.',
    },
    allowAddresses: {
      type: 'array',
      items: { type: 'string' },
      default: defaults.allowAddresses,
      description:
        'Internal ranges that are nevertheless allowed (CIDR, e.g. `10.20.0.0/16`). Use sparingly.',
    },
    resolveDns: {
      type: 'boolean',
      default: defaults.resolveDns,
      description: 'Resolve host names and refuse those with any internal address (DNS pointing inward).',
    },
    dnsTimeoutMs: {
      type: 'integer',
      minimum: 1,
      default: defaults.dnsTimeoutMs,
      description: 'How long to wait for DNS; a name that does not resolve in time is refused.',
    },
    dnsCacheSeconds: {
      type: 'integer',
      minimum: 0,
      default: defaults.dnsCacheSeconds,
      description: 'How long DNS answers are cached.',
    },
    dnsCacheEntries: {
      type: 'integer',
      minimum: 1,
      default: defaults.dnsCacheEntries,
      description: 'Most host names kept in the DNS cache (shared by the routes of an API).',
    },
    maxUrls: {
      type: 'integer',
      minimum: 1,
      default: defaults.maxUrls,
      description: 'Most URL values checked in one request; more are refused.',
    },
    maxUrlLength: {
      type: 'integer',
      minimum: 1,
      default: defaults.maxUrlLength,
      description: 'Longest URL accepted, in characters.',
    },
  },
};
