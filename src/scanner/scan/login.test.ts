import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScanResponse } from './client.ts';
import { findToken, loginOutcome, loginRequest, queryLogin, signedIn } from './login.ts';

function response(status: number, json: unknown, headers: Record<string, string> = {}): ScanResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    text: JSON.stringify(json),
    json,
    durationMs: 1,
    sent: { method: 'POST', url: 'http://127.0.0.1/login' },
  };
}

test('a token under a nested member is found without a pointer', () => {
  assert.equal(findToken({ data: { auth: { auth_token: 'abcdefgh123' } } }), 'abcdefgh123');
});

test('access_token wins over a refresh token and an id_token', () => {
  assert.equal(
    findToken({ refresh_token: 'r'.repeat(20), id_token: 'i'.repeat(20), access_token: 'a'.repeat(20) }),
    'a'.repeat(20),
  );
});

test('a JWT-shaped string under any name is taken when no member is named like a token', () => {
  assert.equal(findToken({ result: { value: 'eyJhbGciOi.eyJzdWIi.sig' } }), 'eyJhbGciOi.eyJzdWIi.sig');
});

test('a failed login answered 200 with an error message is not a login', () => {
  const flow = { path: '/login', body: { username: 'a', password: 'b' } };
  assert.equal(signedIn(flow, response(200, { status: 'fail', message: 'Password is not correct' })), false);
  assert.equal(signedIn(flow, response(200, { status: 'success', auth_token: 'tok-123456789' })), true);
});

test('an error status carrying a token-like member is not a login', () => {
  const flow = { path: '/login', body: {} };
  assert.equal(signedIn(flow, response(401, { token: 'not-a-real-token' })), false);
});

test('the token pointer, header and cookie places are read when given', () => {
  const body = { username: 'a', password: 'b' };
  const res = response(
    200,
    { d: { t: 'from-pointer' } },
    { 'x-auth-token': 'Bearer from-header', 'set-cookie': 'jwt=from-cookie; Path=/' },
  );
  assert.equal(loginOutcome({ path: '/l', body, tokenPointer: '/d/t' }, res).token, 'from-pointer');
  assert.equal(loginOutcome({ path: '/l', body, tokenHeader: 'X-Auth-Token' }, res).token, 'from-header');
  assert.equal(loginOutcome({ path: '/l', body, tokenCookie: 'jwt' }, res).token, 'from-cookie');
});

test('an OAuth2 password grant is posted form-encoded with grant_type=password', () => {
  const req = loginRequest({
    path: '/token',
    grantType: 'password',
    body: { username: 'al ice', password: 'p&w' },
  });
  assert.equal(req.headers?.['content-type'], 'application/x-www-form-urlencoded');
  const params = new URLSearchParams(String(req.body));
  assert.equal(params.get('grant_type'), 'password');
  assert.equal(params.get('username'), 'al ice');
  assert.equal(params.get('password'), 'p&w');
});

test('overrides replace login fields (for failed-login probes) and JSON stays the default', () => {
  const req = loginRequest({ path: '/l', body: { email: 'a@x', password: 'right' } }, { password: 'wrong' });
  assert.deepEqual(req.body, { email: 'a@x', password: 'wrong' });
  assert.equal(req.headers, undefined);
});

test('a login path with a query string and an empty body is a query-string login', () => {
  const flow = queryLogin({ path: '/api/auth/login?username=alice&password=pw-a', body: {} });
  assert.deepEqual(flow, {
    path: '/api/auth/login',
    body: { username: 'alice', password: 'pw-a' },
    encoding: 'query',
  });
  // Its requests carry the fields, overridden for failed-login probes, in the query and send no body.
  assert.deepEqual(loginRequest(flow, { password: 'wrong' }), {
    method: 'POST',
    path: '/api/auth/login?username=alice&password=wrong',
  });
  // A body, an explicit encoding or a grant type keeps the path as given.
  const withBody = { path: '/login?tenant=1', body: { username: 'a' } };
  assert.equal(queryLogin(withBody), withBody);
  const form = { path: '/login?tenant=1', body: {}, encoding: 'form' as const };
  assert.equal(queryLogin(form), form);
});

test('an answer that says it signed the caller in counts without a credential', () => {
  const flow = { path: '/api/login', body: { username: 'a', password: 'b' } };
  assert.equal(signedIn(flow, response(200, { success: true, user: { id: 3, username: 'a' } })), true);
  assert.equal(signedIn(flow, response(200, { status: 'ok' })), true);
  assert.equal(signedIn(flow, response(200, { message: 'Logged in successfully' })), true);
  assert.equal(signedIn(flow, response(200, { user: { username: 'a', email: 'a@x.test' } })), true);
  assert.equal(signedIn(flow, response(200, { id: 7, username: 'a', email: 'a@x.test' })), true);
  const text = (body: string) => ({ ...response(200, undefined), text: body, json: undefined });
  assert.equal(signedIn(flow, text('Login successful. Welcome back, a!')), true);
  assert.equal(signedIn(flow, text('Login failed: wrong password')), false);
  assert.equal(signedIn(flow, text('Please log in')), false);
  assert.equal(signedIn(flow, text('<form action="/login"><input name="user"> Log in</form>')), false);
});

test('an answer that refuses, or says nothing of a sign-in, is no login', () => {
  const flow = { path: '/api/login', body: { username: 'a', password: 'b' } };
  assert.equal(signedIn(flow, response(200, { success: false, user: null })), false);
  assert.equal(signedIn(flow, response(200, { message: 'Invalid login' })), false);
  assert.equal(signedIn(flow, response(200, { success: true, error: 'wrong password' })), false);
  assert.equal(signedIn(flow, response(200, { status: 'failed' })), false);
  assert.equal(signedIn(flow, response(401, { success: true, user: { id: 1 } })), false);
  assert.equal(signedIn(flow, response(200, { items: [], total: 0 })), false);
});

test('a redirect back to the login itself is a failed login, whatever cookie it sets', () => {
  const flow = { path: '/login.php', body: { username: 'a', password: 'b' }, encoding: 'form' as const };
  const redirect = (location: string) =>
    response(302, undefined, { location, 'set-cookie': 'PHPSESSID=0123456789abcdef; path=/' });
  assert.equal(signedIn(flow, redirect('login.php?error=wrong+password')), false);
  assert.equal(signedIn(flow, redirect('/login.php')), false);
  assert.equal(signedIn(flow, redirect('account.php')), true);
});

test('an HTML page that still asks for a password is a failed login, whatever cookie it sets', () => {
  const flow = { path: '/login.php', body: { username: 'a', password: 'b' }, encoding: 'form' as const };
  const page = (html: string) => ({
    ...response(200, undefined, { 'content-type': 'text/html', 'set-cookie': 'PHPSESSID=0123456789abcdef' }),
    text: html,
    json: undefined,
  });
  assert.equal(signedIn(flow, page('<p>Wrong password</p><input type="password" name="password">')), false);
  assert.equal(signedIn(flow, page("<p>Wrong</p><INPUT name=pw TYPE='password'>")), false);
  assert.equal(signedIn(flow, page('<h1>Your account</h1>')), true);
});
