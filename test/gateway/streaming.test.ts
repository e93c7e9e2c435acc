/**
 * Large bodies through a gateway running as its own process (`portcullis serve`), so its peak resident
 * memory (VmHWM) can be read from /proc without the client and upstream in the way.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { op, openapi, startServer, type TestServer, tempFiles } from '../harness.ts';
import { type ServeProcess, startServeProcess } from '../kit/process.ts';

const MB = 1024 * 1024;
/**
 * V8 frees the memory of dropped Buffers lazily (a GC is triggered after about 64 MiB of new external
 * memory), so a streamed body still shows tens of MiB of garbage in the peak. The bodies are 256 MiB, so
 * streaming (peak well under half the body) and buffering (peak above the body) cannot be confused.
 */
const TOTAL = 256 * MB;

async function memoryKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
}

describe('large bodies through a gateway process', () => {
  let upstream: TestServer;
  let gateway: ServeProcess;
  const chunk = Buffer.alloc(MB, 5);

  before(async () => {
    upstream = await startServer((req, res) => {
      if (req.url === '/upload') {
        const hash = createHash('sha256');
        let size = 0;
        req.on('data', (c: Buffer) => {
          size += c.length;
          hash.update(c);
        });
        req.on('end', () => res.end(JSON.stringify({ size, sha256: hash.digest('hex') })));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(TOTAL) });
      let left = TOTAL / MB;
      const pump = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const dir = await tempFiles({
      'api.yaml': openapi({ '/upload': { post: op('upload') }, '/download': { get: op('download') } }),
    });
    const configFile = path.join(dir, 'portcullis.yaml');
    await writeFile(
      configFile,
      stringify({
        version: 1,
        server: { listen: [{ host: '127.0.0.1', port: 0 }], maxBodyBytes: 512 * MB },
        admin: { enabled: false },
        logging: { level: 'warn' },
        apis: [{ name: 'big', spec: 'api.yaml', upstream: { url: upstream.url } }],
      }),
    );
    gateway = await startServeProcess(configFile);
  });

  after(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  test('streams a 256 MiB request body and a 256 MiB response with flat gateway memory', async () => {
    const pid = gateway.child.pid!;
    const baseline = await memoryKiB(pid, 'VmRSS');
    const expected = createHash('sha256');
    for (let i = 0; i < TOTAL / MB; i++) expected.update(chunk);
    const uploaded = await new Promise<string>((resolve, reject) => {
      const u = new URL(gateway.gatewayUrl);
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          method: 'POST',
          path: '/upload',
          agent: false,
          headers: { 'content-length': String(TOTAL) },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < TOTAL / MB) {
          sent++;
          if (!req.write(chunk)) return req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    const { size, sha256 } = JSON.parse(uploaded);
    assert.equal(size, TOTAL);
    assert.equal(sha256, expected.digest('hex'));

    const downloaded = await new Promise<number>((resolve, reject) => {
      const u = new URL(gateway.gatewayUrl);
      http
        .get({ host: u.hostname, port: u.port, path: '/download', agent: false }, (res) => {
          let n = 0;
          res.on('data', (c: Buffer) => {
            n += c.length;
          });
          res.on('end', () => resolve(n));
        })
        .on('error', reject);
    });
    assert.equal(downloaded, TOTAL);
    const peak = await memoryKiB(pid, 'VmHWM');
    const grewMiB = (peak - baseline) / 1024;
    // Buffering either body would add at least 256 MiB to the gateway's peak.
    assert.ok(grewMiB < 128, `gateway peak RSS grew by ${grewMiB.toFixed(1)} MiB`);
  });
});
