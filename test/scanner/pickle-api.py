"""A desk-layout sync service on Python's own http.server, for test/scanner/pickle.test.ts.

Token auth (`Authorization: Token t-una`). `GET /layouts/current` gives the caller's layout as a base64
pickle in a JSON member; `POST /layouts/restore {"blob": ...}` loads one back and answers its title;
`GET /recent` keeps the recently opened documents in a cookie, a base64 pickle of a list, set on the first
visit and read back on the next ones; `POST /jobs` takes a raw pickled job (application/octet-stream) and
answers 202 without showing it. Vulnerable: pickle.loads on all three. Fixed (argv[1] == 'fixed'): an
Unpickler that refuses every global, so plain data still loads and a pickle that calls anything fails.
Prints `PORT <n>` once listening on 127.0.0.1, port 0.
"""

import base64
import io
import json
import pickle
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXED = len(sys.argv) > 1 and sys.argv[1] == 'fixed'
TOKENS = {'t-una': 'una', 't-oli': 'oli'}


class PlainData(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f'global {module}.{name} refused')


def load(data):
    if FIXED:
        return PlainData(io.BytesIO(data)).load()
    return pickle.loads(data)


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def version_string(self):
        return 'desk-layouts'

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=None):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(raw)))
        self.send_header('X-Content-Type-Options', 'nosniff')
        self.send_header('Cache-Control', 'no-store')
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def user(self):
        auth = self.headers.get('Authorization', '')
        return TOKENS.get(auth[6:]) if auth.startswith('Token ') else None

    def body(self):
        return self.rfile.read(int(self.headers.get('Content-Length') or 0))

    def do_GET(self):
        who = self.user()
        if who is None:
            return self.reply(401, {'detail': 'Authentication credentials were not provided.'})
        if self.path == '/layouts/current':
            layout = {'title': f'Desk of {who}', 'columns': 3, 'theme': 'light'}
            return self.reply(200, {'name': 'default', 'blob': base64.b64encode(pickle.dumps(layout)).decode()})
        if self.path == '/recent':
            cookie = None
            for part in self.headers.get('Cookie', '').split(';'):
                k, _, v = part.strip().partition('=')
                if k == 'recent':
                    cookie = v
            if cookie is None:
                docs = ['doc-1', 'doc-2']
                value = base64.b64encode(pickle.dumps(docs)).decode()
                return self.reply(200, {'recent': docs}, {'Set-Cookie': f'recent={value}; HttpOnly; Path=/'})
            try:
                from urllib.parse import unquote

                docs = load(base64.b64decode(unquote(cookie)))
                return self.reply(200, {'recent': [str(d) for d in docs]})
            except Exception:
                return self.reply(400, {'detail': 'bad recent cookie'})
        return self.reply(404, {'detail': 'Not found.'})

    def do_POST(self):
        who = self.user()
        if who is None:
            return self.reply(401, {'detail': 'Authentication credentials were not provided.'})
        data = self.body()
        if self.path == '/layouts/restore':
            try:
                blob = json.loads(data)['blob']
                layout = load(base64.b64decode(blob))
                return self.reply(200, {'restored': str(layout['title']), 'columns': layout.get('columns')})
            except Exception:
                return self.reply(400, {'detail': 'cannot restore this layout'})
        if self.path == '/jobs':
            try:
                load(data)
            except Exception:
                return self.reply(400, {'detail': 'bad job'})
            return self.reply(202, {'queued': True})
        return self.reply(404, {'detail': 'Not found.'})


server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(f'PORT {server.server_address[1]}', flush=True)
server.serve_forever()
