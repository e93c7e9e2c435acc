import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { findingOn, scanTwins, type TwinScans } from './twins.ts';

/**
 * A reading circle's member API in the style of an Express app with multer (`Authorization: Bearer`, errors as
 * `{error}`): `POST /auth/login {email, password}` gives a token; `POST /me/avatar` (multipart `file`) replaces the
 * sender's own avatar, served at `/avatars/<name>`; `GET /me` shows it. With `signup`, `POST /auth/signup {email,
 * password}` opens an account. Vulnerable: the avatar keeps its file name and is served with the type its
 * extension says (an `.html` file as `text/html`). Fixed: served as an `attachment`, `application/octet-stream`.
 *
 * The only upload writes the sender's own record: never sent as alice or bob (their avatars would be replaced).
 * With a sign-up it goes as the scan's own account; without one the coverage cell says why it is not tested and
 * the warnings say the rule was not tested (review R1-H4: it read "tested" from another probe's two 401s).
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const CREDENTIALS = json({
  type: 'object',
  required: ['email', 'password'],
  properties: {
    email: { type: 'string', format: 'email' },
    password: { type: 'string', format: 'password' },
  },
});
const spec = (signup: boolean) => ({
  openapi: '3.0.3',
  info: { title: 'reading circle', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: { required: true, content: CREDENTIALS },
        responses: { '200': { description: 'a token', content: json({ type: 'object' }) } },
      },
    },
    ...(signup
      ? {
          '/auth/signup': {
            post: {
              operationId: 'signup',
              security: [],
              requestBody: { required: true, content: CREDENTIALS },
              responses: { '201': { description: 'welcome', content: json({ type: 'object' }) } },
            },
          },
        }
      : {}),
    '/me': {
      get: {
        operationId: 'me',
        responses: { '200': { description: 'you', content: json({ type: 'object' }) } },
      },
    },
    '/me/avatar': {
      post: {
        operationId: 'setAvatar',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file'],
                properties: { file: { type: 'string', format: 'binary' } },
              },
            },
          },
        },
        responses: { '200': { description: 'your avatar', content: json({ type: 'object' }) } },
      },
    },
  },
});

interface Member {
  email: string;
  password: string;
  avatar: string;
}

type Circle = TestServer & { members: Map<string, Member> };

function startCircle(fixed: boolean, signup: boolean): Promise<Circle> {
  const members = new Map<string, Member>([
    ['alice@circle.test', { email: 'alice@circle.test', password: 'Alice-pw-41', avatar: 'alice.png' }],
    ['bob@circle.test', { email: 'bob@circle.test', password: 'Bob-pw-52', avatar: 'bob.png' }],
  ]);
  const tokens = new Map<string, string>();
  const files = new Map<string, Buffer>();
  return startServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '').split('?')[0]);
    if (req.method === 'GET' && path.startsWith('/avatars/')) {
      const bytes = files.get(path.slice('/avatars/'.length));
      if (!bytes) return sendJson(res, 404, { error: 'not found' });
      const ext = /\.(\w+)$/.exec(path)?.[1] ?? '';
      res.writeHead(
        200,
        fixed
          ? { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment' }
          : {
              'content-type':
                { html: 'text/html', svg: 'image/svg+xml', png: 'image/png' }[ext] ?? 'text/plain',
            },
      );
      return res.end(bytes);
    }
    if (req.method === 'POST' && (path === '/auth/login' || (signup && path === '/auth/signup'))) {
      let body: { email?: unknown; password?: unknown } = {};
      try {
        body = JSON.parse(await readText(req));
      } catch {
        return sendJson(res, 400, { error: 'bad json' });
      }
      if (typeof body.email !== 'string' || typeof body.password !== 'string')
        return sendJson(res, 400, { error: 'email and password are required' });
      if (path === '/auth/signup') {
        if (members.has(body.email)) return sendJson(res, 409, { error: 'taken' });
        members.set(body.email, { email: body.email, password: body.password, avatar: '' });
        return sendJson(res, 201, { email: body.email });
      }
      const m = members.get(body.email);
      if (!m || m.password !== body.password) return sendJson(res, 401, { error: 'wrong email or password' });
      const token = `rc_${randomBytes(16).toString('hex')}`;
      tokens.set(token, m.email);
      return sendJson(res, 200, { token });
    }
    const who = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const me = who ? members.get(who) : undefined;
    if (!me) return sendJson(res, 401, { error: 'sign in first' });
    if (req.method === 'GET' && path === '/me')
      return sendJson(res, 200, { email: me.email, avatar_url: me.avatar ? `/avatars/${me.avatar}` : null });
    if (req.method === 'POST' && path === '/me/avatar') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      let data: FormData;
      try {
        data = await new Request('http://circle.local/', {
          method: 'POST',
          headers: { 'content-type': String(req.headers['content-type']) },
          body: Buffer.concat(chunks),
        }).formData();
      } catch {
        return sendJson(res, 400, { error: 'bad multipart' });
      }
      const file = data.get('file');
      if (!(file instanceof File)) return sendJson(res, 422, { error: 'file is required' });
      const name = file.name.replace(/[^\w.-]/g, '_');
      files.set(name, Buffer.from(await file.arrayBuffer()));
      me.avatar = name;
      return sendJson(res, 200, { avatar_url: `/avatars/${name}` });
    }
    return sendJson(res, 404, { error: 'not found' });
  }).then((api) => Object.assign(api, { members }));
}

const IDENTITIES = [
  {
    name: 'alice',
    login: { path: '/auth/login', body: { email: 'alice@circle.test', password: 'Alice-pw-41' } },
  },
  { name: 'bob', login: { path: '/auth/login', body: { email: 'bob@circle.test', password: 'Bob-pw-52' } } },
];

for (const signup of [true, false])
  describe(`an upload to the sender's own avatar (${signup ? "with a sign-up: as the scan's own account" : 'no sign-up: said to be untested'})`, () => {
    let scans: TwinScans<Circle>;
    before(async () => {
      scans = await scanTwins(spec(signup), (fixed) => startCircle(fixed, signup), {
        identities: IDENTITIES,
        checks: ['API8'],
        ratePerSecond: 300,
      });
    });

    test('alice’s and bob’s avatars are as seeded, on both twins', () => {
      for (const kind of ['vulnerable', 'fixed'] as const) {
        const { members } = scans[kind].api;
        assert.equal(members.get('alice@circle.test')?.avatar, 'alice.png', kind);
        assert.equal(members.get('bob@circle.test')?.avatar, 'bob.png', kind);
      }
    });

    if (signup)
      test('vulnerable: the HTML avatar served inline is found, uploaded as the scan’s own account; fixed: none', () => {
        const f = findingOn(scans.vulnerable.result, 'scan/api8-unrestricted-upload', 'setAvatar');
        assert.ok(f, scans.vulnerable.result.warnings.join('\n'));
        assert.equal(findingOn(scans.fixed.result, 'scan/api8-unrestricted-upload', 'setAvatar'), undefined);
      });
    else
      test('the avatar upload is skipped with its reason, and the rule is said to be untested', () => {
        for (const kind of ['vulnerable', 'fixed'] as const) {
          const { result } = scans[kind];
          const cell = result.coverage.matrix.find(
            (m) => m.check === 'API8' && m.operation === 'POST /me/avatar',
          );
          assert.equal(cell?.status, 'skipped', `${kind}: ${JSON.stringify(cell)}`);
          assert.match(String(cell?.reason), /upload not tested: it writes the sender's own record/);
          assert.ok(
            result.warnings.some((w) =>
              /scan\/api8-unrestricted-upload was not tested: no upload operation took a file/.test(w),
            ),
            `${kind}: ${result.warnings.join('\n')}`,
          );
        }
      });
  });
