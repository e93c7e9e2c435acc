import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpMethod, Operation } from '../../../core/api-document.ts';
import type { ScanContext } from '../context.ts';
import {
  codecOf,
  credentialSlots,
  fragmentKind,
  listedChoices,
  madeUpLike,
  readsOnly,
  SQL_ERROR,
  undocumentedLogin,
} from './injection.ts';

function operation(method: HttpMethod, path: string, summary?: string): Operation {
  return {
    id: `${method} ${path}`,
    hasDeclaredId: false,
    method,
    path,
    ...(summary ? { summary } : {}),
    tags: [],
    deprecated: false,
    parameters: [],
    requestBody: undefined,
    responses: {},
    security: undefined,
    extensions: {},
    pointer: '',
  };
}

test('only reads get conditions that hold: GETs that do not act, POST searches; anything unsure is a write', () => {
  for (const [method, path, summary] of [
    ['GET', '/orders', undefined],
    ['GET', '/report.cgi', undefined],
    ['POST', '/orders/search', undefined],
    ['POST', '/api/_search', undefined],
    ['POST', '/stock/query', undefined],
    ['POST', '/catalogue/items', 'Search the catalogue'],
  ] as const)
    assert.equal(readsOnly(operation(method, path, summary)), true, `${method} ${path}`);
  for (const [method, path, summary] of [
    ['POST', '/orders/bulk-cancel', undefined],
    ['POST', '/admin/users/deactivate', undefined],
    ['POST', '/stock/select', undefined],
    ['POST', '/orders/search', 'Finds the matching orders and cancels them'],
    ['POST', '/orders/search/{id}', undefined],
    ['PUT', '/orders/search', undefined],
    ['PATCH', '/users/query', undefined],
    ['GET', '/reservations/{id}/cancel', undefined],
    ['POST', '/users', 'Search for a user name and create it'],
  ] as const)
    assert.equal(readsOnly(operation(method, path, summary)), false, `${method} ${path}`);
});

test('SQL fragment inputs are told by name or by description, conditions apart from orderings', () => {
  for (const name of [
    'where',
    'sql_where',
    'where_clause',
    'filter',
    'q',
    'query',
    'criteria',
    'body.filter',
  ])
    assert.equal(fragmentKind(name, ''), 'condition', name);
  for (const name of ['order', 'order_by', 'orderBy', 'sort', 'sort_by', 'ordering', 'group_by'])
    assert.equal(fragmentKind(name, ''), 'order', name);
  assert.equal(fragmentKind('scope', 'A SQL condition on the stock table'), 'condition');
  assert.equal(fragmentKind('expr', 'appended to the WHERE clause'), 'condition');
  assert.equal(fragmentKind('rank', 'the column to sort by'), 'order');
  // An ordering's direction: by its name, or an ordering input whose value is asc or desc.
  for (const name of [
    'dir',
    'direction',
    'sort_dir',
    'sortDirection',
    'order_dir',
    'sort_order',
    'sortOrder',
  ])
    assert.equal(fragmentKind(name, ''), 'direction', name);
  assert.equal(fragmentKind('order', '', 'desc'), 'direction');
  assert.equal(fragmentKind('order', '', 'created_at'), 'order');
  // The members of an ordering object: the column and the direction.
  for (const name of ['sort.field', 'orderBy.column', 'ordering.key', 'criteria.sort.by'])
    assert.equal(fragmentKind(name, ''), 'order', name);
  for (const name of ['sort.direction', 'orderBy.dir', 'sort.order'])
    assert.equal(fragmentKind(name, ''), 'direction', name);
  assert.equal(fragmentKind('user.name', ''), undefined);
  // A column a lookup compares.
  for (const name of ['column', 'search_by', 'searchField', 'filter_by', 'lookup_field'])
    assert.equal(fragmentKind(name, ''), 'column', name);
  // Ordinary words in prose and ordinary names are no fragment.
  for (const [name, prose] of [
    ['name', 'where the user lives'],
    ['title', ''],
    ['nowhere', ''],
    ['email', 'a filter for spam is applied'],
  ])
    assert.equal(fragmentKind(name, prose), undefined, name);
});

