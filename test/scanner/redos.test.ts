import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A newsletter service in the FastAPI manner (JSON bodies, 422 with a `detail` list for invalid input): an
 * anonymous sign-up `POST /subscribers` (`email`, `display_name`), a signed-in `POST /vouchers/check` whose
 * `code` declares `pattern: ^([A-Z0-9]+-?)+$` (a malformed code is refused the Flask way, 200 with
 * `{"status": "fail"}`), and `GET /links?website=` that checks a URL.
 *
 * Vulnerable: the e-mail is checked with a hand-written expression with nested quantifiers (a run of letters
 * splits into exponentially many groups before a missing `@` fails it), and the voucher code with the
 * declared pattern itself. Fixed twin: equivalent linear expressions (the document, and its ambiguous
 * pattern, are the same). On both, the display name and the website are checked by linear expressions: no
 * finding there; `POST /account/email` changes the caller's own e-mail without any check, and the probe must
 * stay away from it.
 */
const VULNERABLE_EMAIL =
  /^([a-zA-Z0-9])(([-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$/;
const LINEAR_EMAIL = /^[a-zA-Z0-9]+(?:[._-][a-zA-Z0-9]+)*@[a-z0-9]+\.[a-z]{2,3}(?:\.[a-z]{2,3})?$/;
const CODE_PATTERN = '^([A-Z0-9]+-?)+$';
const LINEAR_CODE = /^[A-Z0-9]+(?:-[A-Z0-9]+)*-?$/;
const DISPLAY_NAME = /^[\w ]{1,60}$/;
const WEBSITE = /^https?:\/\/[a-z0-9.-]{1,100}(?:\/[\w./-]*)?$/;

const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const invalid = { '422': { description: 'validation error' } };
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'newsletter', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/subscribers': {
      post: {
        operationId: 'createSubscriber',
        security: [],
        requestBody: json({
          type: 'object',
          required: ['email'],
          properties: { email: { type: 'string' }, display_name: { type: 'string', maxLength: 60 } },
        }),
        responses: { '201': { description: 'subscribed' }, ...invalid },
      },
    },
    '/vouchers/check': {
      post: {
        operationId: 'checkVoucher',
        security: [{ bearer: [] }],
        requestBody: json({
          type: 'object',
          required: ['code'],
          properties: { code: { type: 'string', pattern: CODE_PATTERN, example: 'SPRING-2024' } },
        }),
        responses: { '200': { description: 'whether the code is valid' }, ...invalid },
      },
    },
    '/account/email': {
      post: {
        operationId: 'changeOwnEmail',
        security: [{ bearer: [] }],
        requestBody: json({ type: 'object', properties: { email: { type: 'string' } } }),
        responses: { '200': { description: 'changed' }, ...invalid },
      },
    },
    '/links': {
      get: {
        operationId: 'checkLink',
        security: [{ bearer: [] }],
        parameters: [{ name: 'website', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'the link is fine' }, ...invalid },
      },
    },
  },
};

/** E-mails the signed-in users' accounts were given through `POST /account/email`, by the two twins. */
const ownEmails: string[] = [];

function startNewsletter(fixed: boolean) {
  const subscribers: { id: number; email: string }[] = [];
  const code = fixed ? LINEAR_CODE : new RegExp(CODE_PATTERN);
  const email = fixed ? LINEAR_EMAIL : VULNERABLE_EMAIL;
  return startServer((req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-ratelimit-limit': '60' });
      res.end(JSON.stringify(payload));
    };
    const refuse = (field: string) => send(422, { detail: [{ loc: ['body', field], msg: 'invalid value' }] });
    const url = new URL(req.url ?? '/', 'http://x');
    const signedIn = /^Bearer tok-(ann|ben)$/.test(req.headers.authorization ?? '');
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      if (raw.length < 200_000) raw += chunk.toString();
    });
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        return send(400, { detail: 'invalid JSON' });
      }
      const text = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : undefined);
      const route = `${req.method} ${url.pathname}`;
      if (route === 'POST /subscribers') {
        const address = text('email');
        if (address === undefined || !email.test(address)) return refuse('email');
        const name = text('display_name');
        if (name !== undefined && !DISPLAY_NAME.test(name)) return refuse('display_name');
        const created = { id: subscribers.length + 1, email: address };
        subscribers.push(created);
        return send(201, created);
      }
      if (!signedIn) return send(401, { detail: 'not authenticated' });
      if (route === 'POST /vouchers/check') {
        const value = text('code');
        // Refused the Flask way: 200 with a failure status.
        if (value === undefined || value.length > 64 || !code.test(value))
          return send(200, { status: 'fail', message: 'malformed code' });
        return send(200, { valid: value === 'SPRING-2024' });
      }
      if (route === 'POST /account/email') {
        // Stores anything: a probe sent here would change the caller's own account.
        ownEmails.push(String(body.email));
        return send(200, { email: body.email });
      }
      if (route === 'GET /links') {
        const website = url.searchParams.get('website') ?? '';
        if (!WEBSITE.test(website))
          return send(422, { detail: [{ loc: ['query', 'website'], msg: 'not a URL' }] });
        return send(200, { ok: true });
      }
      return send(404, { detail: 'Not Found' });
    });
  });
}

