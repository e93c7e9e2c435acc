import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A hapi-style reading-club API with a cookie session (`sid`), whose answers carry the SQL they ran in a
 * `debug` member: a title search (`GET /books/search?title=`, a `LIKE '%...%'`) and the creation of a note
 * (`POST /notes {text}`, an `INSERT ... VALUES`). Nothing is executed: every search finds nothing, so only
 * the statement the answer shows tells how it was built.
 *
 * Vulnerable: the input is pasted into the statement as it came. Fixed twin: the same statements, with the
 * input's quotes doubled (a correctly escaped literal).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'reading club', version: '1.0' },
  components: { securitySchemes: { sid: { type: 'apiKey', in: 'cookie', name: 'sid' } } },
  security: [{ sid: [] }],
  paths: {
    '/books/search': {
      get: {
        operationId: 'searchBooks',
        parameters: [{ name: 'title', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'matches' } },
      },
    },
    '/notes': {
      post: {
        operationId: 'createNote',
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } },
            },
          },
        },
        responses: { '201': { description: 'created' } },
      },
    },
  },
};

const SESSIONS = new Map([
  ['c1a9e07f55d2', 7],
  ['5be3f0d81a44', 8],
]);

async function json(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function startClub(fixed: boolean) {
  let nextNote = 1;
  const literal = (s: string) => (fixed ? s.replace(/'/g, "''") : s);
  return startServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(payload));
    };
    const url = new URL(req.url ?? '/', 'http://club.test');
    const sid = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1] ?? '';
    const member = SESSIONS.get(sid);
    if (member === undefined) return send(401, { statusCode: 401, error: 'Unauthorized' });
    if (req.method === 'GET' && url.pathname === '/books/search') {
      const title = url.searchParams.get('title');
      if (title === null)
        return send(400, { statusCode: 400, error: 'Bad Request', message: '"title" is required' });
      return send(200, {
        results: [],
        debug: `SELECT id, title, author FROM books WHERE title LIKE '%${literal(title)}%' ORDER BY title`,
      });
    }
    if (req.method === 'POST' && url.pathname === '/notes') {
      const body = await json(req);
      if (typeof body?.text !== 'string')
        return send(400, { statusCode: 400, error: 'Bad Request', message: '"text" must be a string' });
      return send(201, {
        id: nextNote++,
        debug: `INSERT INTO notes (member_id, text) VALUES (${member}, '${literal(body.text)}')`,
      });
    }
    return send(404, { statusCode: 404, error: 'Not Found' });
  });
}

const identity = (sid: string, name: string) => ({ name, headers: { cookie: `sid=${sid}` } });

describe('a SQL statement built from the input, shown in the answer', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const [a, b] = [...SESSIONS.keys()];
    const scans = await scanTwins(SPEC, startClub, {
      identities: [identity(a, 'mira'), identity(b, 'joost')],
      checks: ['API8'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('the search and the note creation are SQL injection, medium', () => {
    const sqli = runs.vulnerable.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    const byOp = new Map(sqli.map((f) => [f.operation?.operationId, f]));
    assert.deepEqual(
      [...byOp.keys()].sort(),
      ['createNote', 'searchBooks'],
      operationsFound(runs.vulnerable).join('\n'),
    );
    assert.match(byOp.get('searchBooks')!.message, /query parameter title is pasted into SQL/);
    assert.match(byOp.get('createNote')!.message, /json field text is pasted into SQL/);
    for (const f of sqli) assert.equal(f.severity, 'medium');
  });

  test('the fixed twin escapes the quotes: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
