"""A parcel-tracking service on Python's own http.server, for test/scanner/any-method-echo.test.ts.

Keys in `X-Api-Key` (`k-ann-7781`, `k-ben-3390`). `GET /parcels` lists the caller's parcels, `GET /status` answers
`{"up": true}` to anyone. TRACE is refused (405) on both twins: the server's TRACE switch is off.
Vulnerable: a catch-all for every other method it does not define (TRACK, or any made-up one) answers 200 with the
request line and headers as `message/http`, as a debugging helper left in does. Fixed (argv[1] == 'fixed'): methods it
does not define get the server's own 501.
Prints `PORT <n>` once listening on 127.0.0.1, port 0.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXED = len(sys.argv) > 1 and sys.argv[1] == 'fixed'
KEYS = {'k-ann-7781': 'ann', 'k-ben-3390': 'ben'}
PARCELS = [
    {'id': 'PX-101', 'owner': 'ann', 'state': 'in transit'},
    {'id': 'PX-102', 'owner': 'ben', 'state': 'delivered'},
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def version_string(self):
        return 'parcels'

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
        if self.path == '/status':
            return self.reply(200, {'up': True})
        who = KEYS.get(self.headers.get('X-Api-Key', ''))
        if who is None:
            return self.reply(401, {'message': 'an API key is required'})
        if self.path == '/parcels':
            return self.reply(200, {'parcels': [p for p in PARCELS if p['owner'] == who]})
        return self.reply(404, {'message': 'no such route'})

    def do_TRACE(self):
        self.reply(405, {'message': 'TRACE is disabled'})

    def echo(self):
        lines = [self.requestline] + [f'{k}: {v}' for k, v in self.headers.items()]
        self.reply(200, '\r\n'.join(lines) + '\r\n', 'message/http')

    def __getattr__(self, name):
        # http.server looks up do_<METHOD>: the vulnerable twin's catch-all answers every method it lacks.
        if name.startswith('do_') and not FIXED:
            return self.echo
        raise AttributeError(name)


server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
print(f'PORT {server.server_address[1]}', flush=True)
server.serve_forever()
