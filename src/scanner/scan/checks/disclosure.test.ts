import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  debugData,
  debugFinding,
  debugRoute,
  deploymentRoute,
  errorSecrets,
  errorSecretsOf,
  internalError,
  privateIpv4,
  quotedValues,
  recordSecrets,
  reflectedSql,
  runtimeError,
  serverVersion,
  sharedDebug,
  softwareVersions,
} from './disclosure.ts';

describe('runtime exception messages', () => {
  test('5xx answers carrying an unhandled exception message', () => {
    for (const text of [
      '{"error":"division by zero"}',
      '{"detail":"\'NoneType\' object has no attribute \'id\'"}',
      '{"message":"Cannot read properties of undefined (reading \'units\')"}',
      'panic: runtime error: index out of range [3] with length 2',
      '{"error":"KeyError: \'qty\'"}',
      '{"error":"java.lang.NullPointerException"}',
      '{"error":"total is not defined"}',
    ])
      assert.ok(runtimeError({ status: 500, text }), text);
  });
  test('never 4xx, never a generic message', () => {
    assert.equal(runtimeError({ status: 400, text: '{"error":"qty is not defined"}' }), undefined);
    assert.equal(runtimeError({ status: 422, text: '{"detail":"division by zero"}' }), undefined);
    for (const text of [
      'Internal Server Error',
      '{"error":"Internal error"}',
      '{"detail":"Service unavailable"}',
    ])
      assert.equal(runtimeError({ status: 500, text }), undefined, text);
  });
});

describe('software versions in JSON', () => {
  test('product and version pairs', () => {
    const found = softwareVersions(
      {
        status: 'ok',
        framework: 'FastAPI 0.142.2',
        language: 'Python 3.11.7',
        database_status: 'connected (SQLite 3.39.2)',
        runtime: { node_version: 'v24.1.0' },
        java: { version: '17.0.9', vendor: 'Eclipse Adoptium' },
      },
      '/health',
    );
    assert.deepEqual(found, [
      'framework "FastAPI 0.142.2"',
      'language "Python 3.11.7"',
      'database_status "connected (SQLite 3.39.2)"',
      'node_version "v24.1.0"',
      'java.version "17.0.9"',
    ]);
  });
  test('the own version beside a non-production stage on a status route only', () => {
    const body = { status: 'ok', version: '1.0.0-beta', environment: 'development' };
    assert.deepEqual(softwareVersions(body, '/health'), [
      'version "1.0.0-beta" beside environment "development"',
    ]);
    assert.deepEqual(softwareVersions(body, '/api/v1/status'), [
      'version "1.0.0-beta" beside environment "development"',
    ]);
    assert.deepEqual(softwareVersions(body, '/releases/{id}'), []);
    // The API's own version in production is no banner; a resource's status route is not a status route.
    assert.deepEqual(softwareVersions({ version: '1.4.2', environment: 'production' }, '/health'), []);
    assert.deepEqual(softwareVersions(body, '/orders/{id}/status'), []);
    assert.deepEqual(softwareVersions({ go: '1.21.5' }, '/orders/status'), []);
    assert.deepEqual(softwareVersions({ status: 'ok', version: '2.3.1' }, '/status'), []);
  });
  test("not the API's resources", () => {
    assert.deepEqual(
      softwareVersions({ packages: [{ name: 'Django', version: '4.2.1', notes: 'Django 4.2.1' }] }, '/info'),
      [],
    );
    assert.deepEqual(softwareVersions({ id: 3, title: 'Go 2 km north', version: '1.4' }, '/routes'), []);
  });
  test('ordinary words and generic members off status routes are not software', () => {
    assert.deepEqual(softwareVersions({ model: 'Corsa', engine: '2.0', platform: '1.4' }, '/cars/{id}'), []);
    assert.deepEqual(softwareVersions({ java: '3.50', ruby: '4.20' }, '/menu'), []);
    assert.deepEqual(softwareVersions({ title: 'Go 1.5 km north' }, '/routes/{id}'), []);
    assert.deepEqual(softwareVersions({ engine: { version: '2.0' } }, '/cars/{id}'), []);
    assert.deepEqual(softwareVersions({ db_version: '15.4' }, '/reports'), ['db_version "15.4"']);
    assert.deepEqual(softwareVersions({ go: '1.21.5', engine: '2.0' }, '/status'), [
      'go "1.21.5"',
      'engine "2.0"',
    ]);
    assert.deepEqual(softwareVersions({ version: '2.3.1', debug: false }, '/health'), []);
    assert.deepEqual(softwareVersions({ version: '2.3.1', debug: true }, '/health'), [
      'version "2.3.1" beside debug true',
    ]);
  });
  test('Server headers name a version, not digits in a name', () => {
    assert.ok(serverVersion('nginx/1.25.3'));
    assert.ok(serverVersion('Apache/2.4.41 (Ubuntu)'));
    assert.ok(!serverVersion('K8sGateway'));
    assert.ok(!serverVersion('Br0K3nAPI'));
  });
});

