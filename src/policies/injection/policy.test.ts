import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createTestContext, exchangeOf, specOf } from '../../../test/kit/policy.ts';
import { createManualClock } from '../../core/clock.ts';
import type { PolicyHandler } from '../../core/policy.ts';
import { injectionPolicy } from './policy.ts';
import type { InjectionConfig } from './schema.ts';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
const CRS_RULES = '/usr/share/modsecurity-crs/rules';

const spec = specOf({
  paths: {
    '/notes/{noteId}': {
      get: {
        operationId: 'getNote',
        parameters: [
          { name: 'noteId', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'q', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'ok' } },
      },
    },
  },
});

async function compiled(config: Partial<InjectionConfig>) {
  const tc = createTestContext(spec, { clock: createManualClock(T0), apiName: 'notes' });
  const ctx = tc.ctx('getNote');
  const handler = (await injectionPolicy.compile(config as InjectionConfig, ctx)) as PolicyHandler;
  const url = `/notes/7?q=${encodeURIComponent("1' OR '1'='1")}`;
  const ex = exchangeOf(ctx, {
    id: 'req-1',
    url,
    clientIp: '198.51.100.9',
    req: { method: 'GET', url, headers: { host: 'localhost' }, rawHeaders: ['Host', 'localhost'] } as never,
    principal: { subject: 'alice' },
  });
  return { handler, ex, events: tc.events };
}

/** The request fields every denial event carries, for the request `compiled` makes. */
const REQUEST_FIELDS = {
  'http.request.id': 'req-1',
  'http.request.method': 'GET',
  'url.path': '/notes/7',
  'http.route': '/notes/{noteId}',
  'source.ip': '198.51.100.9',
  'client.address': '198.51.100.9',
  'portcullis.api': 'notes',
  'portcullis.operation_id': 'getNote',
};

describe('injection security events', () => {
  test('the built-in guard emits one alert with the request fields, the classes and where, never the payload', async () => {
    const { handler, ex, events } = await compiled({ mode: 'enforce', paranoia: 1 });
    const refusal = await handler.onRequest!(ex);
    assert.equal(refusal?.reason, 'injection_sqli');
    assert.equal(events.length, 1);
    const { 'portcullis.payload_hash': hash, ...rest } = events[0];
    assert.match(String(hash), /^[\w-]{12}$/);
    assert.deepEqual(rest, {
      '@timestamp': '2026-01-02T03:04:05.000Z',
      'event.kind': 'alert',
      'event.category': 'intrusion_detection',
      'event.type': 'denied',
      'event.action': 'injection-detected',
      'event.outcome': 'failure',
      'event.reason': 'sqli',
      'event.severity': 3,
      'rule.name': 'injection',
      'rule.category': 'sqli',
      'threat.technique.name': ['sqli'],
      ...REQUEST_FIELDS,
      'portcullis.mode': 'enforce',
      'portcullis.paranoia': 1,
      'portcullis.pointers': ['#/query/q'],
      'portcullis.injection': [{ pointer: '#/query/q', class: 'sqli' }],
      'user.id': 'alice',
    });
    assert.ok(!JSON.stringify(events[0]).includes("'1'='1"));
  });

  test('in report mode the alert is info with an unknown outcome', async () => {
    const { handler, ex, events } = await compiled({ mode: 'report', paranoia: 1 });
    await handler.onRequest!(ex);
    assert.equal(events[0]['event.type'], 'info');
    assert.equal(events[0]['event.outcome'], 'unknown');
    assert.equal(events[0]['portcullis.mode'], 'report');
  });

  test('the CRS mode emits one alert with the request fields, the rule ids and the score', async () => {
    const { handler, ex, events } = await compiled({
      mode: 'enforce',
      crs: {
        path: CRS_RULES,
        paranoiaLevel: 1,
        inboundAnomalyThreshold: 5,
        schemaAware: true,
        builtinDetectors: false,
        exclusions: [],
        unicodeCodePage: 20127,
      },
    } as Partial<InjectionConfig>);
    const refusal = await handler.onRequest!(ex);
    assert.equal(refusal?.reason, 'injection_crs');
    assert.equal(events.length, 1);
    const {
      'rule.id': ids,
      'rule.ruleset': ruleSet,
      'rule.category': categories,
      'portcullis.crs': crs,
      ...rest
    } = events[0];
    const tags = String(categories).split(',');
    assert.ok(tags.includes('attack-sqli') && tags.every((t) => t.startsWith('attack-')), tags.join());
    assert.match(String(ids), /^\d+(,\d+)*$/);
    assert.ok(String(ids).split(',').includes('942100'), String(ids));
    assert.match(String(ruleSet), /^OWASP CRS \d/);
    const { score, threshold, paranoiaLevel, matches } = crs as Record<string, unknown>;
    assert.ok(typeof score === 'number' && score >= 5);
    assert.deepEqual([threshold, paranoiaLevel], [5, 1]);
    assert.ok(Array.isArray(matches) && matches.length > 0);
    assert.deepEqual(rest, {
      '@timestamp': '2026-01-02T03:04:05.000Z',
      'event.kind': 'alert',
      'event.category': 'intrusion_detection',
      'event.type': 'denied',
      'event.action': 'injection-detected',
      'event.outcome': 'failure',
      'event.reason': 'crs',
      'event.severity': 3,
      'rule.name': 'crs',
      ...REQUEST_FIELDS,
      'portcullis.mode': 'enforce',
      'portcullis.paranoia': 1,
      'user.id': 'alice',
    });
  });
});
