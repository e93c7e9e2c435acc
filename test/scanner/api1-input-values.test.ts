import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A small bank's messaging in the style of a plain PHP app (paths ending in `.php`, `{"error": "..."}` with 200s,
 * an `X-Session` header per customer): `GET /accounts.php` lists the caller's accounts, `GET /inbox.php` the
 * caller's messages, and `GET /message.php?id=` reads one message. Nothing says the inbox holds messages, so
 * the plain `id` gets every id the caller's own lists show (accounts first); the ones that are no message are
 * tried and passed over. Vulnerable: any message to anyone. Fixed twin: the recipient's only.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'bank messages', version: '1' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'X-Session' } } },
  security: [{ session: [] }],
  paths: {
    '/accounts.php': {
      get: { operationId: 'accounts', responses: { '200': { description: 'your accounts' } } },
    },
    '/inbox.php': { get: { operationId: 'inbox', responses: { '200': { description: 'your messages' } } } },
    '/message.php': {
      get: {
        operationId: 'message',
        parameters: [{ name: 'id', in: 'query', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'a message' } },
      },
    },
  },
};

const SESSIONS: Record<string, number> = { 's-alice-3f1c': 1, 's-bob-8e0a': 2 };
const ACCOUNTS = [
  { id: 5001, owner: 1, iban: 'DE02 1203 0000 0000 2020 51' },
  { id: 5002, owner: 1, iban: 'DE02 1203 0000 0000 2020 52' },
  { id: 5003, owner: 1, iban: 'DE02 1203 0000 0000 2020 53' },
  { id: 5004, owner: 2, iban: 'DE02 1203 0000 0000 2020 54' },
];
const MESSAGES = [
  {
    id: 71,
    to: 1,
    subject: 'Your new card PIN letter',
    body: 'The PIN letter for card ending 4411 was posted.',
  },
  { id: 72, to: 2, subject: 'Overdraft notice', body: 'Your account 5004 is 312.40 overdrawn.' },
];

function startBank(fixed: boolean) {
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://bank');
    const me = SESSIONS[String(req.headers['x-session'] ?? '')];
    if (me === undefined) return sendJson(res, 401, { error: 'Not authenticated' });
    if (url.pathname === '/accounts.php')
      return sendJson(
        res,
        200,
        ACCOUNTS.filter((a) => a.owner === me),
      );
    if (url.pathname === '/inbox.php')
      return sendJson(
        res,
        200,
        MESSAGES.filter((m) => m.to === me).map(({ id, subject }) => ({ id, subject })),
      );
    if (url.pathname === '/message.php') {
      const m = MESSAGES.find((x) => String(x.id) === url.searchParams.get('id'));
      if (!m || (fixed && m.to !== me)) return sendJson(res, 200, { error: 'Message not found' });
      return sendJson(res, 200, m);
    }
    return sendJson(res, 404, { error: 'Not found' });
  });
}

describe('API1 tries more of the owner values of a plain id when the first name no such object', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startBank>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startBank, {
        identities: [
          { name: 'alice', headers: { 'X-Session': 's-alice-3f1c' } },
          { name: 'bob', headers: { 'X-Session': 's-bob-8e0a' } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test("vulnerable: one customer reads the other's message by its id", () => {
    const f = scans.vulnerable.result.findings.find((x) => x.operation?.operationId === 'message');
    assert.ok(f, operationsFound(scans.vulnerable.result).join());
    assert.match(f.message, /naming it by its query input id \(id=7[12],/);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