describe('SQL built from the input', () => {
  const sent = (body: unknown, path = '/search') => quotedValues({ method: 'POST', path, body });
  test('the sent value pasted unescaped into a statement', () => {
    const v = sent({ q: "zq1' OR '1'='1" });
    assert.equal(v.length, 1);
    const hit = reflectedSql(v, {
      json: { query: "SELECT * FROM items WHERE name = 'zq1' OR '1'='1'" },
      text: '',
    });
    assert.equal(hit?.value.name, 'q');
    const like = reflectedSql(sent({ q: "abc'" }), {
      json: { sql: "SELECT id FROM books WHERE title LIKE '%abc'%'" },
      text: '',
    });
    assert.equal(like?.value.in, 'json');
    const query = quotedValues({ method: 'GET', path: '/find?term=abc%27+OR+1%3D1' });
    assert.ok(
      reflectedSql(query, { json: undefined, text: "error in: SELECT * FROM t WHERE term = 'abc' OR 1=1'" }),
    );
  });
  test('escaped, bound or merely echoed: nothing', () => {
    assert.equal(
      reflectedSql(sent({ q: "zq1' OR '1'='1" }), {
        json: { query: "SELECT * FROM items WHERE name = 'zq1'' OR ''1''=''1'" },
        text: '',
      }),
      undefined,
    );
    assert.equal(
      reflectedSql(sent({ q: "abc'" }), {
        json: { query: "SELECT * FROM items WHERE name = 'abc'''" },
        text: '',
      }),
      undefined,
    );
    assert.equal(
      reflectedSql(sent({ q: "abc'" }), {
        json: { query: 'SELECT * FROM items WHERE name = ?', params: ["abc'"] },
        text: '',
      }),
      undefined,
    );
    assert.equal(
      reflectedSql(sent({ q: "abc'" }), { json: { message: "No item named 'abc'' found" }, text: '' }),
      undefined,
    );
    assert.deepEqual(sent({ q: "abc''" }), []);
  });
});

describe('debug and configuration data in JSON', () => {
  const at = (route: string, sent: string[] = []) => ({
    route,
    targetHost: '127.0.0.1',
    sent: (v: string) => sent.includes(v),
  });

  test('private and loopback IPv4 only', () => {
    for (const ip of ['10.0.3.7', '172.16.0.1', '172.31.255.255', '192.168.1.20', '127.0.0.2'])
      assert.equal(privateIpv4(ip), true, ip);
    for (const ip of ['172.32.0.1', '8.8.8.8', '192.169.0.1', '300.1.1.1'])
      assert.equal(privateIpv4(ip), false, ip);
  });

  test('a backing service address is enough alone; a debug switch with a private host is', () => {
    const dsn = debugData({ database_url: 'postgresql://db.internal:5432/orders' }, at('/api/orders'));
    assert.deepEqual(dsn.strong, ["/database_url (a backing service's address)"]);
    const dump = debugData({ debug: true, db_host: '10.0.3.7', status: 'ok' }, at('/api/orders'));
    assert.deepEqual([...dump.weak.keys()].sort(), ['address', 'debug', 'service']);
    assert.equal(debugFinding(dump.weak, '/api/orders'), true);
    const ado = debugData({ conn: 'Server=sql01;Database=shop;Trusted_Connection=True' }, at('/x'));
    assert.equal(ado.strong.length, 1);
  });

  test('one weak sign counts only on a route about the deployment', () => {
    const one = debugData({ debug: true, name: 'shop' }, at('/api/preferences'));
    assert.equal(debugFinding(one.weak, '/api/preferences'), false);
    assert.equal(debugFinding(one.weak, '/api/internal/config'), true);
    // A stage and versions without a debug switch or an address are the version banner's to judge.
    const stage = debugData({ environment: 'development', python_version: '3.11.7' }, at('/api/x'));
    assert.equal(stage.weak.size, 2);
    assert.equal(debugFinding(stage.weak, '/api/x'), false);
  });

  test("the client's own address, the target's host and values the scan sent do not count", () => {
    const client = debugData(
      { debug: true, client_ip: '10.1.2.3', remote_addr: '192.168.0.9' },
      at('/api/debug'),
    );
    assert.equal(client.weak.has('address'), false);
    const self = debugData(
      { debug: true, self_url: 'http://127.0.0.1:8080/api/items/1', host: '127.0.0.1' },
      at('/api/items'),
    );
    assert.equal(self.weak.has('address'), false);
    const echoed = debugData({ debug: true, server: '10.9.9.9' }, at('/api/devices', ['10.9.9.9']));
    assert.equal(echoed.weak.has('address'), false);
    const probe = debugData({ source: 'postgresql://x/y' }, at('/api/imports', ['postgresql://x/y']));
    assert.deepEqual(probe.strong, []);
    // A list's items are the API's data (hosts of an inventory API).
    assert.equal(debugData({ servers: [{ ip: '10.0.0.1' }] }, at('/api/servers')).weak.size, 0);
  });

  test('a route about the deployment has no path parameter; an object route needs two callers alike', () => {
    assert.equal(deploymentRoute('/api/v1/debug/vars'), true);
    assert.equal(deploymentRoute('/api/internal/config'), true);
    assert.equal(deploymentRoute('/health'), true);
    assert.equal(deploymentRoute('/api/v1/routers/{router_id}/config'), false);
    assert.equal(deploymentRoute('/api/v1/databases/{db_id}'), false);
    assert.equal(deploymentRoute('/api/v1/regions'), false);
    const a = debugData(
      { debug: true, lan_ip: '192.168.1.1', uri: 'postgresql://a@10.0.0.1/x' },
      at('/r/{id}'),
    );
    const same = sharedDebug(
      a,
      debugData({ debug: true, lan_ip: '192.168.1.1', uri: 'postgresql://a@10.0.0.1/x' }, at('/r/{id}')),
    );
    assert.deepEqual(same.strong, ["/uri (a backing service's address)"]);
    assert.deepEqual([...same.weak.keys()].sort(), ['address', 'debug']);
    // Another customer's database at the same pointer, another LAN address: nothing shared.
    const other = sharedDebug(
      a,
      debugData({ debug: false, lan_ip: '192.168.0.1', uri: 'postgresql://b@10.0.0.2/y' }, at('/r/{id}')),
    );
    assert.deepEqual(other.strong, []);
    assert.equal(other.weak.size, 0);
  });
});