describe('API4 ReDoS: validators that backtrack catastrophically, judged by timing against a control', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startNewsletter, {
      identities: [
        { name: 'ann', bearer: 'tok-ann' },
        { name: 'ben', bearer: 'tok-ben' },
      ],
      checks: ['API4'],
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const r = runs[kind];
      console.log(
        `${kind}: ${r.stats.requests} requests in ${r.stats.durationMs} ms, ${r.findings.length} findings`,
      );
    }
  });

  test('the e-mail validator of the anonymous sign-up', () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api4-redos' && x.operation?.operationId === 'createSubscriber',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /character email \(e-mail;/);
    assert.equal(f.evidence?.input, 'email');
    const [first, again] = (f.evidence?.evilMs ?? []) as number[];
    assert.ok(first >= 150 && again >= 75, JSON.stringify(f.evidence));
    assert.ok((f.evidence?.controlMs as number) < 100, JSON.stringify(f.evidence));
  });

  test('the declared pattern of the voucher code, as the signed-in user', () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api4-redos' && x.operation?.operationId === 'checkVoucher',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /code \(pattern \^\(\[A-Z0-9\]\+-\?\)\+\$;/);
  });

  test("no probe value reaches the caller's own account", () => {
    assert.deepEqual(
      ownEmails.filter((e) => /a!|a{12}/.test(e)),
      [],
    );
  });

  test('nothing else on the vulnerable API, nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(runs.vulnerable), [
      'scan/api4-redos checkVoucher',
      'scan/api4-redos createSubscriber',
    ]);
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});

/**
 * A members' API in the Flask manner (200 with `{"status": "fail"}` for what it refuses): sign-up `POST
 * /api/register` (its e-mail checked by a linear expression), login `POST /api/login` (a token), and `PUT
 * /api/users/{username}/email`, where each member changes only their own e-mail.
 *
 * Vulnerable: that update checks the e-mail with `^\w+([.-]?\w+)*@\w+([.-]?\w+)*(\.\w{2,3})+$`, whose groups
 * split a run of letters in exponentially many ways. Fixed twin: a linear expression. The scan may only probe
 * it on an account it registered itself: alice's and bob's e-mails must stay as they were.
 */
const MEMBERS_SPEC = {
  openapi: '3.0.3',
  info: { title: 'members', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/api/register': {
      post: {
        operationId: 'register',
        requestBody: json({
          type: 'object',
          required: ['username', 'password', 'email'],
          properties: {
            username: { type: 'string' },
            password: { type: 'string' },
            email: { type: 'string' },
          },
        }),
        responses: { '200': { description: 'registered, or why not' } },
      },
    },
    '/api/login': {
      post: {
        operationId: 'login',
        requestBody: json({
          type: 'object',
          properties: { username: { type: 'string' }, password: { type: 'string' } },
        }),
        responses: { '200': { description: 'a token, or why not' } },
      },
    },
    '/api/users/{username}/email': {
      put: {
        operationId: 'updateEmail',
        security: [{ bearer: [] }],
        parameters: [{ name: 'username', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: json({ type: 'object', properties: { email: { type: 'string' } } }),
        responses: { '200': { description: 'changed, or why not' }, '401': { description: 'not yours' } },
      },
    },
  },
};

const MEMBER_SIGNUP_EMAIL = /^[\w.+-]{1,64}@[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){1,4}$/;
const MEMBER_VULNERABLE_EMAIL = /^\w+([.-]?\w+)*@\w+([.-]?\w+)*(\.\w{2,3})+$/;

function startMembers(fixed: boolean) {
  const members = new Map<string, { password: string; email: string }>([
    ['alice', { password: 'alice-pw-1', email: 'alice@members.test' }],
    ['bob', { password: 'bob-pw-2', email: 'bob@members.test' }],
  ]);
  const tokens = new Map<string, string>();
  const update = fixed ? MEMBER_SIGNUP_EMAIL : MEMBER_VULNERABLE_EMAIL;
  const server = startServer((req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-ratelimit-limit': '60' });
      res.end(JSON.stringify(payload));
    };
    const fail = (message: string) => send(200, { status: 'fail', message });
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      if (raw.length < 200_000) raw += chunk.toString();
    });
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        return fail('malformed JSON');
      }
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method === 'POST' && path === '/api/register') {
        const { username, password, email } = body as Record<string, string>;
        if (typeof username !== 'string' || !/^\w{3,30}$/.test(username)) return fail('invalid username');
        if (typeof password !== 'string' || password.length < 8) return fail('password too short');
        if (typeof email !== 'string' || !MEMBER_SIGNUP_EMAIL.test(email)) return fail('invalid email');
        if (members.has(username)) return fail('user exists');
        members.set(username, { password, email });
        return send(200, { status: 'success', message: 'registered' });
      }
      if (req.method === 'POST' && path === '/api/login') {
        const m = members.get(String(body.username));
        if (!m || m.password !== body.password) return fail('wrong credentials');
        const token = `tok-${tokens.size + 1}-${String(body.username)}`;
        tokens.set(token, String(body.username));
        return send(200, { status: 'success', token });
      }
      const caller = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      const match = /^\/api\/users\/([^/]+)\/email$/.exec(path);
      if (req.method === 'PUT' && match) {
        const name = decodeURIComponent(match[1]);
        if (caller === undefined || caller !== name)
          return send(401, { status: 'fail', message: 'not yours' });
        const email = body.email;
        if (typeof email !== 'string' || !update.test(email)) return fail('Please provide a valid email');
        const m = members.get(name);
        if (m) m.email = email;
        return send(200, { status: 'success', email });
      }
      return send(404, { status: 'fail', message: 'not found' });
    });
  });
  return server.then((s) => Object.assign(s, { members }));
}

