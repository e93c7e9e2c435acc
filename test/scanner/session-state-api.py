"""A saved-session service on Python's own http.server, for test/scanner/session-state.test.ts.

No authentication. Both routes take the raw request body as text/plain: base64 of the saved session state.
`POST /session/restore` loads it and answers `{"restored": str(state)}`. `POST /session/import` first inflates
it (zlib), loads it and answers the user it names; any error is answered 500 with the Python traceback, as a
debug mode does. `GET /health` answers ok.
Vulnerable: pickle.loads on both. Fixed (argv[1] == 'fixed'): JSON instead of pickles (restore answers a 400
for anything else; import's traceback then names json.loads).
Prints `PORT <n>` once listening on 127.0.0.1, port 0.
"""

import base64
import json
import pickle
import sys
import traceback
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXED = len(sys.argv) > 1 and sys.argv[1] == 'fixed'


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def version_string(self):
        return 'sessions'

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type='application/json'):
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(raw)))
        self.send_header('X-Content-Type-Options', 'nosniff')
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        if self.path == '/health':
            return self.reply(200, {'status': 'ok'})
        self.reply(404, {'error': 'not found'})

    def do_POST(self):
        blob = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        if self.path == '/session/restore':
            if FIXED:
                try:
                    state = json.loads(base64.b64decode(blob))
                except Exception:
                    return self.reply(400, {'error': 'invalid session state'})
                return self.reply(200, {'restored': str(state)})
            try:
                state = pickle.loads(base64.b64decode(blob))
            except Exception:
                return self.reply(500, {'error': 'could not restore the session'})
            return self.reply(200, {'restored': str(state)})
        if self.path == '/session/import':
            try:
                if FIXED:
                    state = json.loads(zlib.decompress(base64.b64decode(blob)))
                else:
                    state = pickle.loads(zlib.decompress(base64.b64decode(blob)))
                return self.reply(200, {'user': str(state.get('user'))})
            except Exception:
                return self.reply(500, traceback.format_exc(), 'text/plain; charset=utf-8')
        self.reply(404, {'error': 'not found'})


server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(f'PORT {server.server_address[1]}', flush=True)
server.serve_forever()
