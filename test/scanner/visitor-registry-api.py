"""A visitor registry on Python's own http.server and sqlite3, for test/scanner/injection-creations.test.ts.

JSON everywhere, a bearer token from `POST /api/token {username, password}`. Visitors belong to the user who
registered them; a visitor's e-mail is unique. Errors are hidden: any exception is `500 {"detail": "internal
error"}`, a creation answers `201 {"id": n}` only.
Vulnerable: `POST /api/visitors` builds its INSERT from the e-mail and the full name (so `x''` is stored as `x'`),
and `POST /api/visitors/{visitor_id}/check-in` and `PATCH /api/visitors/{visitor_id}` paste the id into their
UPDATE unquoted. Fixed (argv[1] == 'fixed'):
bound parameters. `GET /_test/seeded` (not in the document) answers the seeded visitors' check-in flags.
Prints `PORT <n>` once listening on 127.0.0.1, port 0.
"""

import json
import re
import secrets
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

FIXED = len(sys.argv) > 1 and sys.argv[1] == 'fixed'
DB = sqlite3.connect(':memory:', check_same_thread=False)
LOCK = threading.Lock()
DB.executescript(
    """
    CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE, password TEXT);
    CREATE TABLE visitors (id INTEGER PRIMARY KEY, owner INTEGER, email TEXT UNIQUE, full_name TEXT,
                           checked_in INTEGER DEFAULT 0);
    INSERT INTO users VALUES (1, 'alice', 'pw-alice-3391'), (2, 'bob', 'pw-bob-2276');
    INSERT INTO visitors (owner, email, full_name) VALUES (1, 'ann@guests.test', 'Ann Guest'),
                                                          (2, 'ben@guests.test', 'Ben Guest');
    """
)
TOKENS = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def version_string(self):
        return 'registry'

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def body(self):
        raw = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        return json.loads(raw or b'{}')

    def caller(self):
        auth = self.headers.get('Authorization') or ''
        return TOKENS.get(auth[7:]) if auth.lower().startswith('bearer ') else None

    def handle_any(self, method):
        try:
            with LOCK:
                self.route(method)
        except Exception:
            DB.rollback()
            self.reply(500, {'detail': 'internal error'})

    def do_GET(self):
        self.handle_any('GET')

    def do_POST(self):
        self.handle_any('POST')

    def do_PATCH(self):
        self.handle_any('PATCH')

    def route(self, method):
        path = self.path.split('?')[0]
        if method == 'GET' and path == '/_test/seeded':
            rows = DB.execute(
                'SELECT id, checked_in, full_name FROM visitors WHERE id IN (1, 2) ORDER BY id'
            ).fetchall()
            return self.reply(200, [list(r) for r in rows])
        if method == 'POST' and path == '/api/token':
            b = self.body()
            row = DB.execute(
                'SELECT id FROM users WHERE username = ? AND password = ?', (b.get('username'), b.get('password'))
            ).fetchone()
            if not row:
                return self.reply(401, {'detail': 'bad credentials'})
            token = secrets.token_hex(16)
            TOKENS[token] = row[0]
            return self.reply(200, {'access_token': token, 'token_type': 'bearer'})
        uid = self.caller()
        if uid is None:
            return self.reply(401, {'detail': 'not authenticated'})
        if method == 'GET' and path == '/api/visitors':
            rows = DB.execute(
                'SELECT id, email, full_name, checked_in FROM visitors WHERE owner = ?', (uid,)
            ).fetchall()
            return self.reply(200, [dict(zip(['id', 'email', 'full_name', 'checked_in'], r)) for r in rows])
        if method == 'POST' and path == '/api/visitors':
            b = self.body()
            email, name = str(b.get('email', '')), str(b.get('full_name', ''))
            if FIXED:
                cur = DB.execute(
                    'INSERT INTO visitors (owner, email, full_name) VALUES (?, ?, ?)', (uid, email, name)
                )
            else:
                cur = DB.execute(
                    f"INSERT INTO visitors (owner, email, full_name) VALUES ({uid}, '{email}', '{name}')"
                )
            DB.commit()
            return self.reply(201, {'id': cur.lastrowid})
        m = re.fullmatch(r'/api/visitors/([^/]+)', path)
        if method == 'GET' and m:
            row = DB.execute(
                'SELECT id, email, full_name, checked_in FROM visitors WHERE id = ? AND owner = ?', (m.group(1), uid)
            ).fetchone()
            if not row:
                return self.reply(404, {'detail': 'no such visitor'})
            return self.reply(200, dict(zip(['id', 'email', 'full_name', 'checked_in'], row)))
        if method == 'PATCH' and m:
            vid = unquote(m.group(1))
            name = str(self.body().get('full_name', ''))
            if FIXED:
                cur = DB.execute('UPDATE visitors SET full_name = ? WHERE id = ? AND owner = ?', (name, vid, uid))
            else:
                cur = DB.execute(f'UPDATE visitors SET full_name = ? WHERE id = {vid} AND owner = ?', (name, uid))
            DB.commit()
            if cur.rowcount == 0:
                return self.reply(404, {'detail': 'no such visitor'})
            return self.reply(200, {'updated': True})
        m = re.fullmatch(r'/api/visitors/([^/]+)/check-in', path)
        if method == 'POST' and m:
            vid = unquote(m.group(1))
            if FIXED:
                cur = DB.execute('UPDATE visitors SET checked_in = 1 WHERE id = ? AND owner = ?', (vid, uid))
            else:
                cur = DB.execute(f'UPDATE visitors SET checked_in = 1 WHERE id = {vid} AND owner = ?', (uid,))
            DB.commit()
            if cur.rowcount == 0:
                return self.reply(404, {'detail': 'no such visitor'})
            return self.reply(200, {'checked_in': True})
        self.reply(404, {'detail': 'not found'})


server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(f'PORT {server.server_address[1]}', flush=True)
server.serve_forever()
