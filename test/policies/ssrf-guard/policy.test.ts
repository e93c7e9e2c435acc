import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../../src/core/problems.ts';
import { compileSsrfGuard } from '../../../src/policies/ssrf-guard/policy.ts';
import type { LookupAll } from '../../../src/policies/ssrf-guard/resolver.ts';
import { defaults, type SsrfGuardConfig } from '../../../src/policies/ssrf-guard/schema.ts';
import { apiDocument, createTestContext } from '../../kit/policy.ts';
import { type HandlerServer, serveHandler } from '../../kit/policy-server.ts';

const spec = apiDocument({
  openapi: '3.1.0',
  security: [],
  info: { title: 't', version: '1' },
  components: {
    schemas: {
      Hook: {
        type: 'object',
        properties: {
          callback: { type: 'string', format: 'uri' },
          mirrors: { type: 'array', items: { type: 'string', format: 'url' } },
          avatar: { type: 'string', 'x-portcullis-ssrf': true },
          link: { type: 'string', format: 'uri-reference' },
          note: { type: 'string' },
        },
      },
    },
  },
  paths: {
    '/hooks': {
      post: {
        operationId: 'createHook',
        parameters: [
          { name: 'next', in: 'query', schema: { type: 'string', format: 'uri' } },
          { name: 'back', in: 'query', schema: { type: 'string', format: 'iri-reference' } },
        ],
        requestBody: {
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/Hook' } },
            'application/x-www-form-urlencoded': { schema: { $ref: '#/components/schemas/Hook' } },
          },
        },
        responses: { '201': { description: 'ok' } },
      },
    },
    '/plain': { get: { operationId: 'plain', responses: { '200': { description: 'ok' } } } },
  },
});

/**
 * DNS answers for names that cannot be resolved offline here (the test machine has no DNS beyond its
 * hosts file). Nothing is ever sent to these addresses: the guard only classifies them.
 */