test('base64 values are told by what they decode to: text of a value, or JSON with an id member', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const n = codecOf('MTI=');
  assert.equal(n?.name, 'base64');
  assert.equal(n?.decoded, '12');
  assert.equal(n?.encode("12'"), b64("12'"));
  const j = codecOf(b64('{"id":12,"kind":"parcel"}'));
  assert.equal(j?.name, 'base64 JSON');
  assert.equal(j?.decoded, '12');
  assert.deepEqual(JSON.parse(Buffer.from(j!.encode("12'"), 'base64').toString()), {
    id: "12'",
    kind: 'parcel',
  });
  const u = codecOf(Buffer.from('user:ab?c>').toString('base64url'));
  assert.equal(u, undefined, 'a ? or > is no value text');
  assert.equal(
    codecOf(Buffer.from('acct-7781').toString('base64url').replace(/=+$/, ''))?.decoded,
    'acct-7781',
  );
  // Ordinary values that are valid base64 but decode to bytes that are not text, or not canonically.
  for (const plain of [
    'name',
    'test',
    '1234',
    '12345678',
    'alice',
    '5f1d7a2b3c4d5e6f7a8b9c0d',
    'pc-nobody-1a2b3c4d',
  ])
    assert.equal(codecOf(plain), undefined, plain);
  assert.equal(codecOf('8a6e0804-2bd0-4672-b79d-d97027f9071a'), undefined);
  // Four characters that decode to three letters are too often a chance (one random value in a hundred): only a
  // number counts that short.
  assert.equal(codecOf('VkhB'), undefined, 'VHA');
  assert.equal(codecOf('MTIz')?.decoded, '123');
});

test('made-up values keep the shape of the values the API gave out', () => {
  assert.equal(madeUpLike('42', false), '987654321');
  assert.equal(madeUpLike(undefined, true), '987654321');
  assert.match(madeUpLike(undefined, false), /^pcd[0-9a-f]{8}$/);
  assert.match(madeUpLike('ord_x81', false), /^pcd[0-9a-f]{8}$/);
  assert.equal(madeUpLike('MTI=', false), Buffer.from('987654321').toString('base64'));
});

test('a login listed without a body takes the fields and encoding of the identities’ own login', () => {
  const op = operation('POST', '/session');
  const flow = (path: string, body: Record<string, string>, encoding?: 'form') => ({
    name: 'alice',
    login: { path, body, flow: { path, body, ...(encoding ? { encoding } : {}) } },
  });
  const ctx = (identities: unknown[]) =>
    ({
      spec: { operations: [op] },
      identities,
      objects: { learnedBody: () => undefined },
    }) as unknown as ScanContext;
  assert.deepEqual(undocumentedLogin(ctx([flow('/session', { handle: 'alice', secret: 's' }, 'form')]), op), {
    fields: ['handle', 'secret'],
    encoding: 'form',
  });
  // No identity signs in there: a path that says login gets the usual names, as JSON.
  const login = operation('POST', '/api/login');
  assert.deepEqual(undocumentedLogin(ctx([]), login), { fields: ['username', 'password'], encoding: 'json' });
  // Not a login: no body guessed.
  assert.equal(undocumentedLogin(ctx([]), operation('POST', '/api/register')), undefined);
  assert.equal(undocumentedLogin(ctx([]), operation('POST', '/api/notes')), undefined);
  assert.equal(undocumentedLogin(ctx([]), operation('GET', '/api/login')), undefined);
});

