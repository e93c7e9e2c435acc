/**
 * The floor for a Node proxy on this machine: undici `Pool.stream` straight into the response, no routing,
 * no headers work, no logging. bench/run.ts runs it beside Portcullis so the gateway's own overhead shows.
 * Usage: node bench/minimal-proxy.ts PORT UPSTREAM_URL
 */
import http from 'node:http';
import { Pool } from 'undici';

const [port, upstream] = process.argv.slice(2);
process.on('SIGINT', () => process.exit(0)); // lets --cpu-prof write its profile
const pool = new Pool(upstream, { connections: 64, pipelining: 1 });
http
  .createServer((req, res) => {
    pool
      .stream(
        {
          path: req.url ?? '/',
          method: req.method as 'GET',
          headers: req.headers,
          body: req.method === 'GET' ? null : req,
        },
        ({ statusCode, headers }) => {
          res.writeHead(statusCode, headers as http.OutgoingHttpHeaders);
          return res;
        },
      )
      .catch(() => {
        if (!res.headersSent) res.writeHead(502).end();
      });
  })
  .listen(Number(port), '127.0.0.1');
