import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A guestbook in the style of a plain PHP script: it reads `$_POST` only (a JSON body is invisible to it), answers
 * every refusal with a 200 and an error member (`{"error": "author is required"}`), and its served document lists
 * `POST /guestbook.php/entries` without a body. Sent JSON, the form's fields stay missing: the scan sends the same
 * fields form-encoded and keeps that encoding. Entries are listed at `GET /guestbook.php/entries`; members sign in
 * with a key header. Storage is node:sqlite.
 *
 * Vulnerable: the entry's fields are pasted into the INSERT (a quote answers the database's error). Fixed twin:
 * the INSERT is prepared.
 */
const SPEC = {
  openapi: '3.0.0',
  info: { title: 'guestbook', version: '1.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Member-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/guestbook.php/entries': {
      get: { operationId: 'entries', responses: { '200': { description: 'entries' } } },
      post: { operationId: 'sign', responses: { '200': { description: 'signed' } } },
    },
  },
};

const MEMBERS: Record<string, string> = { 'mk-5be0a1': 'ada', 'mk-91c4d7': 'lin' };

async function formOf(req: IncomingMessage): Promise<Record<string, string>> {
  let text = '';
  for await (const chunk of req) text += chunk;
  // `$_POST` holds the fields of a form-encoded body only.
  if (!/^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')) return {};
  return Object.fromEntries(new URLSearchParams(text));
}

interface Guestbook {
  readonly url: string;
  readonly server: import('node:http').Server;
  readonly db: DatabaseSync;
}

async function startGuestbook(fixed: boolean): Promise<Guestbook> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE entries (id INTEGER PRIMARY KEY, member TEXT, author TEXT, message TEXT)');
  const server = await startServer(async (req, res) => {
    const send = (payload: unknown) => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(payload));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    const post = await formOf(req);
    const member = MEMBERS[String(req.headers['x-member-key'])];
    if (member === undefined) return send({ error: 'not signed in' });
    if (url.pathname !== '/guestbook.php/entries') return send({ error: 'no such page' });
    if (req.method === 'GET')
      return send({
        entries: db.prepare('SELECT id, author, message FROM entries WHERE member = ?').all(member),
      });
    if (req.method === 'POST') {
      for (const field of ['author', 'message'])
        if (!post[field]) return send({ error: `${field} is required` });
      try {
        if (fixed)
          db.prepare('INSERT INTO entries (member, author, message) VALUES (?, ?, ?)').run(
            member,
            post.author,
            post.message,
          );
        else
          db.exec(
            `INSERT INTO entries (member, author, message) VALUES ('${member}', '${post.author}', '${post.message}')`,
          );
      } catch (e) {
        return send({ error: `SQLSTATE[HY000]: General error: ${(e as Error).message}` });
      }
      return send({ status: 'thank you for signing' });
    }
    return send({ error: 'method not allowed' });
  });
  return { url: server.url, server: server.server, db };
}

describe('a body read from form fields only, refused with 200s', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Guestbook }>;
  before(async () => {
    const scans = await scanTwins(SPEC, startGuestbook, {
      identities: [
        { name: 'ada', headers: { 'X-Member-Key': 'mk-5be0a1' } },
        { name: 'lin', headers: { 'X-Member-Key': 'mk-91c4d7' } },
      ],
      checks: ['API8'],
      ratePerSecond: 300,
    });
    runs.vulnerable = scans.vulnerable;
    runs.fixed = scans.fixed;
  });

  test('the entry is signed form-encoded, and the matrix says how the body was found', () => {
    const rows = runs.fixed.api.db.prepare('SELECT author, message FROM entries').all();
    assert.ok(rows.length >= 1, 'no entry signed');
    assert.match(
      JSON.stringify(runs.vulnerable.result.coverage),
      /inferred from the API's error answers \(form-encoded\): author, message/,
    );
  });

  test('its fields reach SQL', () => {
    const found = operationsFound(runs.vulnerable.result);
    assert.ok(found.includes('scan/api8-sql-injection sign'), found.join('\n'));
  });

  test('the fixed twin: no injection finding', () => {
    assert.deepEqual(
      operationsFound(runs.fixed.result).filter((f) => /injection/.test(f)),
      [],
    );
  });
});