describe('error texts with internals in an answer read as data (a 2xx)', () => {
  const SQL = /SQLSTATE|SQL syntax/;
  const none = (_text: string) => false;
  const read = (text: string, json?: unknown, sent = none, documented = none) =>
    internalError({ text, json }, SQL, sent, documented);
  test('PHP errors and frames, Python, JavaScript, Java tracebacks, a database refusal naming its user', () => {
    for (const [text, what] of [
      [
        '<br />\n<b>Fatal error</b>:  Uncaught Error: x in /var/www/html/a.php:3\nStack trace:\n#0 {main}',
        /PHP error/,
      ],
      [
        '<b>Warning</b>:  mysqli::__construct(): x in <b>/var/www/html/db.php</b> on line <b>9</b><br />',
        /PHP error/,
      ],
      ['Traceback (most recent call last):\n  File "/app/main.py", line 12, in run\nKeyError: 1', /Python/],
      ['Error: boom\n    at load (/srv/app/lib/db.js:41:17)', /JavaScript/],
      ['java.lang.IllegalStateException: x\n\tat com.acme.Db.open(Db.java:88)', /Java/],
      ["mysqli_sql_exception: Access denied for user 'app'@'10.0.0.4' (using password: YES)", /user/],
    ] as const)
      assert.match(read(text)?.what ?? '', what, text);
  });
  test('a PHP error line is shown by its kind and place, never its message (it may hold a password)', () => {
    const text =
      '<b>Fatal error</b>:  Uncaught Exception: Failed connecting to db as root with pass Hunter-22 in /var/www/html/c.php:12';
    assert.equal(read(text)?.shown, 'Fatal error: ... in /var/www/html/c.php:12');
  });
  test('a JSON answer: its error members (a trace, a file and line), and a PHP warning printed before it', () => {
    const json = {
      error: 'could not connect',
      file: '/var/www/html/src/config.php',
      line: 14,
      trace: '#0 {main}',
    };
    assert.match(read(JSON.stringify(json), json)?.what ?? '', /source path and line/);
    const trace = { ok: false, debug: { trace: '#0 /var/www/html/index.php(31): connect()\n#1 {main}' } };
    assert.match(read(JSON.stringify(trace), trace)?.what ?? '', /PHP stack trace/);
    const after = { pong: true };
    const text = `<b>Deprecated</b>:  x() is deprecated in <b>/srv/a/lib.php</b> on line <b>3</b><br />\n${JSON.stringify(after)}`;
    assert.match(read(text, after)?.what ?? '', /PHP error/);
    // As PHP's mysqli throws it: the database's refusal naming its user is told first.
    const refused = {
      error: "Access denied for user 'report_reader'@'127.0.0.1' (using password: YES)",
      file: '/srv/www/index.php',
      line: 22,
      trace: '#0 /srv/www/index.php(22): mysqli->__construct()\n#1 {main}',
    };
    assert.equal(read(JSON.stringify(refused), refused)?.what, 'a database error naming its user');
    const sql = { error: 'SQLSTATE[42S22]: Column not found' };
    assert.equal(read(JSON.stringify(sql), sql)?.what, 'a database error');
  });
  test('controls: a stored post quoting a trace, a documentation page, an echo, a documented example', () => {
    const post = {
      id: 4,
      body: 'I get Traceback (most recent call last):\n  File "/app/x.py", line 2, in f',
    };
    assert.equal(read(JSON.stringify(post), post), undefined);
    const page =
      '<html><body><h1>Errors</h1><p>A traceback looks like:</p><pre>Traceback (most recent call last):\n  File "/app/x.py", line 2, in f</pre></body></html>';
    assert.equal(read(page), undefined);
    const md = '# Errors\n\n```\nError: x\n    at f (/srv/a.js:1:2)\n```\n';
    assert.equal(read(md), undefined);
    const echo = 'Warning: x in /tmp/a.php on line 1';
    assert.equal(
      read(echo, undefined, (t) => echo.includes(t)),
      undefined,
    );
    assert.equal(
      read(echo, undefined, none, (t) => echo.includes(t)),
      undefined,
    );
    // No absolute path, no line: a message, not internals.
    assert.equal(read('<p>Warning: your session expires soon</p>'), undefined);
    assert.equal(read("role 'auditor' does not exist"), undefined);
  });
});

