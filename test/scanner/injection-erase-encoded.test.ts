import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A parcel-locker service in a hand-rolled Node style on a real SQLite database (node:sqlite, in memory), with the
 * three inputs the injection probes used not to reach:
 *
 * - `POST /session`: the document lists the path and nothing else (no request body); the identities sign in with
 *   form fields `handle` and `secret`. Every failed login crashes (500, the exception's message): the handler
 *   reads the missing row's id. Vulnerable: the handle is pasted into the statement, so a quote is a database
 *   error instead, and `' OR '1'='1'-- -` signs in as the first account.
 * - `DELETE /lockers/{locker_id}`: the id is pasted in unquoted (`WHERE id = <id> AND owner = ?`) and a database
 *   error is answered with its message (500); a missing locker is a 404.
 * - `GET /parcels/{ref}`: a parcel's `ref` is base64 of its number (`MTI=`), decoded and pasted in unquoted;
 *   probes in clear text decode to garbage (or to the plain number), so only encoded probes reach the SQL.
 * - `DELETE /lockers/{locker_id}/snapshot`: a shell looks for the snapshot file named by the id (none exists, and
 *   the command removes nothing) and its output is answered.
 * - `GET /thumbs?variant=`: a shell looks for a thumbnail, blind (a 500 on its syntax errors, nothing else shown):
 *   a quote breaks it and two quotes do not, as in SQL, but a double quote breaks it too.
 *
 * Fixed twin: every value bound, the snapshot id and the variant checked; the login still crashes on a wrong login (the
 * flaw it keeps is no injection).
 */
const USERS = [
  { id: 1, handle: 'alice', secret: 'pw-alice-4410', name: 'Alice' },
  { id: 2, handle: 'bob', secret: 'pw-bob-8832', name: 'Bob' },
];

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'lockers', version: '0.9.1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/session': {
      post: { operationId: 'openSession', security: [], responses: { '200': { description: 'a token' } } },
    },
    '/lockers': {
      get: { operationId: 'myLockers', responses: { '200': { description: 'the caller’s lockers' } } },
      post: {
        operationId: 'rentLocker',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', required: ['label'], properties: { label: { type: 'string' } } },
            },
          },
        },
        responses: { '201': { description: 'the new locker' } },
      },
    },
    '/lockers/{locker_id}': {
      parameters: [{ name: 'locker_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'locker', responses: { '200': { description: 'a locker' } } },
      delete: { operationId: 'releaseLocker', responses: { '204': { description: 'released' } } },
    },
    '/lockers/{locker_id}/snapshot': {
      parameters: [{ name: 'locker_id', in: 'path', required: true, schema: { type: 'integer' } }],
      delete: { operationId: 'dropSnapshot', responses: { '204': { description: 'dropped' } } },
    },
    '/thumbs': {
      get: {
        operationId: 'thumbnail',
        parameters: [
          { name: 'variant', in: 'query', required: true, schema: { type: 'string', example: 'small' } },
        ],
        responses: { '200': { description: 'the thumbnail, if any' } },
      },
    },
    '/parcels': {
      get: { operationId: 'myParcels', responses: { '200': { description: 'the caller’s parcels' } } },
    },
    '/parcels/{ref}': {
      get: {
        operationId: 'parcel',
        parameters: [{ name: 'ref', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'a parcel' } },
      },
    },
  },
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const b64 = (n: number | bigint) => Buffer.from(String(n)).toString('base64');

interface Lockers {
  readonly url: string;
  readonly server: Server;
  readonly db: DatabaseSync;
  /** Every DELETE's raw path. */
  readonly deletes: string[];
}

async function startLockers(fixed: boolean): Promise<Lockers> {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, handle TEXT, secret_hash TEXT, name TEXT)');
  db.exec('CREATE TABLE lockers (id INTEGER PRIMARY KEY, owner INTEGER, label TEXT)');
  db.exec('CREATE TABLE parcels (id INTEGER PRIMARY KEY, owner INTEGER, status TEXT)');
  for (const u of USERS)
    db.prepare('INSERT INTO users VALUES (?, ?, ?, ?)').run(u.id, u.handle, sha256(u.secret), u.name);
  for (const [id, owner] of [
    [11, 1],
    [12, 1],
    [21, 2],
  ])
    db.prepare('INSERT INTO lockers VALUES (?, ?, ?)').run(id, owner, `L${id}`);
  for (const [id, owner] of [
    [512, 1],
    [513, 2],
  ])
    db.prepare('INSERT INTO parcels VALUES (?, ?, ?)').run(id, owner, 'waiting');
  const tokens = new Map<string, number>();
  const deletes: string[] = [];
  const send = (res: ServerResponse, status: number, body: unknown) => sendJson(res, status, body);
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    try {
      if (req.method === 'POST' && url.pathname === '/session') {
        const form = new URLSearchParams(await readText(req));
        const handle = form.get('handle') ?? '';
        const hash = sha256(form.get('secret') ?? '');
        const row = (
          fixed
            ? db.prepare('SELECT id FROM users WHERE handle = ? AND secret_hash = ?').get(handle, hash)
            : db.prepare(`SELECT id FROM users WHERE handle = '${handle}' AND secret_hash = '${hash}'`).get()
        ) as { id: number };
        // The crash on any wrong login: no row, no id.
        const token = randomBytes(16).toString('hex');
        tokens.set(token, row.id);
        return send(res, 200, { session: { token } });
      }
      const uid = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /i, ''));
      if (uid === undefined) return send(res, 401, { error: 'sign in first' });
      if (url.pathname === '/lockers' && req.method === 'GET')
        return send(res, 200, db.prepare('SELECT id, label FROM lockers WHERE owner = ?').all(uid));
      if (url.pathname === '/lockers' && req.method === 'POST') {
        const body = JSON.parse((await readText(req)) || '{}') as { label?: unknown };
        const r = db
          .prepare('INSERT INTO lockers (owner, label) VALUES (?, ?)')
          .run(uid, String(body.label ?? 'locker'));
        return send(res, 201, { id: Number(r.lastInsertRowid), label: body.label });
      }
      if (url.pathname === '/thumbs' && req.method === 'GET') {
        const variant = url.searchParams.get('variant') ?? '';
        if (fixed && !/^[a-z0-9]+$/.test(variant)) return send(res, 400, { error: 'bad variant' });
        // A shell looks for the file; its output and its errors are never shown.
        try {
          execSync(`test -e /nonexistent-pc-thumbs/${variant}.png && echo found || echo none`, {
            shell: '/bin/sh',
            stdio: 'ignore',
            timeout: 5000,
          });
        } catch {
          return send(res, 500, { error: 'internal' });
        }
        return send(res, 200, { thumbnail: null });
      }
      const snapshot = /^\/lockers\/([^/]+)\/snapshot$/.exec(url.pathname);
      if (snapshot && req.method === 'DELETE') {
        deletes.push(url.pathname);
        const id = decodeURIComponent(snapshot[1]);
        if (fixed && !/^\d+$/.test(id)) return send(res, 400, { error: 'bad locker id' });
        // The snapshot file is looked for by a shell (none exists: nothing is ever removed).
        const out = execSync(`test -e /nonexistent-pc-snaps/${id}.jpg || echo missing`, {
          encoding: 'utf8',
          shell: '/bin/sh',
          timeout: 5000,
        });
        return send(res, 404, { error: 'no snapshot', detail: out.trim() });
      }
      const locker = /^\/lockers\/([^/]+)$/.exec(url.pathname);
      if (locker) {
        const id = decodeURIComponent(locker[1]);
        if (req.method === 'GET') {
          const row = db.prepare('SELECT id, label FROM lockers WHERE id = ? AND owner = ?').get(id, uid);
          return row ? send(res, 200, row) : send(res, 404, { error: 'no such locker' });
        }
        if (req.method === 'DELETE') {
          deletes.push(url.pathname);
          const r = fixed
            ? db.prepare('DELETE FROM lockers WHERE id = ? AND owner = ?').run(id, uid)
            : db.prepare(`DELETE FROM lockers WHERE id = ${id} AND owner = ?`).run(uid);
          if (r.changes === 0) return send(res, 404, { error: 'no such locker' });
          res.writeHead(204).end();
          return;
        }
      }
      if (url.pathname === '/parcels' && req.method === 'GET') {
        const rows = db.prepare('SELECT id, status FROM parcels WHERE owner = ?').all(uid) as {
          id: number;
          status: string;
        }[];
        return send(
          res,
          200,
          rows.map((r) => ({ ref: b64(r.id), status: r.status })),
        );
      }
      const parcel = /^\/parcels\/([^/]+)$/.exec(url.pathname);
      if (parcel && req.method === 'GET') {
        const id = Buffer.from(decodeURIComponent(parcel[1]), 'base64').toString('utf8');
        const row = (
          fixed
            ? db.prepare('SELECT id, status FROM parcels WHERE id = ? AND owner = ?').get(id, uid)
            : db.prepare(`SELECT id, status FROM parcels WHERE id = ${id} AND owner = ?`).get(uid)
        ) as { id: number; status: string } | undefined;
        return row
          ? send(res, 200, { ref: b64(row.id), status: row.status })
          : send(res, 404, { error: 'no such parcel' });
      }
      send(res, 404, { error: 'not found' });
    } catch (err) {
      send(res, 500, { error: (err as Error).message });
    }
  });
  return { ...api, db, deletes };
}