const answers: Record<string, string[]> = {
  'public.example.com': ['93.184.216.34'],
  'rebind.example.com': ['93.184.216.34', '10.0.0.5'],
  'mapped.example.com': ['::ffff:169.254.169.254'],
};
const lookups: string[] = [];
const lookup: LookupAll = async (host) => {
  lookups.push(host);
  const a = answers[host];
  if (a === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return a;
};

async function serve(config: Partial<SsrfGuardConfig> = {}) {
  const t = createTestContext(spec);
  const ctx = t.ctx('createHook');
  const handler = compileSsrfGuard({ ...defaults, mode: 'enforce', ...config }, ctx, lookup);
  assert.ok(handler);
  return { server: await serveHandler(handler, ctx), events: t.events };
}

const post = (s: HandlerServer, body: unknown, query = '') =>
  s.send(`/hooks${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('ssrfGuard', () => {
  let s: HandlerServer;
  let events: Array<Record<string, unknown>>;
  before(async () => {
    const r = await serve();
    s = r.server;
    events = r.events;
  });
  after(() => s.close());

  test('lets a URL to a public host through', async () => {
    const d = await post(s, { callback: 'https://public.example.com/cb', note: 'http://127.0.0.1/' });
    assert.equal(d.problem, undefined);
  });

  test('refuses the cloud metadata address in a body member', async () => {
    const d = await post(s, { callback: 'http://169.254.169.254/latest/meta-data/' });
    assert.equal(d.problem?.type, problems.ssrfBlocked.type);
    assert.deepEqual(d.problem?.extensions?.errors, [
      { pointer: '#/body/callback', detail: 'points to an internal address' },
    ]);
  });

  test('refuses decimal, octal and hex loopback forms in array items', async () => {
    const d = await post(s, {
      mirrors: ['http://2130706433/', 'https://public.example.com/', 'http://0x7f.1/'],
    });
    assert.deepEqual(
      (d.problem!.extensions!.errors as Array<{ pointer: string }>).map((e) => e.pointer),
      ['#/body/mirrors/0', '#/body/mirrors/2'],
    );
  });

  test('refuses IPv4-mapped IPv6 loopback and the AWS IPv6 metadata address', async () => {
    for (const url of ['http://[::ffff:127.0.0.1]:8080/', 'http://[fd00:ec2::254]/']) {
      const d = await post(s, { avatar: url });
      assert.equal(d.problem?.reason, 'internal_address', url);
    }
  });

  test('refuses a name whose DNS answers include an internal address', async () => {
    const d = await post(s, { callback: 'https://rebind.example.com/' });
    assert.equal(d.problem?.reason, 'resolves_inward');
    const m = await post(s, { callback: 'https://mapped.example.com/' });
    assert.equal(m.problem?.reason, 'resolves_inward');
  });

  test('refuses a name that does not resolve', async () => {
    const d = await post(s, { callback: 'https://nowhere.example.org/' });
    assert.equal(d.problem?.reason, 'unresolvable');
  });

  test('refuses localhost and metadata names without asking DNS', async () => {
    lookups.length = 0;
    for (const url of ['http://localhost:6379/', 'http://metadata.google.internal/computeMetadata/v1/']) {
      assert.equal((await post(s, { callback: url })).problem?.reason, 'internal_name');
    }
    assert.deepEqual(lookups, []);
  });

  test('checks URL query parameters', async () => {
    const d = await post(s, {}, `?next=${encodeURIComponent('file:///etc/passwd')}`);
    assert.deepEqual(d.problem?.extensions?.errors, [
      { pointer: '#/query/next', detail: 'uses a URL scheme that is not allowed' },
    ]);
  });

  test('checks URL fields of a form body', async () => {
    const d = await s.send('/hooks', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `note=x&callback=${encodeURIComponent('https://public.example.com/')}&mirrors=${encodeURIComponent('http://127.0.0.1/')}&mirrors=${encodeURIComponent('https://public.example.com/')}`,
    });
    assert.deepEqual(d.problem?.extensions?.errors, [
      { pointer: '#/body/mirrors/0', detail: 'points to an internal address' },
    ]);
  });

  test('refuses a network-path reference to the metadata address as an absolute URL would be', async () => {
    const d = await post(s, { link: '//169.254.169.254/latest/meta-data' });
    assert.deepEqual(d.problem?.extensions?.errors, [
      { pointer: '#/body/link', detail: 'points to an internal address' },
    ]);
  });

  test('refuses the spellings of a reference that URL parsers resolve to an internal host', async () => {
    const spellings = [
      '\\\\169.254.169.254/latest/meta-data',
      '/\\169.254.169.254/',
      '\\/169.254.169.254/',
      '///10.0.0.1/',
      '\t//10.0.0.1/',
      '/\n/10.0.0.1/',
      '\u0000//10.0.0.1/',
      ' http://127.0.0.1/',
      '\u00a0//127.0.0.1/',
      'HtTp://169.254.169.254/',
      'HTTP:\\\\10.0.0.1/',
      'http:10.0.0.1',
      'https:10.0.0.1',
      '//[::ffff:127.0.0.1]/',
    ];
    for (const link of spellings) {
      const d = await post(s, { link });
      assert.equal(d.problem?.type, problems.ssrfBlocked.type, JSON.stringify(link));
      assert.equal(d.problem?.reason, 'internal_address', JSON.stringify(link));
    }
  });

  test('refuses a network-path reference to localhost, and one in a query parameter', async () => {
    assert.equal((await post(s, { link: '//localhost:6379/' })).problem?.reason, 'internal_name');
    const d = await post(s, {}, `?back=${encodeURIComponent('//169.254.169.254/')}`);
    assert.deepEqual(d.problem?.extensions?.errors, [
      { pointer: '#/query/back', detail: 'points to an internal address' },
    ]);
  });

  test('checks the host of a network-path reference against DNS', async () => {
    assert.equal((await post(s, { link: '//rebind.example.com/x' })).problem?.reason, 'resolves_inward');
    assert.equal((await post(s, { link: '//public.example.com/x' })).problem, undefined);
  });

  test('refuses a reference that parsers split into different hosts', async () => {
    const d = await post(s, { link: '//public.example.com\\@10.0.0.1/' });
    assert.equal(d.problem?.reason, 'malformed_url');
  });

  test('lets a reference without an authority of its own through', async () => {
    for (const link of ['/images/a.png', 'images/a.png', '../up', '?page=2', '#top', '', '/%2F10.0.0.1']) {
      assert.equal((await post(s, { link })).problem, undefined, JSON.stringify(link));
    }
  });

  test('refuses a reference with a scheme outside allowSchemes', async () => {
    for (const link of ['file:///etc/passwd', ' FILE:///etc/passwd', 'gopher://public.example.com/']) {
      assert.equal((await post(s, { link })).problem?.reason, 'scheme_not_allowed', JSON.stringify(link));
    }
  });

  test('emits an alert without the URL', async () => {
    events.length = 0;
    await post(s, { callback: 'http://10.0.0.1/secret-path' });
    assert.equal(events.length, 1);
    assert.equal(events[0]['event.kind'], 'alert');
    assert.equal(events[0]['event.action'], 'ssrf-attempt');
    assert.equal(JSON.stringify(events[0]).includes('secret-path'), false);
  });
});

describe('ssrfGuard configuration', () => {
  test('refuses public hosts outside the allowlist', async () => {
    const { server } = await serve({ allowHosts: ['*.hooks.example.net'] });
    try {
      assert.equal(
        (await post(server, { callback: 'https://public.example.com/' })).problem?.reason,
        'host_not_allowed',
      );
    } finally {
      await server.close();
    }
  });

  test('refuses more URLs than maxUrls', async () => {
    const { server } = await serve({ maxUrls: 2 });
    try {
      const d = await post(server, {
        mirrors: ['https://a.example.com/', 'https://b.example.com/', 'https://c.example.com/'],
      });
      assert.equal(d.problem?.reason, 'too_many_urls');
    } finally {
      await server.close();
    }
  });

  test('allows an explicitly allowed internal range', async () => {
    const { server } = await serve({ allowAddresses: ['10.20.0.0/16'] });
    try {
      assert.equal((await post(server, { callback: 'http://10.20.1.2/' })).problem, undefined);
      assert.equal(
        (await post(server, { callback: 'http://10.21.1.2/' })).problem?.reason,
        'internal_address',
      );
    } finally {
      await server.close();
    }
  });

  test('compiles to nothing for an operation without URL members', () => {
    const t = createTestContext(spec);
    assert.equal(compileSsrfGuard({ ...defaults, mode: 'enforce' }, t.ctx('plain'), lookup), null);
  });
});
