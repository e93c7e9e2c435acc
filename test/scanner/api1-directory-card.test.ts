import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A club's member directory (Flask style, after a false positive measured on an API none of us wrote, session 16):
 * `GET /api/users` lists every member's card to anyone, `POST /api/users` signs up, `GET /api/user/{id}` needs a token
 * and answers the same card. A member the scan's own set-up made after discovery read the directory is no private
 * object: "alice read bob's object" was reported because the directory is named in the plural, the item route in the
 * singular, and the card's id member is `userid` where the route's parameter is `id`. The vulnerable twin's item route also shows the member's e-mail and
 * phone to anyone signed in: that one is the finding.
 */
const bearer = { key: { type: 'http', scheme: 'bearer' } };
const json = (properties: Record<string, unknown>, required?: string[]) => ({
  required: true,
  content: {
    'application/json': { schema: { type: 'object', properties, ...(required ? { required } : {}) } },
  },
});

const CLUB = {
  openapi: '3.0.3',
  info: { title: 'rowing club', version: '1' },
  components: { securitySchemes: bearer },
  security: [{ key: [] }],
  paths: {
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }),
        responses: { '200': { description: 'a token' } },
      },
    },
    '/api/users': {
      get: {
        operationId: 'listMembers',
        security: [],
        responses: { '200': { description: 'every member' } },
      },
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: json(
          {
            username: { type: 'string' },
            password: { type: 'string' },
            first_name: { type: 'string' },
            last_name: { type: 'string' },
          },
          ['username', 'password'],
        ),
        responses: { '201': { description: 'the new member' } },
      },
    },
    '/api/user/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getMember', responses: { '200': { description: 'a member' } } },
    },
  },
};

interface Member {
  userid: number;
  username: string;
  password: string;
  first_name: string;
  last_name: string;
  email: string;
  phone: string;
  token: string;
}

function startClub(fixed: boolean) {
  const members: Member[] = [
    {
      userid: 1,
      username: 'ines',
      password: 'Ines-oar-5521',
      first_name: 'Ines',
      last_name: 'Vale',
      email: 'ines@club.test',
      phone: '+351 555 010',
      token: 'rc-ines-4f1a',
    },
    {
      userid: 2,
      username: 'tomas',
      password: 'Tomas-scull-7730',
      first_name: 'Tomas',
      last_name: 'Reis',
      email: 'tomas@club.test',
      phone: '+351 555 020',
      token: 'rc-tomas-9b2c',
    },
  ];
  const card = (m: Member) => ({
    userid: m.userid,
    first_name: m.first_name,
    last_name: m.last_name,
    admin: false,
  });
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'POST') req.resume();
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    if (req.method === 'POST' && path === '/api/login') {
      const m = members.find((x) => x.username === body?.username && x.password === body?.password);
      return m ? sendJson(res, 200, { token: m.token }) : sendJson(res, 401, { msg: 'bad credentials' });
    }
    if (path === '/api/users' && req.method === 'GET')
      return sendJson(res, 200, { users: members.map(card) });
    if (path === '/api/users' && req.method === 'POST') {
      const username = String(body?.username ?? '');
      if (
        !/^[\w.@+-]{3,40}$/.test(username) ||
        typeof body?.password !== 'string' ||
        members.some((x) => x.username === username)
      )
        return sendJson(res, 400, { msg: 'username taken or invalid' });
      const m: Member = {
        userid: members.length + 1,
        username,
        password: body.password,
        first_name: String(body.first_name ?? ''),
        last_name: String(body.last_name ?? ''),
        email: `${username}@club.test`,
        phone: '+351 555 999',
        token: `rc-${username}-${members.length + 1}`,
      };
      members.push(m);
      return sendJson(res, 201, { ...card(m), token: m.token });
    }
    const me = members.find((x) => `Bearer ${x.token}` === req.headers.authorization);
    if (me === undefined) return sendJson(res, 401, { msg: 'token required' });
    const item = /^\/api\/user\/(\d+)$/.exec(path);
    if (item && req.method === 'GET') {
      const m = members.find((x) => x.userid === Number(item[1]));
      if (m === undefined) return sendJson(res, 404, { msg: 'no such member' });
      const contact = !fixed || m === me ? { email: m.email, phone: m.phone } : {};
      return sendJson(res, 200, { user: { ...card(m), ...contact } });
    }
    return sendJson(res, 404, { msg: 'not found' });
  });
}

describe("API1: a public directory's card read at an item route named in the singular", () => {
  let club: Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startClub>>>>>;
  before(async () => {
    club = await scanTwins(CLUB, startClub, {
      identities: [
        {
          name: 'ines',
          login: { path: '/api/login', body: { username: 'ines', password: 'Ines-oar-5521' } },
        },
        {
          name: 'tomas',
          login: { path: '/api/login', body: { username: 'tomas', password: 'Tomas-scull-7730' } },
        },
      ],
      ratePerSecond: 200,
      checks: ['API1'],
    });
  });

  test('the club: another member’s contact details are found on the vulnerable twin', () => {
    assert.deepEqual(operationsFound(club.vulnerable.result), ['scan/api1-bola-read getMember']);
  });

  test('the club’s fixed twin: the card the directory shows to anyone is not reported', () => {
    assert.deepEqual(operationsFound(club.fixed.result), []);
  });
});