describe('secrets in error texts', () => {
  test('environment-style secret settings, a connection string password, cloud and private keys', () => {
    const names = (t: string) => errorSecrets(t).map((f) => f.name);
    assert.deepEqual(names('loaded: NODE_ENV=production STRIPE_API_KEY=sk_live_abc123 LOG=info'), [
      'STRIPE_API_KEY',
    ]);
    assert.deepEqual(names('DB_PASSWORD: hunter22\nJWT_SECRET="s3cr3t-key"'), ['DB_PASSWORD', 'JWT_SECRET']);
    assert.deepEqual(names('Server=db;Database=app;User Id=sa;Password=Pa55w0rd!;'), [
      'the password of a connection string',
    ]);
    assert.deepEqual(names('key AKIAABCDEFGHIJKLMNOP'), ['an AWS access key']);
    // As code prints a config object, and a whole environment whatever its names.
    assert.deepEqual(names('config: { jwtSecret: \'k3y-9f2a\', db_password: "pg-pass-77", port: 5432 }'), [
      'jwtSecret',
      'db_password',
    ]);
    const env =
      'PATH=/usr/local/bin:/usr/bin HOME=/root HOSTNAME=api-7 NODE_ENV=production LANG=C.UTF-8 TZ=UTC PORT=3000 LOG=info';
    assert.deepEqual(names(env), ['the process environment (PATH, HOME...)']);
  });
  test('error codes, masked values and words of state are no secrets', () => {
    for (const t of [
      'PASSWORD_TOO_SHORT: pass must have 12 characters',
      'INVALID_TOKEN: expired',
      'DB_PASSWORD=*** JWT_SECRET=<redacted> API_KEY=${API_KEY} SECRET_KEY=unset',
      'password: must be at least 8 characters',
      'apiKey: invalid format; dbPassword: incorrect',
      'PATH=/usr/bin HOME=/root',
    ])
      assert.deepEqual(errorSecrets(t), [], t);
  });
  test('each string of a JSON answer is read on its own', () => {
    const res = { json: { error: 'boom', stack: 'Error\nDB_PASSWORD=pg-4411aa\n    at x' }, text: '' };
    assert.deepEqual(
      errorSecretsOf(res).map((f) => f.name),
      ['DB_PASSWORD'],
    );
  });
});

describe('debug and backup routes handing out records with secrets', () => {
  test('a route dumps or debugs by a literal segment', () => {
    for (const r of [
      '/debug',
      '/api/v2/debug/state',
      '/api/v1/internal/backup',
      '/admin/dump.json',
      '/_debug/users',
    ])
      assert.equal(debugRoute(r), true, r);
    for (const r of ['/users/{debug}', '/debugger-tips', '/internals', '/api/users'])
      assert.equal(debugRoute(r), false, r);
  });
  test("people's records with a password, a hash or a PIN; not a record without a person, nor a flag", () => {
    assert.deepEqual(
      recordSecrets({
        users: [
          { username: 'a', password_hash: '$2a$10$abc' },
          { username: 'b', password_hash: 'x' },
        ],
      }),
      ['/users/*/password_hash'],
    );
    assert.deepEqual(recordSecrets({ items: [{ sku: 'x', hash: 'f00d' }] }), []);
    assert.deepEqual(recordSecrets({ user: { email: 'a@b.c', password: true } }), []);
  });
});
