import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../cli/config.ts';
import { ConfigError, formatIssue } from '../../config/load.ts';

const config = (policies: string) => `version: 1
apis:
  - name: demo
    spec: ./openapi.yaml
    upstream: { url: 'http://127.0.0.1:3000' }
    policies:
${policies}
`;

function issuesOf(text: string): string[] {
  try {
    parseConfig(text, 'gw.yaml', {});
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map(formatIssue);
  }
  return [];
}

describe('rateLimit schema in the gateway config', () => {
  test('accepts the documented example with ipRateLimit before authentication and rateLimit after it', () => {
    const c = parseConfig(
      config(`      ipRateLimit:
        failMode: open
        limits:
          - { name: per-ip, algorithm: gcra, limit: 100, windowSeconds: 60, burst: 20, key: ip }
      rateLimit:
        failMode: closed
        legacyHeaders: true
        ipv6PrefixLength: 56
        limits:
          - { name: per-consumer, algorithm: sliding-window, limit: 600, windowSeconds: 60, key: consumer, fallbackKey: ip }
          - { name: daily, algorithm: quota, period: day, limit: 10000, key: [consumer, 'claim:tenant'] }
          - { name: inflight, algorithm: concurrency, limit: 8, key: consumer }`),
      'gw.yaml',
      {},
    );
    const rl = (c.apis[0].policies as unknown as Record<string, { limits: Array<Record<string, unknown>> }>)
      .rateLimit;
    assert.deepEqual(
      rl.limits.map((l) => l.name),
      ['per-consumer', 'daily', 'inflight'],
    );
  });

  test('reports an unknown algorithm and an unknown key part with their paths', () => {
    const issues = issuesOf(
      config(`      rateLimit:
        limits:
          - { name: a, algorithm: leaky, limit: 1 }
          - { name: b, algorithm: gcra, limit: 1, key: password }`),
    );
    assert.ok(
      issues.some((i) => i.includes('rateLimit.limits[0].algorithm')),
      issues.join('\n'),
    );
    assert.ok(
      issues.some((i) => i.includes('rateLimit.limits[1].key')),
      issues.join('\n'),
    );
  });
});