describe('API4 ReDoS on an update of an account: probed on an account the scan registered', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const emails = {} as Record<'vulnerable' | 'fixed', Map<string, { email: string }>>;
  before(async () => {
    const scans = await scanTwins(MEMBERS_SPEC, startMembers, {
      identities: [
        { name: 'alice', login: { path: '/api/login', body: { username: 'alice', password: 'alice-pw-1' } } },
        { name: 'bob', login: { path: '/api/login', body: { username: 'bob', password: 'bob-pw-2' } } },
      ],
      checks: ['API4'],
    });
    for (const kind of ['vulnerable', 'fixed'] as const) {
      runs[kind] = scans[kind].result;
      emails[kind] = scans[kind].api.members;
      const r = runs[kind];
      console.log(
        `${kind}: ${r.stats.requests} requests in ${r.stats.durationMs} ms, ${r.findings.length} findings`,
      );
    }
  });

  test("the e-mail update, on the scan's own account", () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api4-redos');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.operation?.operationId, 'updateEmail');
    assert.match(String(f.evidence?.request), /\/api\/users\/pcr[0-9a-f]+\/email/);
  });

  test("alice's and bob's e-mails are untouched; nothing on the fixed twin", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.equal(emails[kind].get('alice')?.email, 'alice@members.test');
      assert.equal(emails[kind].get('bob')?.email, 'bob@members.test');
    }
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});

/**
 * A staff directory in the Express manner (400 `{"error": ...}`): only the admin may add staff (`POST /staff`,
 * 403 for anyone else), and the e-mail is checked there. Vulnerable: with `^([a-z0-9]+\.?)+@corp\.test$`, whose
 * groups split a run of letters in exponentially many ways. Fixed twin: a linear expression. The ordinary users
 * are refused before any check: only the admin's requests can show it.
 */
const STAFF_SPEC = {
  openapi: '3.0.3',
  info: { title: 'staff', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/staff': {
      post: {
        operationId: 'addStaff',
        // With a field beside the e-mail: a body of account details alone is never sent as a given identity.
        requestBody: json({
          type: 'object',
          properties: {
            email: { type: 'string', format: 'email' },
            team: { type: 'string', enum: ['ops', 'hr'] },
          },
        }),
        responses: {
          '201': { description: 'added' },
          '400': { description: 'invalid' },
          '403': { description: 'admins only' },
        },
      },
    },
  },
};

function startStaff(fixed: boolean) {
  const email = fixed ? /^[a-z0-9]+(\.[a-z0-9]+)*@corp\.test$/ : /^([a-z0-9]+\.?)+@corp\.test$/;
  return startServer((req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'x-ratelimit-limit': '60' });
      res.end(JSON.stringify(payload));
    };
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      if (raw.length < 200_000) raw += chunk.toString();
    });
    req.on('end', () => {
      const who = /^Bearer tok-(ann|ben|root)$/.exec(req.headers.authorization ?? '')?.[1];
      if (who === undefined) return send(401, { error: 'sign in' });
      if (req.method !== 'POST' || req.url !== '/staff') return send(404, { error: 'not found' });
      if (who !== 'root') return send(403, { error: 'admins only' });
      let body: Record<string, unknown> = {};
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        return send(400, { error: 'malformed JSON' });
      }
      if (typeof body.email !== 'string' || !email.test(body.email))
        return send(400, { error: 'invalid email' });
      return send(201, { email: body.email });
    });
  });
}

describe('API4 ReDoS behind an admin-only operation: probed as the identity that reaches it', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(STAFF_SPEC, startStaff, {
      identities: [
        { name: 'ann', bearer: 'tok-ann' },
        { name: 'ben', bearer: 'tok-ben' },
      ],
      admin: { name: 'root', bearer: 'tok-root' },
      checks: ['API4'],
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("the admin's e-mail check is found; nothing on the fixed twin", () => {
    assert.deepEqual(operationsFound(runs.vulnerable), ['scan/api4-redos addStaff']);
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
