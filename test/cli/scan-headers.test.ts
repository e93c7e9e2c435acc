import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseHeaders } from '../../src/cli/commands/scanner.ts';
import { tempFiles } from '../harness.ts';
import { runCli } from '../kit/process.ts';
import { startServer, type TestServer } from '../kit/server.ts';

/**
 * `portcullis scan --header 'Name: value'` and the identities file's `headers:` map: headers sent with every
 * request of the scan (ScanOptions.headers). The API below sits behind a gateway that routes only requests
 * carrying `X-Api-Mode: legacy` and its deployment key `X-Gateway-Key`; anything else is a 404, whoever asks.
 * The caller is named by `X-User-ID` (1 alice, 2 bob). `GET /orders` lists the caller's orders, and every
 * order to a caller without `X-User-ID`: API2's request without credentials finds that only when it carries
 * the two shared headers.
 */
const GATEWAY_KEY = 'gk7f3a9c2e51b84d06aa';

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'orders', version: '1.0.0' },
  components: { securitySchemes: { user: { type: 'apiKey', in: 'header', name: 'X-User-ID' } } },
  security: [{ user: [] }],
  paths: {
    '/orders': {
      get: { operationId: 'listOrders', responses: { '200': { description: "the caller's orders" } } },
    },
  },
};

const ORDERS = [
  { id: 101, owner: '1', item: 'lamp', total: 40 },
  { id: 102, owner: '2', item: 'desk', total: 310 },
];

interface OrdersApi {
  readonly server: TestServer;
  /** `METHOD path` of every request that came without both shared headers. */
  readonly ungated: string[];
  /** Requests that passed the gateway. */
  passed: number;
}

async function startOrders(): Promise<OrdersApi> {
  const api = { ungated: [] as string[], passed: 0 } as {
    ungated: string[];
    passed: number;
    server: TestServer;
  };
  api.server = await startServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(payload));
    };
    const route = (req.url ?? '/').split('?')[0];
    if (req.headers['x-api-mode'] !== 'legacy' || req.headers['x-gateway-key'] !== GATEWAY_KEY) {
      if (api.ungated.length < 1000) api.ungated.push(`${req.method} ${route}`);
      return send(404, { detail: 'Not Found' });
    }
    api.passed++;
    if (req.method !== 'GET' || route !== '/orders') return send(404, { detail: 'Not Found' });
    const caller = String(req.headers['x-user-id'] ?? '');
    if (caller !== '' && caller !== '1' && caller !== '2') return send(401, { detail: 'who are you?' });
    return send(
      200,
      ORDERS.filter((o) => caller === '' || o.owner === caller),
    );
  });
  return api;
}

interface Finding {
  ruleId: string;
  operation?: { operationId?: string };
  evidence?: { curl?: string };
}