test('the credentials of an identity: a token after its scheme, key and token headers, session and token cookies, a Basic user name', () => {
  const as = (headers: Record<string, string>) =>
    ({ name: 'a', session: { name: 'a', headers, cookies: new Map() } }) as Parameters<
      typeof credentialSlots
    >[0];
  assert.deepEqual(credentialSlots(as({ authorization: 'Bearer abc' })), [
    { header: 'authorization', scheme: 'Bearer' },
  ]);
  assert.deepEqual(credentialSlots(as({ authorization: 'Token abc' })), [
    { header: 'authorization', scheme: 'Token' },
  ]);
  assert.deepEqual(credentialSlots(as({ authorization: 'abc123' })), [
    { header: 'authorization', scheme: '' },
  ]);
  assert.deepEqual(credentialSlots(as({ authorization: 'Basic YTpi' })), [
    { header: 'authorization', scheme: 'Basic', basic: true },
  ]);
  const jar = {
    name: 'a',
    session: {
      name: 'a',
      headers: {},
      cookies: new Map([
        ['sid', 'x1'],
        ['theme', 'dark'],
        ['auth_token', 't'],
      ]),
    },
  } as Parameters<typeof credentialSlots>[0];
  assert.deepEqual(credentialSlots(jar), [
    { header: 'cookie', scheme: '', cookie: 'sid' },
    { header: 'cookie', scheme: '', cookie: 'auth_token' },
  ]);
  assert.deepEqual(credentialSlots(as({ 'x-api-key': 'k1', 'x-tenant': 'acme', cookie: 'sid=1' })), [
    { header: 'x-api-key', scheme: '' },
  ]);
});

test('database errors and their traces: drivers, ORMs, PHP warnings about a failed query; no ordinary page', () => {
  for (const text of [
    '<b>Warning</b>:  mysqli_fetch_assoc() expects parameter 1 to be mysqli_result, bool given in <b>/x.php</b>',
    'Fatal error: Uncaught TypeError: mysqli_num_rows(): Argument #1 ($result) must be of type mysqli_result',
    'Warning: mysql_fetch_array(): supplied argument is not a valid MySQL result resource',
    'QueryFailedError: SQLITE_ERROR: unrecognized token',
    'SequelizeDatabaseError: near "x": syntax error',
    "Incorrect syntax near 'x'.",
    'android.database.sqlite.SQLiteException: unrecognized token',
    'SQLite3::query(): Unable to prepare statement: 1, no such column',
  ])
    assert.equal(SQL_ERROR.test(text), true, text);
  for (const text of [
    'Login failed',
    '{"error": "invalid credentials"}',
    'sh: 1: Syntax error: Unterminated quoted string',
  ])
    assert.equal(SQL_ERROR.test(text), false, text);
});

test('madeUpLike: a made-up uuid for a uuid value or a uuid input', () => {
  assert.match(madeUpLike('3f2b8c1e-9a4d-4c2b-8e1f-0a1b2c3d4e5f', false), /^[0-9a-f]{8}-[0-9a-f]{4}-/);
  assert.match(madeUpLike(undefined, false, { type: 'string', format: 'uuid' }), /^[0-9a-f]{8}-[0-9a-f]{4}-/);
  assert.match(madeUpLike('ord_x81', false, { type: 'string' }), /^pcd[0-9a-f]{8}$/);
});

test('listedChoices: the values an answer lists for a kind of input that runs something, never a privilege', () => {
  const seen = (json: unknown) => ({ response: { json } });
  const choices = listedChoices([
    seen({ allowed_actions: ['uptime', 'date'], version: '2' }),
    seen({ data: { availableCommands: [{ name: 'ping', summary: 'pings' }, { name: 'trace' }] } }),
    seen({ supported_utilities: ['du', 'df'], tool_options: ['a', 'b b'] }),
    // A role or a plan is no input to run: not taken; nor is free text, nor a privileged value.
    seen({ allowed_roles: ['admin', 'user'], availablePlans: ['free'], validModes: ['admin', 'safe'] }),
    seen([{ allowedTasks: ['long text that is a sentence, not a value'] }]),
  ]);
  assert.deepEqual(Object.fromEntries(choices), {
    action: ['uptime', 'date'],
    command: ['ping', 'trace'],
    utility: ['du', 'df'],
    mode: ['safe'],
  });
  // A refusal's message that lists them; a sentence that only mentions the word lists nothing.
  const prose = listedChoices([
    seen({ error: 'unknown task; allowed tasks: df, free' }),
    seen({ detail: "Valid formats are 'csv' | 'tsv' or 'json'" }),
    seen({ message: 'supported tools: none of these work today because the network is down' }),
  ]);
  assert.deepEqual(Object.fromEntries(prose), { task: ['df', 'free'], format: ['csv', 'tsv', 'json'] });
});
