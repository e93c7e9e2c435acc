import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * An address book in the style of Fastify: `Authorization: Bearer`, schema-validation errors as
 * `400 {statusCode, code: 'FST_ERR_VALIDATION', error, message}`, `POST /api/contacts {nickname, email}` answering
 * `201 {contact}`, `DELETE /api/contacts/{contactId}` 204. Only the e-mail is validated; the nickname, declared with a
 * pattern the server never checks, takes anything. The ReDoS probe's first request for an input (its control, sent
 * before the API has shown that it validates) is a creation: for the nickname it was stored in alice's book
 * (`a!a!a!...`) and stayed there. Now what the ReDoS probes made as a given identity is deleted by its maker.
 * Vulnerable twin: the e-mail check backtracks (`^([a-z0-9]+\.?)+@example\.com$`); fixed twin: a linear check.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'address book', version: '4.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/contacts': {
      get: { operationId: 'listContacts', responses: { '200': { description: 'contacts' } } },
      post: {
        operationId: 'addContact',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['nickname', 'email'],
                properties: {
                  nickname: { type: 'string', pattern: '^[A-Za-z0-9 ]+$' },
                  email: { type: 'string', format: 'email' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'added' } },
      },
    },
    '/api/contacts/{contactId}': {
      parameters: [{ name: 'contactId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getContact', responses: { '200': { description: 'the contact' } } },
      delete: { operationId: 'removeContact', responses: { '204': { description: 'removed' } } },
    },
  },
};

const TOKENS: Record<string, string> = { 'ab-alice-3f81': 'alice', 'ab-bob-77c2': 'bob' };

interface Contact {
  contactId: number;
  owner: string;
  nickname: string;
  email: string;
}

async function startBook(fixed: boolean): Promise<TestServer & { contacts: Contact[] }> {
  const contacts: Contact[] = [
    { contactId: 1, owner: 'alice', nickname: 'Grandma', email: 'ida@example.com' },
    { contactId: 2, owner: 'bob', nickname: 'Coach', email: 'coach@example.com' },
  ];
  let next = 3;
  const vulnerable = /^([a-z0-9]+\.?)+@example\.com$/;
  const linear = /^[a-z0-9.]+@example\.com$/;
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const invalid = (res: ServerResponse, message: string) =>
    send(res, 400, { statusCode: 400, code: 'FST_ERR_VALIDATION', error: 'Bad Request', message });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const me = TOKENS[String(req.headers.authorization ?? '').replace(/^Bearer /, '')];
    const text = await readText(req);
    if (!me)
      return send(res, 401, {
        statusCode: 401,
        error: 'Unauthorized',
        message: 'No Authorization was found',
      });
    if (url.pathname === '/api/contacts') {
      if (req.method === 'GET')
        return send(
          res,
          200,
          contacts.filter((c) => c.owner === me),
        );
      if (req.method === 'POST') {
        let input: Record<string, unknown>;
        try {
          input = JSON.parse(text || '{}');
        } catch {
          return invalid(res, 'body must be object');
        }
        if (typeof input.nickname !== 'string')
          return invalid(res, "body must have required property 'nickname'");
        if (typeof input.email !== 'string' || !(fixed ? linear : vulnerable).test(input.email))
          return invalid(res, 'body/email must match format "email"');
        const c = { contactId: next++, owner: me, nickname: input.nickname, email: input.email };
        contacts.push(c);
        return send(res, 201, { contact: c });
      }
    }
    const m = /^\/api\/contacts\/(\d+)$/.exec(url.pathname);
    if (m) {
      const c = contacts.find((x) => x.contactId === Number(m[1]) && x.owner === me);
      if (!c) return send(res, 404, { statusCode: 404, error: 'Not Found', message: 'contact not found' });
      if (req.method === 'GET') return send(res, 200, c);
      if (req.method === 'DELETE') {
        contacts.splice(contacts.indexOf(c), 1);
        return send(res, 204);
      }
    }
    return send(res, 404, {
      statusCode: 404,
      error: 'Not Found',
      message: `Route ${req.method}:${url.pathname} not found`,
    });
  };
  const api = await startServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { statusCode: 500, error: 'Internal Server Error' }));
  });
  return { ...api, contacts };
}

async function scanBook(fixed: boolean): Promise<{ result: ScanResult; contacts: Contact[] }> {
  const api = await startBook(fixed);
  try {
    const result = await scanDocument(SPEC, api.url, {
      identities: [
        { name: 'alice', headers: { authorization: 'Bearer ab-alice-3f81' } },
        { name: 'bob', headers: { authorization: 'Bearer ab-bob-77c2' } },
      ],
      checks: ['API4'],
      ratePerSecond: 300,
    });
    return { result, contacts: api.contacts };
  } finally {
    await api.close();
  }
}

describe('the ReDoS probes of a creation leave nothing in alice’s address book', () => {
  test('ReDoS found in the e-mail on the vulnerable twin only; alice keeps her contacts and nothing the probes made', async () => {
    const v = await scanBook(false);
    assert.deepEqual(
      v.result.findings
        .filter((f) => f.rule.id === 'scan/api4-redos')
        .map((f) => /^POST \/api\/contacts: a \d+-character email /.test(f.message)),
      [true],
    );
    const probes = (c: Contact[]) =>
      c.filter((x) => x.owner === 'alice' && /a!a!|aaaa/.test(`${x.nickname} ${x.email}`));
    assert.deepEqual(probes(v.contacts), []);
    assert.deepEqual(v.contacts[0], {
      contactId: 1,
      owner: 'alice',
      nickname: 'Grandma',
      email: 'ida@example.com',
    });
    const f = await scanBook(true);
    assert.deepEqual(
      f.result.findings.filter((x) => x.rule.id === 'scan/api4-redos'),
      [],
    );
    assert.deepEqual(probes(f.contacts), []);
  });
});
