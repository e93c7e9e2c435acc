"""A clinic's patient records on Python's own http.server, for test/scanner/cookie-sessions.test.ts.

`POST /auth/login` (JSON {username, password}) answers {"uid": n, "name": ...} and sets the cookie `profile`
(HttpOnly, SameSite=Lax). `GET /patients/{uid}` answers the record of patient uid to that patient only (403
otherwise); there is no read of one's own record without naming it. Vulnerable: `profile` is the URL-safe base64
of `uid=5&name=ana&role=patient`, read as it comes. Fixed (argv[1] == 'fixed'): `profile` is a random session id.
Prints `PORT <n>` once listening on 127.0.0.1, port 0.
"""

import base64
import json
import secrets
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

FIXED = len(sys.argv) > 1 and sys.argv[1] == 'fixed'
PATIENTS = {
    5: {'name': 'ana', 'password': 'ana-clinic-61', 'allergies': ['penicillin'], 'blood': 'A+'},
    6: {'name': 'ben', 'password': 'ben-clinic-62', 'allergies': [], 'blood': 'O-'},
}
SESSIONS = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, status, body, cookie=None):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(raw)))
        if cookie:
            self.send_header('Set-Cookie', f'profile={cookie}; Path=/; HttpOnly; SameSite=Lax')
        self.end_headers()
        self.wfile.write(raw)

    def caller(self):
        jar = {}
        for part in (self.headers.get('Cookie') or '').split(';'):
            if '=' in part:
                k, v = part.split('=', 1)
                jar[k.strip()] = v.strip()
        value = jar.get('profile')
        if not value:
            return None
        if FIXED:
            return SESSIONS.get(value)
        try:
            fields = parse_qs(base64.urlsafe_b64decode(value + '=' * (-len(value) % 4)).decode())
            return int(fields['uid'][0])
        except Exception:
            return None

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        if self.path != '/auth/login':
            return self.reply(404, {'detail': 'not found'})
        try:
            v = json.loads(body)
        except Exception:
            return self.reply(400, {'detail': 'bad json'})
        for uid, p in PATIENTS.items():
            if p['name'] == v.get('username') and p['password'] == v.get('password'):
                if FIXED:
                    cookie = secrets.token_urlsafe(24)
                    SESSIONS[cookie] = uid
                else:
                    cookie = base64.urlsafe_b64encode(f'uid={uid}&name={p["name"]}&role=patient'.encode()).decode()
                return self.reply(200, {'uid': uid, 'name': p['name']}, cookie)
        return self.reply(401, {'detail': 'wrong user name or password'})

    def do_GET(self):
        who = self.caller()
        if who is None:
            return self.reply(401, {'detail': 'not signed in'})
        if self.path.startswith('/patients/'):
            try:
                uid = int(self.path.split('/')[2])
            except ValueError:
                return self.reply(404, {'detail': 'no such patient'})
            if uid not in PATIENTS:
                return self.reply(404, {'detail': 'no such patient'})
            if uid != who:
                return self.reply(403, {'detail': 'not your record'})
            p = PATIENTS[uid]
            return self.reply(200, {'uid': uid, 'name': p['name'], 'allergies': p['allergies'], 'blood': p['blood']})
        return self.reply(404, {'detail': 'not found'})


server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(f'PORT {server.server_address[1]}', flush=True)
server.serve_forever()
