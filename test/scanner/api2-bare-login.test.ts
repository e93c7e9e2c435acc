import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A small Express study-notes API written the way a first tutorial writes it: `POST /login {email, password}`
 * answers `{"message": "Logged in!", "userId": 1}` and the app then asks `GET /notes?userId=1` for the caller's
 * notes. The document declares a bearer scheme on the notes all the same.
 *
 * Vulnerable: the login hands out nothing (no token, no cookie) and the notes route believes the `userId` it is
 * sent. Fixed twin: the login also answers a random `token`, and the notes route wants it and answers only the
 * token's own notes (403 for another `userId`). Both answer 429 after five failed logins for one e-mail.
 */
const answer = {
  '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } },
};
const SPEC = {
  openapi: '3.0.0',
  info: { title: 'study notes', version: '0.3.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string' }, password: { type: 'string' } },
                required: ['email', 'password'],
              },
            },
          },
        },
        responses: answer,
      },
    },
    '/notes': {
      get: {
        operationId: 'listNotes',
        parameters: [{ name: 'userId', in: 'query', required: true, schema: { type: 'integer' } }],
        responses: answer,
      },
    },
  },
};

const STUDENTS = [
  { id: 1, email: 'lotte@notes.example', password: 'Lotte-chem-3391', notes: ['titration curves'] },
  { id: 2, email: 'sem@notes.example', password: 'Sem-bio-7740', notes: ['krebs cycle'] },
];

async function startNotes(fixed: boolean) {
  const tokens = new Map<string, number>();
  const failures = new Map<string, number>();
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/login') {
      const body = (await readJson(req)) ?? {};
      const key = String(body.email);
      if ((failures.get(key) ?? 0) >= 5) return sendJson(res, 429, { message: 'Slow down' });
      const s = STUDENTS.find((x) => x.email === body.email && x.password === body.password);
      if (!s) {
        failures.set(key, (failures.get(key) ?? 0) + 1);
        return sendJson(res, 401, { message: 'Invalid credentials' });
      }
      if (!fixed) return sendJson(res, 200, { message: 'Logged in!', userId: s.id });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, s.id);
      return sendJson(res, 200, { message: 'Logged in!', userId: s.id, token });
    }
    if (req.method === 'GET' && url.pathname === '/notes') {
      const asked = Number(url.searchParams.get('userId'));
      if (fixed) {
        const caller = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
        if (caller === undefined) return sendJson(res, 401, { message: 'Log in first' });
        if (caller !== asked) return sendJson(res, 403, { message: 'Not your notes' });
      }
      const s = STUDENTS.find((x) => x.id === asked);
      if (!s) return sendJson(res, 404, { message: 'No such student' });
      return sendJson(res, 200, { userId: s.id, notes: s.notes });
    }
    return sendJson(res, 404, { message: 'Not found' });
  });
}

describe('a login that hands out no session at all', () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startNotes>>>>>;
  before(async () => {
    const identity = (s: (typeof STUDENTS)[number]) => ({
      name: s.email.split('@')[0],
      login: { path: '/login', body: { email: s.email, password: s.password } },
    });
    scans = await scanTwins(SPEC, startNotes, {
      identities: [identity(STUDENTS[0]), identity(STUDENTS[1])],
      checks: ['API2'],
      ratePerSecond: 300,
    });
  });

  test('the vulnerable twin: the login is reported, with a read that named the caller by id', () => {
    const all = scans.vulnerable.result.findings.map((f) => `${f.rule.id} ${f.message}`).join('\n');
    const bare = scans.vulnerable.result.findings.filter(
      (f) => f.operation?.operationId === 'login' && /without handing out any session/.test(f.message),
    );
    assert.equal(bare.length, 1, all);
    assert.equal(bare[0].rule.id, 'scan/api2-no-credentials');
    assert.match(bare[0].message, /only its id, 1\)/);
    assert.match(bare[0].message, /GET \/notes\?userId=1 answered 200 with no credential at all/);
  });

  test('the fixed twin: no finding at all', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
