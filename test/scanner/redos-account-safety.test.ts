import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { scanTwins, type TwinScans } from './twins.ts';

/**
 * A newsletter service in a Hapi style (bearer tokens, `{"statusCode": 400, "message": ...}`): the signed-in
 * member changes its own e-mail with `POST /api/user/email {email}` and its phone with `POST /api/contact
 * {phone}`, no path parameter, no password asked. Vulnerable: the e-mail check is `^([a-z0-9]+\.?)+@news\.test$`
 * (exponential on a run of letters); anything it accepts is stored as the member's e-mail. Fixed twin: a linear
 * check. No sign-up: the scan has no account of its own, so the ReDoS probe, whose first request is a control
 * value stored by an API that does not validate, must send neither as alice nor as bob.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'newsletter', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/user/email': {
      post: {
        operationId: 'changeEmail',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', properties: { email: { type: 'string', format: 'email' } } },
            },
          },
        },
        responses: { '200': { description: 'ok' }, '400': { description: 'invalid' } },
      },
    },
    '/api/contact': {
      post: {
        operationId: 'changePhone',
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { type: 'object', properties: { phone: { type: 'string' } } } },
          },
        },
        responses: { '200': { description: 'ok' }, '400': { description: 'invalid' } },
      },
    },
  },
};

interface Newsletter {
  url: string;
  server: Server;
  members: Record<string, { email: string; phone: string }>;
}

async function startNewsletter(fixed: boolean): Promise<Newsletter> {
  const members = {
    alice: { email: 'alice@news.test', phone: '+4420000001' },
    bob: { email: 'bob@news.test', phone: '+4420000002' },
  };
  const email = fixed ? /^[a-z0-9]+(\.[a-z0-9]+)*@news\.test$/ : /^([a-z0-9]+\.?)+@news\.test$/;
  const s = await startServer((req, res) => {
    const send = (statusCode: number, b: unknown) => {
      res.writeHead(statusCode, { 'content-type': 'application/json' });
      res.end(JSON.stringify(b));
    };
    const who = /^Bearer nl-(alice|bob)$/.exec(req.headers.authorization ?? '')?.[1] as
      | 'alice'
      | 'bob'
      | undefined;
    let raw = '';
    req.on('data', (c: Buffer) => {
      if (raw.length < 100_000) raw += c.toString();
    });
    req.on('end', () => {
      if (!who) return send(401, { statusCode: 401, message: 'Missing authentication' });
      let b: Record<string, unknown> = {};
      try {
        b = raw ? JSON.parse(raw) : {};
      } catch {
        return send(400, { statusCode: 400, message: 'Invalid request payload JSON format' });
      }
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/api/user/email') {
        if (typeof b.email !== 'string' || !email.test(b.email))
          return send(400, { statusCode: 400, message: '"email" must be a valid email' });
        members[who].email = b.email;
        return send(200, { email: b.email });
      }
      if (req.method === 'POST' && path === '/api/contact') {
        // No validation at all: whatever comes is stored.
        if (typeof b.phone !== 'string')
          return send(400, { statusCode: 400, message: '"phone" is required' });
        members[who].phone = b.phone;
        return send(200, { phone: b.phone });
      }
      return send(404, { statusCode: 404, message: 'Not Found' });
    });
  });
  return { url: s.url, server: s.server, members };
}

describe('API4 ReDoS never probes a given identity’s own account', () => {
  let scans: TwinScans<Newsletter>;
  before(async () => {
    scans = await scanTwins(SPEC, startNewsletter, {
      identities: [
        { name: 'alice', bearer: 'nl-alice' },
        { name: 'bob', bearer: 'nl-bob' },
      ],
      checks: ['API4'],
      ratePerSecond: 200,
    });
  });

  test('alice and bob keep their e-mails and phones on both twins', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        scans[kind].api.members,
        {
          alice: { email: 'alice@news.test', phone: '+4420000001' },
          bob: { email: 'bob@news.test', phone: '+4420000002' },
        },
        kind,
      );
  });

  test('no ReDoS finding on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        scans[kind].result.findings.filter((f) => f.rule.id === 'scan/api4-redos').map((f) => f.message),
        [],
      );
  });
});
