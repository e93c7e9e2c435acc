import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiDocument, Operation } from '../../core/api-document.ts';
import type { Check } from './check.ts';
import type { ScanResponse } from './client.ts';
import type { Observation } from './context.ts';
import { buildCoverage, withReproduction } from './coverage.ts';
import { SCAN_RULES } from './rules.ts';

function op(method: string, path: string): Operation {
  return {
    id: `${method} ${path}`,
    hasDeclaredId: false,
    method: method as Operation['method'],
    path,
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

const list = op('GET', '/things');
const item = op('GET', '/things/{id}');
const spec = { operations: [list, item] } as unknown as ApiDocument;
const check = (id: string, rules: Check['rules']): Check => ({ id, title: id, rules, run: async () => {} });

function seen(operation: Operation, checkId: string): Observation {
  const response: ScanResponse = {
    status: 200,
    headers: {},
    text: '',
    json: undefined,
    durationMs: 1,
    sent: {
      method: operation.method,
      url: `http://h${operation.path}`,
      headers: { authorization: 'Bearer x' },
      credentials: ['authorization'],
    },
  };
  return { request: { method: operation.method, path: operation.path }, response, operation, check: checkId };
}

const base = {
  spec,
  findings: [],
  timedOut: [],
  errors: [],
  objectsCreated: 1,
  identities: [{ name: 'a', token: 't' }, { name: 'b' }],
  admin: { name: 'root' },
};

test('an operation is tested only by the checks that sent it something, and skipped by the others with a reason', () => {
  const r = buildCoverage({
    ...base,
    checks: [check('API7', [SCAN_RULES.ssrf]), check('API9', [SCAN_RULES.undocumentedEndpoint])],
    observations: [seen(list, 'API9')],
    notes: [{ check: 'API7', operation: item, reason: 'no URL input' }],
  });
  const cell = (c: string, o: string) => r.coverage.matrix.find((m) => m.check === c && m.operation === o);
  assert.equal(cell('API9', 'GET /things')?.status, 'tested');
  assert.equal(cell('API9', 'GET /things/{id}')?.status, 'skipped');
  assert.equal(cell('API7', 'GET /things/{id}')?.reason, 'no URL input');
});

test('a rule passes only when its check sent something, and the summary says loudly when it did not', () => {
  const r = buildCoverage({
    ...base,
    checks: [check('API7', [SCAN_RULES.ssrf]), check('API9', [SCAN_RULES.undocumentedEndpoint])],
    observations: [seen(list, 'API9')],
    notes: [],
  });
  assert.deepEqual(
    r.rules.map((x) => x.id),
    [SCAN_RULES.undocumentedEndpoint.id],
  );
  assert.ok(r.warnings.includes('API7 sent no request: it tested nothing'));
  assert.equal(r.coverage.checks.find((c) => c.check === 'API7')?.untestedRules[0]?.rule, SCAN_RULES.ssrf.id);
});

test('a rule noted as untested is not listed as passing even though its check sent requests', () => {
  const r = buildCoverage({
    ...base,
    checks: [check('API2', [SCAN_RULES.noCredentials, SCAN_RULES.weakHmacSecret])],
    observations: [seen(list, 'API2')],
    notes: [{ check: 'API2', rule: SCAN_RULES.weakHmacSecret, reason: 'no HMAC-signed JWT was captured' }],
  });
  assert.deepEqual(
    r.rules.map((x) => x.id),
    [SCAN_RULES.noCredentials.id],
  );
  assert.ok(r.warnings.some((w) => w.includes('no HMAC-signed JWT')));
});

test('setup that created no object is the first warning', () => {
  const post = op('POST', '/things');
  const r = buildCoverage({
    ...base,
    spec: { operations: [list, post] } as unknown as ApiDocument,
    objectsCreated: 0,
    checks: [],
    observations: [],
    notes: [],
  });
  assert.match(r.warnings[0], /^SETUP CREATED NO OBJECT/);
});

test('a finding without a request of its own gets the curl line of its check’s last request to the operation', () => {
  const input = withReproduction({ operation: list, message: 'm' }, [seen(list, 'API2')], 'API2');
  assert.equal(input.evidence?.curl, `curl 'http://h/things' -H 'Authorization: Bearer '"$TOKEN"`);
});

/** An observation of `operation` sent to `url` as given, with its own headers and answer. */
function sentAs(
  operation: Operation,
  checkId: string,
  url: string,
  status: number,
  headers: Record<string, string>,
  credentials: string[],
  body?: string,
): Observation {
  const o = seen(operation, checkId);
  const sent = {
    method: operation.method,
    url,
    headers,
    credentials,
    ...(body === undefined ? {} : { body }),
  };
  return { ...o, response: { ...o.response, status, sent } };
}

const login = op('POST', '/login');

test("a finding naming the request it saw gets that request's curl line, not the last one to the operation", () => {
  const observations = [
    sentAs(item, 'API3', 'http://h/things/1', 200, { authorization: 'Bearer t-1' }, ['authorization']),
    sentAs(item, 'API2', 'http://h/things/1?auth_token=t-1', 200, {}, []),
    sentAs(list, 'API1', "http://h/things?q='%20OR%20'1'%3D'1", 200, { cookie: 'sid=s-1' }, ['cookie']),
    sentAs(list, 'API1', 'http://h/things?q=benign', 200, { cookie: 'sid=s-1' }, ['cookie']),
    sentAs(login, 'API2', 'http://h/login', 200, {}, [], '{"user":"admin\' --"}'),
    sentAs(login, 'API2', 'http://h/login', 401, {}, [], '{"user":"pc-nobody"}'),
  ];
  const curl = (request: string, status: number) =>
    withReproduction(
      { operation: item, message: 'm', evidence: { request, status } },
      observations,
      'passive',
    ).evidence?.curl;
  assert.equal(
    curl('GET http://h/things/1', 200),
    `curl 'http://h/things/1' -H 'Authorization: Bearer '"$TOKEN"`,
  );
  assert.equal(
    curl("GET http://h/things?q='%20OR%20'1'%3D'1", 200),
    `curl 'http://h/things?q=%27%20OR%20%271%27%3D%271' -H 'Cookie: '"$COOKIE"`,
  );
  assert.equal(
    curl('POST http://h/login', 200),
    `curl -X POST 'http://h/login' --data-raw '{"user":"admin'\\'' --"}'`,
  );
  assert.equal(curl('GET http://h/nowhere', 200), undefined);
});

test('a named request sent two ways with the same answer gets no curl line rather than a wrong one', () => {
  const observations = [
    sentAs(list, 'API1', 'http://h/things', 200, {}, []),
    sentAs(list, 'API1', 'http://h/things', 200, { cookie: 'sid=s-1' }, ['cookie']),
  ];
  const input = withReproduction(
    { operation: list, message: 'm', evidence: { request: 'GET http://h/things', status: 200 } },
    observations,
    'passive',
  );
  assert.equal(input.evidence?.curl, undefined);
});

function answered(operation: Operation, checkId: string, status: number): Observation {
  const o = seen(operation, checkId);
  return { ...o, response: { ...o.response, status } };
}

test('an operation is tested only when a request of the check reached it (not only 404/405, not passively)', () => {
  const passive: Check = { ...check('API3', [SCAN_RULES.sensitiveData]), passive: () => {} };
  const r = buildCoverage({
    ...base,
    checks: [check('API1', [SCAN_RULES.bolaRead]), passive],
    observations: [answered(item, 'API1', 404), answered(item, 'API1', 405), answered(list, 'API1', 200)],
    notes: [],
  });
  const cell = (c: string, o: string) => r.coverage.matrix.find((m) => m.check === c && m.operation === o);
  assert.equal(cell('API1', 'GET /things')?.status, 'tested');
  assert.deepEqual(cell('API1', 'GET /things/{id}'), {
    check: 'API1',
    operation: 'GET /things/{id}',
    status: 'skipped',
    requests: 2,
    reason: 'its 2 requests were all answered 404/405: the route was not reached with a value it knows',
  });
  assert.equal(cell('API3', 'GET /things')?.status, 'skipped');
  assert.match(
    cell('API3', 'GET /things')?.reason ?? '',
    /no request of its own; its passive rules read 1 answer/,
  );
  assert.equal(r.coverage.checks.find((c) => c.check === 'API3')?.tested, 0);
});

test('answers 429 are a loud warning with their count, phases and first operation, and in the coverage', () => {
  const r = buildCoverage({
    ...base,
    checks: [check('API1', [SCAN_RULES.bolaRead])],
    observations: [
      answered(list, 'API1', 200),
      answered(item, 'setup', 429),
      answered(list, 'API1', 429),
      answered(item, 'API1', 429),
    ],
    notes: [],
    outages: { times: 1, refusedRequests: 2, phases: ['API1'], downAtEnd: false },
  });
  assert.deepEqual(r.coverage.rateLimited, {
    answers: 3,
    phases: [
      { phase: 'discovery', answers: 1 },
      { phase: 'API1', answers: 2 },
    ],
    firstOperation: 'GET /things/{id}',
    firstPhase: 'discovery',
  });
  // The outage stays first; the 429s come right after it.
  assert.match(r.warnings[0], /^THE TARGET STOPPED ANSWERING/);
  assert.equal(
    r.warnings[1],
    'THE API RATE-LIMITED THE SCAN: 3 answers 429 Too Many Requests (discovery 1, API1 2; first: GET /things/{id} in discovery): the checks that met them may have tested nothing there',
  );
  const quiet = buildCoverage({ ...base, checks: [], observations: [seen(list, 'API1')], notes: [] });
  assert.equal(quiet.coverage.rateLimited, undefined);
  assert.ok(!quiet.warnings.some((w) => w.includes('429')));
});

test('every note reaches the coverage: a tested cell’s and a finding’s notes, and what fits no cell', () => {
  const login = op('POST', '/login');
  const ghost = op('GET', '/v0/things');
  const firstUse =
    'POST /login signed a user name nobody has in once, but refused another password for it: a login that creates the account on first use';
  const finding = {
    rule: SCAN_RULES.ssrf,
    severity: 'high',
    message: 'x',
    location: { file: 's', pointer: '' },
    operation: { method: 'GET', path: '/things/{id}' },
    fingerprint: 'f',
  } as const;
  const r = buildCoverage({
    ...base,
    spec: { operations: [list, item, login] } as unknown as ApiDocument,
    findings: [finding],
    checks: [
      check('API2', [SCAN_RULES.anyCredentialsAccepted]),
      check('API7', [SCAN_RULES.ssrf]),
      check('API9', [SCAN_RULES.undocumentedEndpoint]),
    ],
    observations: [seen(login, 'API2'), seen(item, 'API7'), seen(list, 'API9')],
    notes: [
      { check: 'setup', operation: item, reason: 'id=1 confirmed' },
      { check: 'API2', rule: SCAN_RULES.anyCredentialsAccepted, operation: login, reason: firstUse },
      { check: 'API2', operation: login, reason: firstUse },
      { check: 'API7', operation: item, reason: 'not sent: its path acts on 1' },
      { check: 'API7', rule: SCAN_RULES.ssrf, reason: 'no callback reached the canary for GET /things' },
      { check: 'API9', operation: item, reason: 'no older version' },
      { check: 'API9', operation: ghost, reason: 'an older route answered 404' },
      { check: 'cleanup', operation: login, reason: 'deleted pc1 there' },
      { check: 'API9', reason: 'the scan-level note the runner lists' },
    ],
  });
  const cell = (c: string, o: string) => r.coverage.matrix.find((m) => m.check === c && m.operation === o);
  // The login that creates the account on first use: a tested cell, and its note (said once) with it.
  assert.equal(cell('API2', 'POST /login')?.status, 'tested');
  assert.deepEqual(cell('API2', 'POST /login')?.notes, [firstUse]);
  assert.equal(cell('API7', 'GET /things/{id}')?.status, 'finding');
  assert.deepEqual(cell('API7', 'GET /things/{id}')?.notes, ['not sent: its path acts on 1']);
  assert.equal(cell('API7', 'GET /things/{id}')?.ids, 'id=1 confirmed');
  // A skipped cell's reason is the note: not said twice.
  assert.equal(cell('API9', 'GET /things/{id}')?.reason, 'no older version');
  assert.equal(cell('API9', 'GET /things/{id}')?.notes, undefined);
  assert.equal(cell('API9', 'GET /things')?.notes, undefined);
  assert.deepEqual(r.coverage.notes, [
    { check: 'API7', rule: 'scan/api7-ssrf', reason: 'no callback reached the canary for GET /things' },
    { check: 'API9', operation: 'GET /v0/things', reason: 'an older route answered 404' },
    { check: 'cleanup', operation: 'POST /login', reason: 'deleted pc1 there' },
  ]);
});

test('a rule of a check that sent nothing is untested for the reason its check noted', () => {
  const r = buildCoverage({
    ...base,
    checks: [check('API2', [SCAN_RULES.secretInToken])],
    observations: [],
    notes: [{ check: 'API2', rule: SCAN_RULES.secretInToken, reason: 'no identity holds a token' }],
  });
  assert.deepEqual(r.coverage.checks[0]?.untestedRules, [
    { rule: SCAN_RULES.secretInToken.id, reason: 'no identity holds a token' },
  ]);
  assert.equal(r.coverage.notes, undefined);
});

test("an active check's named request is its own, when other checks sent the same one differently", () => {
  const observations = [
    sentAs(list, 'API4', 'http://h/things', 200, { authorization: 'Bearer t-1' }, ['authorization']),
    sentAs(list, 'API1', 'http://h/things', 200, {}, []),
  ];
  const input = withReproduction(
    { operation: list, message: 'm', evidence: { request: 'GET http://h/things' } },
    observations,
    'API4',
  );
  assert.equal(input.evidence?.curl, `curl 'http://h/things' -H 'Authorization: Bearer '"$TOKEN"`);
});
