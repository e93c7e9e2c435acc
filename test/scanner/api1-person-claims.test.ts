import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A tutoring platform's API (`/v2`, sign-in by user name at `POST /v2/auth` answering `{"jwt": ...}` whose `sub`
 * is the learner's number; refusals 403 `{"fault": ...}`). Nothing lists learners and no answer carries the
 * caller's number: only its token says who it is. `GET /v2/learners/{learnerId}` shows a learner's profile
 * (guardian's phone, date of birth). Vulnerable: any learner's; fixed twin: the caller's own only. A second
 * edition signs in with opaque tokens and says who the caller is only at `GET /v2/whoami` (`{"id": 7301, ...}`).
 */
const JWT_SPEC = {
  openapi: '3.0.3',
  info: { title: 'tutoring', version: '2' },
  components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer' } } },
  security: [{ jwt: [] }],
  paths: {
    '/v2/auth': {
      post: {
        operationId: 'auth',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { handle: { type: 'string' }, passphrase: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/v2/lessons': { get: { operationId: 'lessons', responses: { '200': { description: 'lessons' } } } },
    '/v2/learners/{learnerId}': {
      get: {
        operationId: 'learner',
        parameters: [{ name: 'learnerId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a learner' }, '403': { description: 'not yours' } },
      },
    },
  },
};

const OPAQUE_SPEC = {
  ...JWT_SPEC,
  paths: {
    ...JWT_SPEC.paths,
    '/v2/whoami': { get: { operationId: 'whoami', responses: { '200': { description: 'the caller' } } } },
  },
};

const KEY = 'tutoring-test-key-0b7e';
const LEARNERS = [
  {
    sub: 7301,
    handle: 'ines',
    passphrase: 'Ines-tutor-6',
    guardianPhone: '+44 7700 900311',
    born: '2012-03-09',
  },
  {
    sub: 7388,
    handle: 'kwame',
    passphrase: 'Kwame-tutor-2',
    guardianPhone: '+44 7700 900842',
    born: '2011-11-23',
  },
];

function sign(sub: number): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: String(sub), exp: 4102444800 })}`;
  return `${head}.${createHmac('sha256', KEY).update(head).digest('base64url')}`;
}

function caller(auth: string | undefined, opaque: boolean): number | undefined {
  if (opaque) return Number(/^Bearer op-(\d+)-c41f$/.exec(auth ?? '')?.[1]) || undefined;
  const parts = /^Bearer (.+)$/.exec(auth ?? '')?.[1].split('.');
  if (parts?.length !== 3) return undefined;
  if (createHmac('sha256', KEY).update(`${parts[0]}.${parts[1]}`).digest('base64url') !== parts[2])
    return undefined;
  return Number(JSON.parse(Buffer.from(parts[1], 'base64url').toString()).sub);
}

function startTutoring(fixed: boolean, opaque: boolean) {
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://tutoring');
    if (url.pathname === '/v2/auth' && req.method === 'POST') {
      const body = await readJson(req);
      const l = LEARNERS.find((x) => x.handle === body?.handle && x.passphrase === body?.passphrase);
      if (!l) return sendJson(res, 403, { fault: 'bad handle or passphrase' });
      return sendJson(res, 200, { jwt: opaque ? `op-${l.sub}-c41f` : sign(l.sub) });
    }
    const me = caller(req.headers.authorization, opaque);
    if (me === undefined) return sendJson(res, 401, { fault: 'no valid token' });
    if (opaque && url.pathname === '/v2/whoami' && req.method === 'GET')
      return sendJson(res, 200, { id: me, handle: LEARNERS.find((x) => x.sub === me)?.handle });
    if (url.pathname === '/v2/lessons' && req.method === 'GET')
      return sendJson(res, 200, [{ code: 'MATH-7', title: 'Fractions' }]);
    const m = /^\/v2\/learners\/(\d+)$/.exec(url.pathname);
    if (m && req.method === 'GET') {
      const l = LEARNERS.find((x) => x.sub === Number(m[1]));
      if (!l) return sendJson(res, 404, { fault: 'no such learner' });
      if (fixed && l.sub !== me) return sendJson(res, 403, { fault: 'not your profile' });
      return sendJson(res, 200, {
        learnerId: l.sub,
        handle: l.handle,
        guardianPhone: l.guardianPhone,
        born: l.born,
      });
    }
    return sendJson(res, 404, { fault: 'no such route' });
  });
}

for (const opaque of [false, true]) {
  const how = opaque ? 'its /v2/whoami answer' : "its token's sub claim";
  describe(`API1 names the other learner by the number ${how} gives`, () => {
    const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startTutoring>>>>>;
    before(async () => {
      Object.assign(
        scans,
        await scanTwins(opaque ? OPAQUE_SPEC : JWT_SPEC, (fixed) => startTutoring(fixed, opaque), {
          identities: LEARNERS.map((l) => ({
            name: l.handle,
            login: { path: '/v2/auth', body: { handle: l.handle, passphrase: l.passphrase } },
          })),
          ratePerSecond: 200,
          checks: ['API1'],
        }),
      );
    });

    test("vulnerable: one learner reads the other's profile", () => {
      const found = operationsFound(scans.vulnerable.result);
      assert.ok(found.includes('scan/api1-bola-read learner'), found.join());
    });

    test('fixed twin: no finding', () => {
      assert.deepEqual(operationsFound(scans.fixed.result), []);
    });
  });
}
