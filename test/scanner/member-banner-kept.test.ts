import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A members' club in an ASP.NET Core style: PascalCase members, RFC 9457 problem details with a `traceId`, an
 * `X-Session-Token` header from `POST /v2/sessions {UserName, Password}`, a sign-up at `POST /v2/members`. Each
 * member sets its own banner with `POST /v2/member/banner` (multipart `Banner`), which replaces the banner it had:
 * the path names no one, the caller is whose banner it is. The vulnerable twin's sign-up takes any password of
 * one character or more; the fixed twin's wants 12 or more, not all of one kind.
 *
 * A plain scan sent its sample file (`portcullis-scan.txt`) to such a route as a given member and replaced that
 * member's banner: a file upload to a given identity's own account goes only as an account the scan registered.
 */
const problem = {
  description: 'problem',
  content: { 'application/problem+json': { schema: { type: 'object' } } },
};
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const credentials = {
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['UserName', 'Password'],
        properties: { UserName: { type: 'string' }, Password: { type: 'string', format: 'password' } },
      },
    },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'members club', version: '2.0' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'X-Session-Token' } } },
  security: [{ session: [] }],
  paths: {
    '/v2/sessions': {
      post: {
        operationId: 'SignIn',
        security: [],
        requestBody: credentials,
        responses: { '200': ok('a session'), '401': problem },
      },
    },
    '/v2/members': {
      post: {
        operationId: 'SignUp',
        security: [],
        requestBody: credentials,
        responses: { '201': ok('a member'), '409': problem },
      },
    },
    '/v2/member': { get: { operationId: 'GetCurrentMember', responses: { '200': ok('the caller') } } },
    '/v2/member/banner': {
      post: {
        operationId: 'SetBanner',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['Banner'],
                properties: { Banner: { type: 'string', format: 'binary' } },
              },
            },
          },
        },
        responses: { '200': ok('the banner set'), '400': problem },
      },
    },
    '/v2/members/{memberId}': {
      get: {
        operationId: 'GetMember',
        parameters: [{ name: 'memberId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': ok('a member'), '404': problem },
      },
    },
  },
};

interface Member {
  MemberId: number;
  UserName: string;
  Password: string;
  Email: string;
  Banner: string;
}

function startClub(fixed: boolean) {
  const members: Member[] = [
    {
      MemberId: 31,
      UserName: 'ines',
      Password: 'Ines-club-2291',
      Email: 'ines@club.test',
      Banner: 'sunset.jpg',
    },
    {
      MemberId: 32,
      UserName: 'omar',
      Password: 'Omar-club-7713',
      Email: 'omar@club.test',
      Banner: 'harbour.png',
    },
  ];
  const sessions = new Map<string, number>([
    ['sess-ines-4c1a9e', 31],
    ['sess-omar-8b2f07', 32],
  ]);
  let traces = 0;
  return startServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, title: string) => {
      res.writeHead(status, { 'content-type': 'application/problem+json; charset=utf-8' });
      res.end(
        JSON.stringify({
          type: 'about:blank',
          title,
          status,
          traceId: `00-${(++traces).toString(16).padStart(32, '0')}-01`,
        }),
      );
    };
    const path = new URL(req.url ?? '/', 'http://club').pathname;
    const json = () => {
      try {
        return JSON.parse(raw.toString()) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    };
    if (req.method === 'POST' && (path === '/v2/sessions' || path === '/v2/members')) {
      const body = json();
      const name = body?.UserName;
      const password = body?.Password;
      if (typeof name !== 'string' || typeof password !== 'string' || name === '' || password === '')
        return fail(400, 'One or more validation errors occurred.');
      if (path === '/v2/members') {
        if (
          fixed &&
          (password.length < 12 ||
            /^([a-z]+|[0-9]+)$/i.test(password) ||
            password.length > 128 ||
            name.length > 64)
        )
          return fail(400, 'One or more validation errors occurred.');
        if (members.some((m) => m.UserName === name)) return fail(409, 'Conflict');
        const m = {
          MemberId: 100 + members.length,
          UserName: name,
          Password: password,
          Email: '',
          Banner: '',
        };
        members.push(m);
        return send(201, { MemberId: m.MemberId, UserName: m.UserName });
      }
      const m = members.find((x) => x.UserName === name && x.Password === password);
      if (!m) return fail(401, 'Unauthorized');
      const token = `sess-${m.UserName}-${Math.random().toString(16).slice(2, 10)}`;
      sessions.set(token, m.MemberId);
      return send(200, { SessionToken: token });
    }
    const me = members.find((m) => m.MemberId === sessions.get(String(req.headers['x-session-token'] ?? '')));
    if (!me) return fail(401, 'Unauthorized');
    const view = (m: Member) => ({
      MemberId: m.MemberId,
      UserName: m.UserName,
      Email: m.Email,
      BannerFile: m.Banner,
    });
    if (req.method === 'GET' && path === '/v2/member') return send(200, view(me));
    if (req.method === 'POST' && path === '/v2/member/banner') {
      const type = String(req.headers['content-type'] ?? '');
      const name = /filename="([^"]*)"/.exec(raw.toString('latin1'))?.[1];
      if (!type.startsWith('multipart/form-data') || !name) return fail(400, 'Banner is required');
      me.Banner = name;
      return send(200, view(me));
    }
    const m = /^\/v2\/members\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const other = members.find((x) => x.MemberId === Number(m[1]));
      if (!other || other !== me) return fail(404, 'Not Found');
      return send(200, view(other));
    }
    return fail(404, 'Not Found');
  }).then((api) => Object.assign(api, { members }));
}