/** Runs `portcullis scan` on the orders API (API2 only) with `extra` arguments; the JSON report on stdout. */
async function scan(api: OrdersApi, dir: string, extra: string[]) {
  const r = await runCli([
    'scan',
    '--spec',
    path.join(dir, 'openapi.json'),
    '--target',
    api.server.url,
    '--checks',
    'API2',
    '--rate',
    '200',
    '--format',
    'json',
    '--fail-on',
    'critical',
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { findings: Finding[] };
  return { ...r, doc };
}

/** The finding of an order list open to callers without credentials, which only the shared headers reach. */
function openList(findings: readonly Finding[]): Finding {
  const hits = findings.filter(
    (f) => f.ruleId === 'scan/api2-no-credentials' && f.operation?.operationId === 'listOrders',
  );
  assert.equal(hits.length, 1, JSON.stringify(findings.map((f) => f.ruleId)));
  return hits[0];
}

describe('scan --header and the identities file headers: sent with every request', () => {
  let api: OrdersApi;
  let dir: string;
  before(async () => {
    api = await startOrders();
    dir = await tempFiles({ 'openapi.json': JSON.stringify(SPEC) });
  });
  after(() => api.server.close());

  test('--header: every request carries both, the open list is found, its curl line masks the key', async () => {
    api.ungated.length = 0;
    const r = await scan(api, dir, [
      '--identity',
      'alice:header:X-User-ID=1',
      '--identity',
      'bob:header:X-User-ID=2',
      '--header',
      'X-Api-Mode: legacy',
      '-H',
      `X-Gateway-Key:${GATEWAY_KEY}`,
    ]);
    assert.deepEqual(api.ungated, []);
    assert.ok(api.passed > 0);
    const curl = openList(r.doc.findings).evidence?.curl ?? '';
    assert.match(curl, /-H 'X-Api-Mode: legacy'/);
    assert.match(curl, /-H 'X-Gateway-Key: '"\$CREDENTIAL"/);
    assert.doesNotMatch(curl, /X-User-Id/i);
    assert.ok(!r.stdout.includes(GATEWAY_KEY), 'the key is in no report');
    assert.ok(!r.stderr.includes(GATEWAY_KEY), 'nor on stderr');
    assert.match(
      r.stderr,
      /portcullis: WARNING: --header X-Gateway-Key looks like a credential: every request carries it, anonymous ones included \(the checks without credentials too\); curl lines show \$CREDENTIAL\n/,
    );
    assert.doesNotMatch(r.stderr, /WARNING: --header X-Api-Mode/);
  });

  test('headers: in the identities file do the same, and a --header wins over the same name there', async () => {
    api.ungated.length = 0;
    const file = path.join(dir, 'identities.yaml');
    await writeFile(
      file,
      [
        'identities:',
        '  - { name: alice, headers: { X-User-ID: "1" } }',
        '  - { name: bob, headers: { X-User-ID: "2" } }',
        'headers:',
        // The flag's value wins: with this one every request would be a 404.
        '  X-Api-Mode: modern',
        '  X-Api-Version: 2',
        `  X-Gateway-Key: ${GATEWAY_KEY}`,
        '',
      ].join('\n'),
    );
    const r = await scan(api, dir, ['--identities', file, '--header', 'x-api-mode: legacy']);
    assert.deepEqual(api.ungated, []);
    const curl = openList(r.doc.findings).evidence?.curl ?? '';
    assert.match(curl, /-H 'X-Api-Mode: legacy'/);
    assert.match(curl, /-H 'X-Gateway-Key: '"\$CREDENTIAL"/);
    assert.ok(!r.stdout.includes(GATEWAY_KEY));
    // A number in YAML is sent as its text.
    assert.match(curl, /-H 'X-Api-Version: 2'/);
    assert.match(
      r.stderr,
      /WARNING: --identities [^\n]*identities\.yaml: headers\.X-Gateway-Key looks like a credential/,
    );
  });

  test('without them, nothing passes the gateway and nothing is found (the control)', async () => {
    api.ungated.length = 0;
    const before = api.passed;
    const r = await scan(api, dir, [
      '--identity',
      'alice:header:X-User-ID=1',
      '--identity',
      'bob:header:X-User-ID=2',
    ]);
    assert.equal(api.passed, before);
    assert.ok(api.ungated.length > 0);
    assert.deepEqual(
      r.doc.findings.filter((f) => f.ruleId === 'scan/api2-no-credentials'),
      [],
    );
  });
});

describe('scan --header: bad input is one line naming the flag or the config path, exit 2', () => {
  let dir: string;
  before(async () => {
    dir = await tempFiles({ 'openapi.json': JSON.stringify(SPEC) });
  });

  const usage = async (extra: string[]) => {
    const r = await runCli([
      'scan',
      '--spec',
      path.join(dir, 'openapi.json'),
      '--target',
      'http://127.0.0.1:9',
      '--identity',
      'alice:bearer:t',
      ...extra,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    return r.stderr;
  };

  test('flags', async () => {
    assert.equal(
      await usage(['--header', 'X-Api-Mode: legacy', '--header', 'X-Gateway-Key gk123']),
      "portcullis: --header #2 has no colon: write it as 'Name: value'\n",
    );
    assert.equal(
      await usage(['--header', 'X Mode: legacy']),
      'portcullis: --header "X Mode": not a header name (letters, digits and !#$%&\'*+-.^_`|~ only)\n',
    );
    assert.equal(
      await usage(['--header', 'X-Mode: legacy\r\nX-Admin: 1']),
      'portcullis: --header X-Mode: the value holds a line break or another control character\n',
    );
    assert.equal(
      await usage(['--header', 'X-Mode:  ']),
      'portcullis: --header X-Mode: give a value after the colon\n',
    );
    assert.equal(
      await usage(['--header', 'X-Mode: a', '--header', 'x-mode: b']),
      'portcullis: --header x-mode: given twice\n',
    );
    assert.equal(
      await usage(['--header', 'Content-Length: 3']),
      'portcullis: --header Content-Length: the scan sets Content-Length itself; it cannot be shared\n',
    );
    assert.equal(
      await usage(['--header', 'Cookie: a=b']),
      "portcullis: --header Cookie: each identity's cookie jar sends the Cookie header; give a cookie as an identity's header\n",
    );
  });

  test('the identities file', async () => {
    const file = path.join(dir, 'ids.yaml');
    const ids = 'identities:\n  - { name: bob, bearer: t2 }\n';
    await writeFile(file, `${ids}headers: [X-Mode]\n`);
    assert.equal(
      await usage(['--identities', file]),
      `portcullis: --identities ${file}: headers must be a map of header names to values\n`,
    );
    await writeFile(file, `${ids}headers:\n  X-Mode: { a: 1 }\n`);
    assert.equal(
      await usage(['--identities', file]),
      `portcullis: --identities ${file}: headers.X-Mode must be a string\n`,
    );
    await writeFile(file, `${ids}headers:\n  "X Mode": legacy\n`);
    assert.equal(
      await usage(['--identities', file]),
      `portcullis: --identities ${file}: headers["X Mode"]: not a header name (letters, digits and !#$%&'*+-.^_\`|~ only)\n`,
    );
    await writeFile(file, `${ids}headers:\n  X-Mode: "legacy\\nX-Admin: 1"\n`);
    assert.equal(
      await usage(['--identities', file]),
      `portcullis: --identities ${file}: headers.X-Mode: the value holds a line break or another control character\n`,
    );
    await writeFile(file, `${ids}headers:\n  X-Mode: a\n  x-mode: b\n`);
    assert.equal(
      await usage(['--identities', file]),
      `portcullis: --identities ${file}: headers.x-mode: given twice\n`,
    );
  });

  test('parseHeaders keeps the names as given and trims the values; one that looks like a credential is kept, with a warning', () => {
    assert.deepEqual(parseHeaders(['X-Api-Version:2', 'X-Tenant:  acme corp ', 'Accept: a/b;q=0.9, c/d']), {
      headers: { 'X-Api-Version': '2', 'X-Tenant': 'acme corp', Accept: 'a/b;q=0.9, c/d' },
      warnings: [],
    });
    assert.deepEqual(parseHeaders(['Authorization: Basic c3RhZ2luZzpwdw==']).warnings, [
      '--header Authorization looks like a credential: every request carries it, anonymous ones included (the checks without credentials too); curl lines show $CREDENTIAL',
    ]);
  });
});
