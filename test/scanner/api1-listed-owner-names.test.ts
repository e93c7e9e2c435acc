import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A translators' co-operative in Fastify's style (errors `{statusCode, error, message}`, camelCase, a signed JWT
 * from `POST /v2/session {username, password}` whose `sub` is the user name). `GET /v2/translators` shows every
 * member the same short list (`{translators: [{id, displayName, languages}]}`, numeric ids 1, 2, 3); the item,
 * `GET /v2/translators/{translatorId}`, names its account by `username` and shows the e-mail, the payout IBAN and
 * the member's API token.
 *
 * Nothing says whose an id is but the item itself (`username: "bob"` for bob's token `sub: "bob"`): the list is
 * shared, the ids are numbers, no token claim is a number. Vulnerable: any member reads any member's full record.
 * Fixed twin: another member's id answers the public view (200, `{id, displayName, languages}`), as the list does.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'translators co-op', version: '2.0.0' },
  components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ jwt: [] }],
  paths: {
    '/v2/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' }, '401': { description: 'wrong credentials' } },
      },
    },
    '/v2/translators': {
      get: { operationId: 'listTranslators', responses: { '200': { description: 'every member, short' } } },
    },
    '/v2/translators/{translatorId}': {
      get: {
        operationId: 'getTranslator',
        parameters: [{ name: 'translatorId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a member' }, '404': { description: 'no such member' } },
      },
      patch: {
        operationId: 'updateTranslator',
        parameters: [{ name: 'translatorId', in: 'path', required: true, schema: { type: 'integer' } }],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  displayName: { type: 'string', maxLength: 60 },
                  languages: { type: 'array', items: { type: 'string' } },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'the member' } },
      },
    },
  },
};

const MEMBERS = [
  {
    id: 1,
    username: 'oona',
    password: 'oona-Tr4nslates',
    displayName: 'Oona K.',
    languages: ['fi', 'sv'],
    email: 'oona@coop.example',
    payoutIban: 'FI2112345600000785',
    apiToken: 'tk_oona_91c2d0a7e5',
    role: 'translator',
  },
  {
    id: 2,
    username: 'piet',
    password: 'piet-Tr4nslates',
    displayName: 'Piet V.',
    languages: ['nl', 'de'],
    email: 'piet@coop.example',
    payoutIban: 'NL91ABNA0417164300',
    apiToken: 'tk_piet_4b7e11c093',
    role: 'translator',
  },
  {
    id: 3,
    username: 'rosa',
    password: 'rosa-Tr4nslates',
    displayName: 'Rosa M.',
    languages: ['es', 'pt'],
    email: 'rosa@coop.example',
    payoutIban: 'ES9121000418450200051332',
    apiToken: 'tk_rosa_0d5a62f8b1',
    role: 'coordinator',
  },
];

type Member = (typeof MEMBERS)[number] & Record<string, unknown>;
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function startCoop(fixed: boolean) {
  const members = structuredClone(MEMBERS);
  const secret = randomBytes(32);
  const sign = (payload: object) => {
    const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
    return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
  };
  const verify = (token: string | undefined): string | undefined => {
    const [h, p, sig] = (token ?? '').split('.');
    if (!h || !p || !sig) return undefined;
    if (createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url') !== sig) return undefined;
    return JSON.parse(Buffer.from(p, 'base64url').toString()).sub;
  };
  const shortView = (m: Member) => ({
    id: m.id,
    displayName: m.displayName,
    languages: m.languages,
  });
  const started = startServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const fail = (statusCode: number, error: string, message: string) =>
      sendJson(res, statusCode, { statusCode, error, message });
    if (req.method === 'POST' && path === '/v2/session') {
      const body = await readJson(req);
      const m = members.find((x) => x.username === body?.username && x.password === body?.password);
      if (!m) return fail(401, 'Unauthorized', 'Invalid username or password');
      return sendJson(res, 200, { token: sign({ sub: m.username, iat: 1765000000, exp: 1765003600 }) });
    }
    const caller = verify(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]);
    if (caller === undefined)
      return fail(401, 'Unauthorized', 'No Authorization was found in request.headers');
    if (req.method === 'GET' && path === '/v2/translators')
      return sendJson(res, 200, { translators: members.map(shortView) });
    const item = /^\/v2\/translators\/(\d+)$/.exec(path);
    if (req.method === 'PATCH' && item) {
      // Vulnerable: anyone's record, and every member of the body stored (role too). Fixed: one's own, two fields.
      const m: Member | undefined = members.find((x) => String(x.id) === item[1]);
      if (!m) return fail(404, 'Not Found', `translator ${item[1]} not found`);
      if (fixed && m.username !== caller) return fail(403, 'Forbidden', 'not your profile');
      const body = (await readJson(req)) ?? {};
      for (const [k, v] of Object.entries(body)) {
        if (k === 'id' || k === 'username' || k === 'password') continue;
        if (fixed && k !== 'displayName' && k !== 'languages') continue;
        m[k] = v;
      }
      const { password: _p, ...full } = m;
      return sendJson(res, 200, full);
    }
    if (req.method === 'GET' && item) {
      const m = members.find((x) => String(x.id) === item[1]);
      if (!m) return fail(404, 'Not Found', `translator ${item[1]} not found`);
      if (fixed && m.username !== caller) return sendJson(res, 200, shortView(m));
      const { password: _password, ...full } = m;
      return sendJson(res, 200, full);
    }
    return fail(404, 'Not Found', `Route ${req.method}:${path} not found`);
  });
  return started.then((st) => ({ ...st, members }));
}

describe("ids a list shows everyone, the owner named in the item (username = the token's sub)", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const left = {} as Record<'vulnerable' | 'fixed', Member[]>;
  before(async () => {
    const login = (m: (typeof MEMBERS)[number]) => ({
      name: m.username,
      login: { path: '/v2/session', body: { username: m.username, password: m.password } },
    });
    const scans = await scanTwins(SPEC, startCoop, {
      identities: [login(MEMBERS[0]), login(MEMBERS[1])],
      checks: ['API1', 'API3'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
    left.vulnerable = scans.vulnerable.api.members;
    left.fixed = scans.fixed.api.members;
  });

  test("one member reads another's full record by a listed id", () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api1-bola-read');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.operation?.operationId, 'getTranslator');
    assert.match(f.message, /an id a list shows everyone/);
  });

  test('the fixed twin, which shows others the public view, gets no API1 finding', () => {
    assert.deepEqual(
      operationsFound(runs.fixed).filter((f) => f.startsWith('scan/api1-')),
      [],
    );
  });

  test('every member record is as seeded after the scan, on both twins', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) assert.deepEqual(left[kind], MEMBERS, kind);
  });
});