const identities = [
  { name: 'ines', headers: { 'X-Session-Token': 'sess-ines-4c1a9e' } },
  { name: 'omar', headers: { 'X-Session-Token': 'sess-omar-8b2f07' } },
];
const banners = (api: { members: Member[] }) =>
  api.members.filter((m) => m.MemberId < 100).map((m) => m.Banner);

describe('a file upload to a given member’s own account goes only as an account the scan registered', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startClub>>>>>;
  before(async () => {
    Object.assign(scans, await scanTwins(SPEC, startClub, { identities, ratePerSecond: 200 }));
  });

  test('no given member’s banner is replaced on either twin, and the coverage says why', () => {
    assert.deepEqual(banners(scans.vulnerable.api), ['sunset.jpg', 'harbour.png']);
    assert.deepEqual(banners(scans.fixed.api), ['sunset.jpg', 'harbour.png']);
    const reasons = scans.vulnerable.result.coverage.matrix
      .filter((c) => c.operation.includes('/v2/member/banner'))
      .flatMap((c) => [c.reason ?? '', ...(c.notes ?? [])]);
    assert.ok(
      reasons.some((r) => /uploads a file to that given identity's own account/.test(r)),
      reasons.join('\n'),
    );
  });

  test('the accounts the scan registered, which no route deletes, are counted and named in the warnings', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const made = scans[kind].api.members.filter((m) => m.MemberId >= 100).map((m) => m.UserName);
      const line = scans[kind].result.warnings.find((w) =>
        /the scan registered (was|were) left in place/.test(w),
      );
      assert.ok(line, `${kind}: ${scans[kind].result.warnings.join('\n')}`);
      const [, count, names] =
        /(\d+) accounts? the scan registered (?:was|were) left in place \(([^)]*)\)/.exec(line) ?? [];
      assert.ok(Number(count) >= 1 && names.split(', ').every((n) => made.includes(n)), `${kind}: ${line}`);
    }
  });

  test('the sign-up taking any password is found on the vulnerable twin; nothing on the fixed twin', () => {
    assert.ok(
      operationsFound(scans.vulnerable.result).includes('scan/api2-weak-password-policy SignUp'),
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => /SignUp|GetMember|SetBanner/.test(f)),
      [],
    );
  });
});