describe('injection reaches a bodiless login that fails with 5xx, a DELETE and base64 ids', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Lockers }>;
  before(async () => {
    const login = (u: (typeof USERS)[number]) => ({
      name: u.handle,
      login: {
        path: '/session',
        encoding: 'form' as const,
        body: { handle: u.handle, secret: u.secret },
        tokenPointer: '/session/token',
      },
    });
    Object.assign(
      scans,
      await scanTwins(SPEC, startLockers, {
        identities: [login(USERS[0]), login(USERS[1])],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });
  after(() => {
    for (const kind of ['vulnerable', 'fixed'] as const) scans[kind]?.api.db.close();
  });

  test('the three SQL injections are found, each on its input', () => {
    const sql = scans.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.deepEqual(
      sql.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`).sort(),
      ['openSession handle', 'parcel ref', 'releaseLocker locker_id'],
      operationsFound(scans.vulnerable.result).join('\n'),
    );
    const by = (id: string) => sql.find((f) => f.operation?.operationId === id)!;
    // The login: a credential for a user nobody has, never a given identity's name.
    assert.match(by('openSession').message, /login bypass: pc-nobody-/);
    // The DELETE: on a made-up id.
    assert.match(String(by('releaseLocker').evidence?.payload), /^987654321/);
    // The parcel: probes sent base64-encoded.
    assert.equal(by('parcel').evidence?.encoding, 'base64');
    assert.match(by('parcel').message, /base64-encoded/);
  });

  test('the snapshot DELETE’s id reaches a shell: its echo canary, on a made-up id; the blind thumbnail shell by a sleep', () => {
    const cmd = scans.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api8-command-injection');
    assert.deepEqual(cmd.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`).sort(), [
      'dropSnapshot locker_id',
      'thumbnail variant',
    ]);
    const by = (id: string) => cmd.find((f) => f.operation?.operationId === id)!;
    assert.match(String(by('dropSnapshot').evidence?.payload), /^987654321/);
    // A lone double quote broke it as the single one did: no SQL evidence, the command sleeps decide.
    assert.match(by('thumbnail').message, /time-based/);
  });

  test('the fixed twin has no injection finding', () => {
    const found = operationsFound(scans.fixed.result).filter((f) => /injection/.test(f));
    assert.deepEqual(found, []);
  });

  test('no DELETE reached a locker the scan did not create: alice’s and bob’s are all there', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { db, deletes } = scans[kind].api;
      const left = db.prepare('SELECT id FROM lockers WHERE id IN (11, 12, 21) ORDER BY id').all();
      assert.deepEqual(
        left.map((r) => r.id),
        [11, 12, 21],
        kind,
      );
      for (const d of deletes) {
        const id = decodeURIComponent(d.split('/').pop()!);
        assert.ok(!/^(11|12|21)\b/.test(id), `${kind}: ${d}`);
        assert.doesNotMatch(id, /\bOR\b/i, `${kind}: ${d}`);
      }
    }
  });
});
